"""Regenerate the bundled sample scan src/napari_se3afm/data/spikes_sample.npz (deterministic).

A tip-characteriser-like array of sharp spikes on a gently rough background, imaged by an asymmetric
three-sided pyramid (so mirror errors show), plus 0.3 nm white noise. Run:
    .venv/bin/python scripts/make_sample.py
"""

from pathlib import Path

import numpy as np

from napari_se3afm.morphology import dilate
from napari_se3afm.tip import pyramid_tip

OUT = Path(__file__).resolve().parents[1] / "src" / "napari_se3afm" / "data" / "spikes_sample.npz"


def main() -> None:
    rng = np.random.default_rng(20261124)
    size, pixel = 128, 2.0
    k = 31
    y, x = np.mgrid[:size, :size] * pixel
    background = 0.8 * np.sin(x / 37.0) * np.cos(y / 53.0)
    surface = background.copy()
    for cy in range(16, size, 32):
        for cx in range(16, size, 32):
            sy, sx = cy + rng.integers(-3, 4), cx + rng.integers(-3, 4)
            surface[sy, sx] += rng.uniform(45.0, 60.0)
    tip = pyramid_tip(k, pixel, sides=3, half_angle_deg=32.0, apex_radius_nm=8.0, rotation_deg=15.0)
    image = dilate(surface, tip) + rng.normal(0.0, 0.3, surface.shape)
    np.savez_compressed(
        OUT,
        image=image.astype(np.float32),
        surface=surface.astype(np.float32),
        tip=tip.astype(np.float32),
        pixel_nm=np.float64(pixel),
        pixel_nm_yx=np.array([pixel, pixel]),
        noise_nm=np.float64(0.3),
    )
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
