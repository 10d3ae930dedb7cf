"""Regenerate the bundled sample scans in src/napari_se3afm/data/ (deterministic).

* ``spikes_sample.npz``: a tip-characteriser-like array of sharp spikes on a gently rough background,
  imaged by an asymmetric three-sided pyramid (so mirror errors show), plus 0.3 nm white noise;
* ``simtip_sample.npz``: one SimTip triplet (nanoparticles imaged by a three-sided pyramid, with
  every imaging artefact), with its true tip, true surface and the noise-free image.

Run:
    .venv/bin/python scripts/make_sample.py
"""

from pathlib import Path

import numpy as np

from napari_se3afm.image.morphology import dilate
from napari_se3afm.tip import pyramid_tip

DATA = Path(__file__).resolve().parents[1] / "src" / "napari_se3afm" / "data"
OUT = DATA / "spikes_sample.npz"
SIMTIP_SEED = 20261124


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
    make_simtip_sample()


def make_simtip_sample() -> None:
    """Write the first triplet of stream SIMTIP_SEED with particles under a three-sided pyramid."""
    import json

    import torch

    from napari_se3afm.lab.simtip import simulate

    for index in range(1000):
        b = simulate([index], seed=SIMTIP_SEED, dtype=torch.float64)
        if b.surface_type[0] == "particles" and b.params[0]["tip"].get("sides") == 3:
            break
    out = DATA / "simtip_sample.npz"
    pixel = float(b.pixel_nm[0])
    np.savez_compressed(
        out,
        image=b.image[0].numpy().astype(np.float32),
        surface=b.surface[0].numpy().astype(np.float32),
        clean=b.clean[0].numpy().astype(np.float32),
        tip=b.tip[0].numpy().astype(np.float32),
        pixel_nm=np.float64(pixel),
        pixel_nm_yx=np.array([pixel, pixel]),
        params=np.str_(
            json.dumps(
                {
                    "seed": SIMTIP_SEED,
                    "index": index,
                    "tip_type": b.tip_type[0],
                    "surface_type": b.surface_type[0],
                    **b.params[0],
                }
            )
        ),
    )
    print(f"wrote {out} ({out.stat().st_size} bytes): SimTip seed {SIMTIP_SEED} sample {index}")


if __name__ == "__main__":
    main()
