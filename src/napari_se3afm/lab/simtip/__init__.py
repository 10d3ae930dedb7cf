"""SimTip: synthetic tip–surface–image triplets for training, sample data and benchmarks.

See :mod:`.config` for every parameter range, :mod:`.tips`, :mod:`.surfaces` and :mod:`.imaging` for
the physics, :mod:`.generator` for on-the-fly batches and :mod:`.storage` for the fixed splits.
"""

from importlib import import_module
from typing import Any

from .config import (
    SPLIT_SEEDS,
    SURFACE_TYPES,
    TIP_TYPES,
    SimTipConfig,
    config_from_dict,
    config_to_dict,
    load_config,
)

#: the generator needs torch: imported when one of these is first used, so that the configuration
#: (and the command line's help) stays light
_TORCH_API = {"SimTipBatch": "generator", "iter_batches": "generator", "simulate": "generator"}

__all__ = [
    "SPLIT_SEEDS",
    "SURFACE_TYPES",
    "TIP_TYPES",
    "SimTipBatch",
    "SimTipConfig",
    "config_from_dict",
    "config_to_dict",
    "iter_batches",
    "load_config",
    "simulate",
]


def __getattr__(name: str) -> Any:
    if name in _TORCH_API:
        return getattr(import_module(f".{_TORCH_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
