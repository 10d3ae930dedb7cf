"""The SimTip test splits the benchmarks read (made once, as docs/benchmarks.md says), by their label."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from napari_se3afm.lab.simtip import SURFACE_TYPES, TIP_TYPES

RESULTS = Path(__file__).resolve().parent / "results"
SPLITS = {
    "default": "simtip_test",
    "wide": "simtip_test_wide",
    "shifted": "simtip_test_shifted",
    "real morphologies": "simtip_test_real",
}


def split_scans(name: str, n: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, str]]]:
    """The first ``n`` scans of split file ``name``: image, true tip and true surface (float64, nm)
    and the scan's (tip family, surface family)."""
    with np.load(RESULTS / f"{name}.npz") as split:
        for i in range(min(n, len(split["image"]))):
            image, tip, surface = (split[key][i].astype(np.float64) for key in ("image", "tip", "surface"))
            yield image, tip, surface, (TIP_TYPES[split["tip_type"][i]], SURFACE_TYPES[split["surface_type"][i]])
