"""Typed progress reports shared by the CLI, the napari workers and the tests.

Long computations are generators that ``yield Progress(...)`` and ``return`` their result, so a caller
can show progress, and a GUI can cancel between two yields without any Qt object entering the core.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One progress report: ``step`` of ``total`` done, what is being done, and a loss if any."""

    step: int
    total: int
    message: str = ""
    loss: float | None = None

    @property
    def fraction(self) -> float:
        """Fraction done in [0, 1] (0 when the total is unknown)."""
        return min(max(self.step / self.total, 0.0), 1.0) if self.total > 0 else 0.0


ProgressGenerator = Generator[Progress, None, T]


def time_left(fraction: float, elapsed_s: float) -> str:
    """ ", about N s left" once the work has run two seconds and is measurably under way, else ""
    (the one estimate the CLI's bar and the napari panels show)."""
    if elapsed_s < 2.0 or not 0.02 < fraction < 1.0:
        return ""
    return f", about {elapsed_s * (1 - fraction) / fraction:.0f} s left"


def run_to_completion(gen: Generator[Progress, None, T], callback: Callable[[Progress], None] | None = None) -> T:
    """Exhaust a progress generator, pass each report to ``callback``, and return its result."""
    while True:
        try:
            report = next(gen)
        except StopIteration as stop:
            return stop.value
        if callback is not None:
            callback(report)
