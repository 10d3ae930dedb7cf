"""napari-se3afm: blind tip reconstruction and surface recovery for AFM, as a library and napari plugin.

The public API is imported lazily (PEP 562) so that importing the package, as napari does for its
reader, costs no torch import. SimTip, training and benchmarks are the lab's:
``napari_se3afm.lab``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_API = {
    "reconstruct": "pipeline",
    "iter_reconstruct": "pipeline",
    "Reconstruction": "results",
    "read_height_map": "io",
    "read_scan": "io",
    "write_tip": "io.writers",
    "read_tip": "io.tip_files",
    "level": "image.levelling",
    "Scan": "scan",
    "write_reconstruction": "io",
    "dilate": "image.morphology",
    "erode": "image.morphology",
    "opening": "image.morphology",
    "closing": "image.morphology",
    "certainty_map": "image.morphology",
    "blind_tip": "classical.btr",
    "iter_blind_tip": "classical.btr",
    "differentiable_tip": "classical.dbtr",
    "iter_differentiable_tip": "classical.dbtr",
    "estimate_noise": "image.noise",
    "describe_tip": "tip",
    "tip_to_volume": "tip",
    "volume_to_tip": "tip",
    "tip_to_mesh": "tip",
    "Progress": "progress",
    "track_tip": "wear.track",
    "iter_track_tip": "wear.track",
    "session_tip": "wear.session",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
