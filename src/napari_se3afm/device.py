"""Choose the compute device in one place: CUDA when asked for or available, else CPU; and on the
CPU, as many threads as there are cores free."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .errors import DeviceError

log = logging.getLogger(__name__)


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a ``torch.device``.

    ``"auto"`` (or ``None``) prefers CUDA and falls back to the CPU. Asking for CUDA where there is none
    raises :class:`DeviceError` rather than silently running on the CPU.
    """
    if isinstance(device, torch.device):
        device = str(device)
    name = "auto" if device is None else str(device).strip().lower()
    if name == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        log.info("compute device: %s", chosen)
        return chosen
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r} was requested but no CUDA GPU is available; use 'cpu' or 'auto'")
        chosen = torch.device(name)
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise DeviceError(f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) found")
        return chosen
    raise DeviceError(f"unknown device {device!r}: choose 'auto', 'cpu', 'cuda' or 'cuda:N'")


def _others_running(samples: int = 5, interval_s: float = 0.002) -> int:
    """Threads of other processes that want a core now (the median of a few readings of the kernel's
    run queue; this process's own reading thread left out); 0 where the kernel does not say."""
    counts = []
    for _ in range(samples):
        try:
            with open("/proc/loadavg") as fh:
                running = int(fh.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0
        counts.append(max(0, running - 1))
        time.sleep(interval_s)
    return sorted(counts)[len(counts) // 2]


def free_cores() -> int:
    """The cores this process may use that no other process is using now (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores - _others_running())


@contextmanager
def threads_for_free_cores(device: torch.device) -> Iterator[int]:
    """Within the block, torch's CPU work runs on the cores free when it starts (never more threads
    than torch already had); yields that count. Work made of many short parallel operations waits
    at every one for its slowest thread: a thread that must share its core with another program
    makes it many times slower (measured 9× beside two busy processes on 2 cores), one thread per
    free core only proportionally so. No effect on a GPU."""
    before = torch.get_num_threads()
    if device.type != "cpu":
        yield before
        return
    threads = min(before, free_cores())
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
