"""Hand-built scans with a known answer, on which a method once went wrong (tests and benches use them)."""

from __future__ import annotations

import numpy as np

from ..morphology import dilate
from ..tip import cone_tip

__all__ = ["particles_under_a_sharp_cone"]


def particles_under_a_sharp_cone(
    *,
    half_angle_deg: float = 14.0,
    height_nm: float = 60.0,
    width_nm: float = 48.0,
    pixel_nm: float = 1.95,
    noise_nm: float = 0.05,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Three round particles (half-ellipsoids) on a flat substrate imaged by a sharp cone (6 nm apex),
    128² pixels, 31² tip: image, surface, tip, pixel size (nm).

    Every feature is blunter than the tip's flanks, so the blind bound from the image's maxima is the
    particles' own shape; only the particles' flanks show the tip's flanks."""
    tip = cone_tip(31, pixel_nm, half_angle_deg=half_angle_deg, apex_radius_nm=6.0)
    y, x = np.mgrid[0:128, 0:128] * pixel_nm
    surface = np.zeros((128, 128))
    for cy, cx in ((0.24, 0.28), (0.60, 0.68), (0.76, 0.24)):  # centres, as fractions of the field
        r2 = ((y - cy * 128 * pixel_nm) ** 2 + (x - cx * 128 * pixel_nm) ** 2) / (width_nm / 2) ** 2
        surface = np.maximum(surface, height_nm * np.sqrt(np.clip(1 - r2, 0, None)))
    image = dilate(surface, tip) + np.random.default_rng(seed).normal(0, noise_nm, surface.shape)
    return image, surface, tip, pixel_nm
