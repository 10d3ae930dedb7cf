"""What a reconstruction will ask of the machine's memory, estimated before it starts, so that a scan
too large for this machine is refused at once — naming its size and the memory it would need —
instead of running for minutes and then being killed.

The estimates are peak resident memory measured on whole ``se3afm reconstruct`` runs on the CPU
(docs/benchmarks.md, *Speed*): a fixed part (Python, torch, the model) and a part per pixel.
"""

from __future__ import annotations

import os

from .errors import ParameterError

__all__ = ["MemoryBudgetError", "available_bytes", "check_memory", "needed_bytes"]

#: bytes: (fixed, per pixel) of each method's peak memory, and per pixel per Monte-Carlo sample kept;
#: measured 1.42 GB at 512² and 1.79 GB at 1024² for the model, rounded up per pixel to stay on the
#: safe side; 0.40 and 0.66 GB for BTR; 0.67 GB at 1024² for dBTR; a tip given: BTR's erosion alone
FOOTPRINT = {
    "model": (1.3e9, 600.0),
    "btr": (0.3e9, 120.0),
    "btr-full": (0.3e9, 120.0),
    "dbtr": (0.3e9, 350.0),
    "known-tip": (0.3e9, 120.0),
}
PER_SAMPLE = 8.0
#: the share of the available memory a reconstruction may plan to take
HEADROOM = 0.9


class MemoryBudgetError(ParameterError):
    """The scan would need more memory than this machine has available."""


def available_bytes() -> int | None:
    """Memory this machine can give a new task now (Linux ``MemAvailable``), else free physical
    memory, else None where neither can be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def needed_bytes(shape: tuple[int, int], method: str, mc_samples: int = 0) -> float:
    """Estimated peak memory (bytes) of reconstructing an image of ``shape`` with ``method``."""
    fixed, per_pixel = FOOTPRINT[method]
    pixels = float(shape[0]) * float(shape[1])
    return fixed + pixels * (per_pixel + (PER_SAMPLE * mc_samples if method == "model" else 0.0))


def check_memory(shape: tuple[int, int], method: str, mc_samples: int = 0, available: int | None = None) -> None:
    """Raise :class:`MemoryBudgetError` when ``shape`` would need more than :data:`HEADROOM` of the
    available memory, saying how much it needs and what would fit."""
    available = available_bytes() if available is None else available
    if available is None:
        return
    need = needed_bytes(shape, method, mc_samples)
    if need <= HEADROOM * available:
        return
    hint = ""
    if method == "model" and needed_bytes(shape, "btr") <= HEADROOM * available:
        hint = f", or use the method btr (about {needed_bytes(shape, 'btr') / 1e9:.1f} GB)"
    raise MemoryBudgetError(
        f"a {shape[0]} x {shape[1]} px scan needs about {need / 1e9:.1f} GB with {method}; this machine "
        f"has {available / 1e9:.1f} GB available: crop the scan first{hint}"
    )
