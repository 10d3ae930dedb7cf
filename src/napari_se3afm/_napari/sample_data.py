"""npe2 sample data: bundled synthetic scans with their true surface and tip (known answers), nm scale."""

from __future__ import annotations

from importlib import resources

import numpy as np


def _sample_layers(filename: str, label: str, source: str) -> list[tuple]:
    path = resources.files("napari_se3afm") / "data" / filename
    with path.open("rb") as fh, np.load(fh) as npz:
        image, surface, tip = npz["image"], npz["surface"], npz["tip"]
        scale = tuple(float(v) for v in npz["pixel_nm_yx"])
    meta = {"units": "nm", "source": source}
    contrast = (float(min(image.min(), surface.min())), float(max(image.max(), surface.max())))
    common = {
        "scale": scale,
        "units": ("nm", "nm"),
        "colormap": "afmhot",
        "contrast_limits": contrast,
        "metadata": meta,
    }
    return [
        (image, {"name": f"{label} scan", **common}, "image"),
        (surface, {"name": f"{label} true surface", "visible": False, **common}, "image"),
        (
            tip,
            {
                "name": f"{label} true tip",
                "scale": scale,
                "units": ("nm", "nm"),
                "colormap": "viridis",
                "visible": False,
                "metadata": meta,
            },
            "image",
        ),
    ]


def make_spike_sample() -> list[tuple]:
    """Return the spike-array scan (a tip characteriser), its true surface and true tip as layers."""
    return _sample_layers("spikes_sample.npz", "spikes sample", "synthetic spike array (known answer)")


def make_simtip_sample() -> list[tuple]:
    """Return one SimTip scan (particles, three-sided pyramid, all artefacts) with its true surface and tip."""
    return _sample_layers("simtip_sample.npz", "SimTip sample", "SimTip generator (known answer)")
