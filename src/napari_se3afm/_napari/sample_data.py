"""npe2 sample data: the bundled SimTip spike-array scan with its true surface and tip."""

from __future__ import annotations

from importlib import resources

import numpy as np


def make_spike_sample() -> list[tuple]:
    """Return the sample scan, its true surface and its true tip as napari layer data (nm scale)."""
    path = resources.files("napari_se3afm") / "data" / "spikes_sample.npz"
    with path.open("rb") as fh, np.load(fh) as npz:
        image, surface, tip = npz["image"], npz["surface"], npz["tip"]
        scale = tuple(float(v) for v in npz["pixel_nm_yx"])
    meta = {"units": "nm", "source": "SimTip sample (synthetic, known answer)"}
    return [
        (image, {"name": "spikes sample scan", "scale": scale, "colormap": "afmhot", "metadata": meta}, "image"),
        (surface, {"name": "spikes sample true surface", "scale": scale, "colormap": "afmhot", "visible": False, "metadata": meta}, "image"),
        (tip, {"name": "spikes sample true tip", "scale": scale, "colormap": "viridis", "visible": False, "metadata": meta}, "image"),
    ]
