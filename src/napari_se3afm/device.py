"""Choose the compute device in one place: CUDA when asked for or available, else CPU."""

from __future__ import annotations

import logging

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
    name = (device or "auto").strip().lower()
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
            raise DeviceError(
                f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) found"
            )
        return chosen
    raise DeviceError(f"unknown device {device!r}: choose 'auto', 'cpu', 'cuda' or 'cuda:N'")
