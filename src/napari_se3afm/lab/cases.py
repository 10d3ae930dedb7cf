"""Hand-built scans with a known answer (tests and benches use them): a case a method once got wrong,
and a session of scans whose tip wears and changes by known amounts."""

from __future__ import annotations

import numpy as np

from ..image.morphology import dilate
from ..tip import cone_tip, double_tip, pyramid_tip

__all__ = ["WORN_SESSION_EVENTS", "particles_under_a_sharp_cone", "worn_tip_session"]


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


#: the events of :func:`worn_tip_session`: scan index → what happened to the tip just before it
WORN_SESSION_EVENTS = {3: "chip", 5: "pick-up"}
#: apex radius (nm) of the session's pyramid at each scan: slow wear, then a chip before scan 3
_WORN_RADII = (8.0, 8.5, 9.0, 24.0, 24.5, 24.5, 25.0)


def worn_tip_session(*, pixel_nm: float = 2.0, noise_nm: float = 0.05, seed: int = 0) -> list[dict]:
    """Seven SimTip scans of different surfaces (particles, periodic patterns, roughness in turn)
    imaged by one four-sided pyramid (35° faces) that wears: its apex radius grows slowly (8 → 9 nm,
    steps below what one scan resolves), a chip before scan 3 makes it 24 nm, and before scan 5 it
    picks up a particle that images as a second apex 1 nm below the first, 16 nm away
    (:data:`WORN_SESSION_EVENTS`).

    Each scan: ``{"image", "surface", "tip", "pixel_nm", "apex_radius_nm", "event"}``, 128² pixels."""
    import torch

    from .simtip import SimTipConfig
    from .simtip.surfaces import random_surfaces

    kinds = ["particles", "periodic", "roughness"] * 3
    rngs = [np.random.default_rng([seed, i]) for i in range(len(_WORN_RADII))]
    pixel = torch.full((len(_WORN_RADII),), float(pixel_nm), dtype=torch.float64)
    surfaces, _ = random_surfaces(kinds[: len(_WORN_RADII)], pixel, (128, 128), rngs, SimTipConfig())
    scans = []
    for i, radius in enumerate(_WORN_RADII):
        tip = pyramid_tip(31, pixel_nm, half_angle_deg=35.0, apex_radius_nm=radius)
        if i >= 5:
            tip = double_tip(tip, (0, 8), 1.0)
        surface = surfaces[i].numpy()
        image = dilate(surface, tip) + rngs[i].normal(0, noise_nm, surface.shape)
        scans.append(
            {
                "image": image,
                "surface": surface,
                "tip": tip,
                "pixel_nm": pixel_nm,
                "apex_radius_nm": radius,
                "event": WORN_SESSION_EVENTS.get(i, ""),
            }
        )
    return scans
