"""SimTip: synthetic tip–surface–image triplets for training, sample data and benchmarks.

See :mod:`.config` for every parameter range, :mod:`.tips`, :mod:`.surfaces` and :mod:`.imaging` for
the physics, :mod:`.generator` for on-the-fly batches and :mod:`.storage` for the fixed splits.
"""

from .config import SURFACE_TYPES, TIP_TYPES, SimTipConfig, config_from_dict, config_to_dict, load_config
from .generator import SPLIT_SEEDS, SimTipBatch, iter_batches, simulate

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
