"""The one result object of a reconstruction, whatever the method."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tip.geometry import TipVolume


@dataclass
class Reconstruction:
    """Surface, tip and maps recovered from one AFM image; heights and lengths in nm.

    Attributes
    ----------
    image : (H, W) float64 — the input image as used (levelled if levelling was applied).
    surface : (H, W) float64 — recovered true surface.
    tip : (K, K) float64 — tip height map ``P`` (apex 0 at the centre, values <= 0).
    certainty : (H, W) bool — where the surface is known exactly (Villarrubia).
    tip_volume : TipVolume — the physical tip as voxels, with its voxel size.
    pixel_nm : (dy, dx) — pixel size of image, surface and tip.
    surface_std, tip_std : per-pixel standard deviation where the method gives one, else None.
    tip_bound : (K, K) the blind (BTR) upper bound the model's tip was held to, else None.
    method : str — the method that produced it.
    info : dict — provenance: noise estimate, threshold, steps, device, input path...
    """

    image: np.ndarray
    surface: np.ndarray
    tip: np.ndarray
    certainty: np.ndarray
    tip_volume: TipVolume
    pixel_nm: tuple[float, float]
    method: str
    surface_std: np.ndarray | None = None
    tip_std: np.ndarray | None = None
    tip_bound: np.ndarray | None = None
    info: dict = field(default_factory=dict)
