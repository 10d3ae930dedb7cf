"""Choose BTR's automatic threshold by measurement.

    .venv/bin/python bench/bench_btr_threshold.py [N]

1. Spike arrays: three true tips (asymmetric 3-sided pyramid, cone, paraboloid), noise 0.3/1/2 nm;
   tip RMSE / noise over admission margin × threshold, both multiples of the *estimated* noise.
2. SimTip (first N scans of each test split in bench/results/, default 100; 0 skips it): classical
   BTR at one noise σ against the threshold chosen per scan (``btr.THRESHOLD_LADDER``): how many
   scans the choice lowers it on, mean / median / worst tip RMSE (clipped at the probe depth), the
   share of probed tip pixels the bound cuts below the truth by more than max(2 σ_noise, 2 % of the
   probe depth), how many of the 8 families (5 on the real morphologies) its tip is worse than the
   needle's on, and the surface RMSE of the image eroded by it. About three minutes.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np
import torch
from simtip_splits import SPLITS, split_scans

from napari_se3afm.classical.btr import DEFAULT_THRESHOLD_FACTOR, _interior, _local_maxima, _refine_pass, blind_tip
from napari_se3afm.image.morphology import dilate, erode
from napari_se3afm.image.noise import estimate_noise
from napari_se3afm.lab.baselines import run_method
from napari_se3afm.lab.metrics import clipped_tip_difference, probe_depth, surface_errors, tip_errors
from napari_se3afm.tip import cone_tip, paraboloid_tip, pyramid_tip


def estimate(image: np.ndarray, k: int, threshold: float, margin: float) -> np.ndarray:
    c = k // 2
    points = _interior(_local_maxima(image, k), image.shape, c)
    tip = np.zeros((k, k))
    for _ in range(30):
        if _refine_pass(image, points, tip, threshold, margin) == 0:
            break
    return tip


def spike_arrays() -> None:
    torch.set_num_threads(1)
    size, k, px = 128, 31, 2.0
    tips = [
        pyramid_tip(k, px, sides=3, half_angle_deg=30, apex_radius_nm=6, rotation_deg=20),
        cone_tip(k, px, half_angle_deg=20, apex_radius_nm=10),
        paraboloid_tip(k, px, apex_radius_nm=15),
    ]
    scores: dict[tuple[float, float], list[float]] = {}
    chosen: list[tuple[float, float]] = []  # the per-scan threshold (σ) and its tip RMSE / σ
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
            blind = blind_tip(noisy, k)
            chosen.append((blind.threshold_nm / s, np.sqrt(np.mean((blind.tip - tip)[probed] ** 2)) / sigma))
            for margin in (1, 2, 3):
                for threshold in (0, 0.5, 1, 1.5, 2):
                    est = estimate(noisy, k, threshold * s, margin * s)
                    err = np.sqrt(np.mean((est - tip)[probed] ** 2)) / sigma
                    scores.setdefault((margin, threshold), []).append(err)
    print("| admission margin (σ) | threshold (σ) | mean tip RMSE / σ | worst |")
    print("|---|---|---|---|")
    for (margin, threshold), errs in sorted(scores.items(), key=lambda kv: np.mean(kv[1])):
        print(f"| {margin} | {threshold} | {np.mean(errs):.2f} | {np.max(errs):.2f} |")
    factors, errs = zip(*chosen, strict=True)
    print(
        f"\nThe threshold chosen per scan: {', '.join(f'{f:.2g}' for f in factors)} σ; "
        f"tip RMSE / σ mean {np.mean(errs):.2f}, worst {np.max(errs):.2f}"
    )


def simtip_scan(image: np.ndarray, truth: np.ndarray, surface: np.ndarray) -> dict[str, dict[str, float]]:
    """Classical BTR at one noise σ and at the threshold chosen per scan, on one SimTip scan."""
    k = truth.shape[0]
    depth = probe_depth(surface, k)
    needle = tip_errors(run_method("needle", image, k).tip, truth, depth)["tip_rmse"]
    out = {}
    for label, options in (("one σ", {"threshold_factor": DEFAULT_THRESHOLD_FACTOR}), ("per scan", {})):
        blind = blind_tip(image, k, **options)
        below = -clipped_tip_difference(blind.tip, truth, depth)
        out[label] = {
            "lowered": float(blind.threshold_nm < DEFAULT_THRESHOLD_FACTOR * blind.noise_nm),
            "tip": tip_errors(blind.tip, truth, depth)["tip_rmse"],
            "needle": needle,
            "cut": float(np.mean(below > max(2 * blind.noise_nm, 0.02 * depth))),
            "surface": surface_errors(erode(image, blind.tip), surface, k - 1)["surface_rmse"],
        }
    return out


def simtip(n: int) -> None:
    print(
        "\n| split | threshold | lowered on | tip RMSE mean / median / worst (nm) | tip pixels cut below the truth "
        "| families worse than the needle | surface RMSE, image eroded (nm) |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, name in SPLITS.items():
        rows = defaultdict(list)
        families = defaultdict(lambda: defaultdict(list))
        count = 0
        for image, truth, surface, kinds in split_scans(name, n):
            count += 1
            for threshold, scores in simtip_scan(image, truth, surface).items():
                rows[threshold].append(scores)
                for family in kinds:
                    families[threshold][family].append((scores["tip"], scores["needle"]))
        for threshold, scores in rows.items():
            tips = np.array([s["tip"] for s in scores])
            worse = sum(np.mean([t for t, _ in v]) > np.mean([nd for _, nd in v]) for v in families[threshold].values())
            print(
                f"| {label} ({count}) | {threshold} | {sum(s['lowered'] for s in scores):.0f} "
                f"| {tips.mean():.2f} / {np.median(tips):.2f} / {tips.max():.1f} "
                f"| {100 * np.mean([s['cut'] for s in scores]):.1f} % | {worse} of {len(families[threshold])} "
                f"| {np.mean([s['surface'] for s in scores]):.3f} |",
                flush=True,
            )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    spike_arrays()
    if n:
        simtip(n)


if __name__ == "__main__":
    main()
