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
    "level": "levelling",
    "Scan": "scan",
    "write_reconstruction": "io",
    "dilate": "morphology",
    "erode": "morphology",
    "opening": "morphology",
    "closing": "morphology",
    "certainty_map": "morphology",
    "blind_tip": "btr",
    "iter_blind_tip": "btr",
    "differentiable_tip": "dbtr",
    "iter_differentiable_tip": "dbtr",
    "estimate_noise": "noise",
    "describe_tip": "tip",
    "tip_to_volume": "tip",
    "volume_to_tip": "tip",
    "tip_to_mesh": "tip",
    "Progress": "progress",
    "track_tip": "wear",
    "iter_track_tip": "wear",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
