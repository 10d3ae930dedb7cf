"""What the command lines share: a text progress bar on stderr, argument checks for argparse, and
SIGTERM turned into an exception so that clean-up runs (no half-written file is left behind)."""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import threading
import time

from .progress import Progress, time_left

__all__ = [
    "ProgressBar",
    "Terminated",
    "nonnegative_float",
    "odd_int",
    "pixel_size",
    "positive_float",
    "signals_deferred",
    "terminate_cleanly",
]


class Terminated(BaseException):
    """SIGTERM arrived; raised where the program is, so ``finally`` blocks and clean-up run."""


@contextlib.contextmanager
def terminate_cleanly():
    """Within the block (main thread only), SIGTERM raises :class:`Terminated`; the previous handler
    comes back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Deferred:
    """The interruption (SIGINT or SIGTERM) that arrived inside :func:`signals_deferred`, if any."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def raise_if_any(self) -> None:
        """Raise the interruption that arrived, now (KeyboardInterrupt or :class:`Terminated`)."""
        signum, self.signum = self.signum, None
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        if signum is not None:
            raise Terminated()


@contextlib.contextmanager
def signals_deferred():
    """Within the block (main thread only), Ctrl-C and SIGTERM are held back: the file writers run to
    their end instead of being stopped inside a library. ``raise_if_any()`` on the object yielded raises
    a held interruption where the caller can still undo; one still held is raised when the block ends."""
    deferred = _Deferred()
    if threading.current_thread() is not threading.main_thread():
        yield deferred
        return

    def hold(signum, frame):
        deferred.signum = deferred.signum or signum

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield deferred
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    deferred.raise_if_any()


class ProgressBar:
    """A one-line text progress bar on stderr (silent when ``quiet``)."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()

    def __call__(self, report: Progress) -> None:
        if self.quiet:
            return
        width = 24
        filled = round(report.fraction * width)
        loss = f" loss {report.loss:.4g}" if report.loss is not None else ""
        left = time_left(report.fraction, time.monotonic() - self.started)
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {report.message}{loss}{left}"
        if self.tty:
            sys.stderr.write("\r" + line[:120].ljust(120))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return value


def pixel_size(text: str) -> float:
    """A pixel size in nm that a scan can have (1 pm to 1 mm)."""
    from .tip.shapes import pixel_size_problem

    value = positive_float(text)
    problem = pixel_size_problem(value, value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def nonnegative_float(text: str) -> float:
    value = positive_float(text) if text.strip() not in ("0", "0.0") else 0.0
    return value


def odd_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 3 or value % 2 == 0:
        raise argparse.ArgumentTypeError(f"{value} must be odd and >= 3")
    return value
