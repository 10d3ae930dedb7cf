"""What the command lines share: a text progress bar on stderr, argument checks for argparse, and
SIGTERM turned into an exception so that clean-up runs (no half-written file is left behind)."""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import threading

from .progress import Progress

__all__ = ["ProgressBar", "Terminated", "nonnegative_float", "odd_int", "positive_float", "terminate_cleanly"]


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


class ProgressBar:
    """A one-line text progress bar on stderr (silent when ``quiet``)."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.quiet = quiet
        self.tty = sys.stderr.isatty()

    def __call__(self, report: Progress) -> None:
        if self.quiet:
            return
        width = 24
        filled = round(report.fraction * width)
        loss = f" loss {report.loss:.4g}" if report.loss is not None else ""
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {report.message}{loss}"
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
