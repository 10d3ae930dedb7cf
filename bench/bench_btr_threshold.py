"""Choose BTR's automatic threshold by measurement: tip RMSE / noise over admission margin × threshold.

Three true tips (asymmetric 3-sided pyramid, cone, paraboloid), spike arrays, noise 0.3/1/2 nm;
threshold and admission margin are multiples of the *estimated* noise. Run:
    .venv/bin/python bench/bench_btr_threshold.py
"""

from __future__ import annotations

import numpy as np
import torch

from napari_se3afm.classical.btr import _interior, _local_maxima, _refine_pass
from napari_se3afm.image.morphology import dilate
from napari_se3afm.image.noise import estimate_noise
from napari_se3afm.tip import cone_tip, paraboloid_tip, pyramid_tip


def estimate(image: np.ndarray, k: int, threshold: float, margin: float) -> np.ndarray:
    c = k // 2
    points = _interior(_local_maxima(image, k), image.shape, c)
    tip = np.zeros((k, k))
    for _ in range(30):
        if _refine_pass(image, points, tip, threshold, margin) == 0:
            break
    return tip


def main() -> None:
    torch.set_num_threads(1)
    size, k, px = 128, 31, 2.0
    tips = [
        pyramid_tip(k, px, sides=3, half_angle_deg=30, apex_radius_nm=6, rotation_deg=20),
        cone_tip(k, px, half_angle_deg=20, apex_radius_nm=10),
        paraboloid_tip(k, px, apex_radius_nm=15),
    ]
    scores: dict[tuple[float, float], list[float]] = {}
    for seed, tip in enumerate(tips):
        rng = np.random.default_rng(seed)
        surface = np.zeros((size, size))
        for y in range(20, size - 10, 36):
            for x in range(20, size - 10, 36):
                surface[y + rng.integers(-3, 4), x + rng.integers(-3, 4)] = rng.uniform(60, 80)
        image = dilate(surface, tip)
        probed = tip > -55
        for sigma in (0.3, 1.0, 2.0):
            noisy = image + rng.normal(0, sigma, image.shape)
            s = estimate_noise(noisy)
            for margin in (1, 2, 3):
                for threshold in (0, 0.5, 1, 1.5, 2):
                    est = estimate(noisy, k, threshold * s, margin * s)
                    err = np.sqrt(np.mean((est - tip)[probed] ** 2)) / sigma
                    scores.setdefault((margin, threshold), []).append(err)
    print("| admission margin (σ) | threshold (σ) | mean tip RMSE / σ | worst |")
    print("|---|---|---|---|")
    for (margin, threshold), errs in sorted(scores.items(), key=lambda kv: np.mean(kv[1])):
        print(f"| {margin} | {threshold} | {np.mean(errs):.2f} | {np.max(errs):.2f} |")


if __name__ == "__main__":
    main()
