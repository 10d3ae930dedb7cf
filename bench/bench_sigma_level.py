"""Can a scan's σ level be told from the scan? The level the shipped σ leaves, and what predicts it.

    .venv/bin/python bench/bench_sigma_level.py [N] [MODEL]   # default 400 validation scans, the default model

Reconstructs validation scans 0..N-1 as the benchmark does (8 Monte-Carlo samples, calibrated σ)
and measures each scan's remaining level: the log of the factor by which its σ is off, judged by its
median ``|error| / σ`` (``lab.calibration.scan_level``; 0 on a scan whose σ is right). A per-scan
ECE near 0 needs this level near 0 on every scan. Candidate predictors: the 14 scan statistics the
σ model's ridge regression already uses, and ten more a reconstruction gives without the truth (how
far the tip lies below its blind bound, absolutely and in units of its σ, the mean tip and surface
σ, the re-dilation residual, the mean lowering and its part below the erosion bound, the apex radius
in pixels, the image's relief and probe depth), and a parametric bootstrap: the level of the
model's own output re-dilated with noise and reconstructed again, against that output. Prints the
per-scan ECE as shipped and with each scan's level known (hindsight), the spread of the level and
what is left of it after ridge regression, boosted trees and a random forest on each set (5-fold
cross-validation), and the bootstrap's correlation with the level.
Needs scikit-learn (``pip install scikit-learn``), which the package itself does not use.
"""

import json
import sys

import numpy as np
import torch

from napari_se3afm.image.morphology import dilate, erode
from napari_se3afm.lab.baselines import MODEL_BENCH_SAMPLES
from napari_se3afm.lab.calibration import raw_features, scan_level, validation_config
from napari_se3afm.lab.metrics import calibration, measurable_tip_difference
from napari_se3afm.lab.simtip import SPLIT_SEEDS, simulate
from napari_se3afm.nn.registry import DEFAULT_MODEL, find_model
from napari_se3afm.nn.sigma import SCAN_STATS, SigmaModel, apply_sigma_model, probe_depth
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.tip import describe_tip

EXTRA = (
    "below_bound_nm",
    "below_bound_sigma",
    "tip_sigma",
    "surface_sigma",
    "residual",
    "lowering",
    "lowering_below_bound",
    "apex_radius_px",
    "relief",
    "reach",
)


def _calibrated(image: np.ndarray, px: float, model: str, sigma_model: SigmaModel):
    """The benchmark's reconstruction with the raw spread, and σ as the pipeline makes it from that."""
    r = reconstruct(
        image, px, method="model", model=model, mc_samples=MODEL_BENCH_SAMPLES, levelling=(), calibrated_sigma=False
    )
    surface_features, tip_features, stats = raw_features(r)
    surface_sigma = apply_sigma_model(sigma_model.surface, surface_features, stats)
    tip_sigma = apply_sigma_model(sigma_model.tip, tip_features, stats)
    return r, surface_sigma, tip_sigma, stats


def _ece(error: np.ndarray, sigma: np.ndarray, level: float) -> tuple[float, float]:
    """Per-scan ECE of σ as given and of σ scaled by the scan's own level (hindsight)."""
    return calibration(error, sigma)["ece"], calibration(error, sigma * np.exp(level))["ece"]


def measure(model: str, n: int) -> dict[str, np.ndarray]:
    """Per scan: surface and tip level and ECE, the scan statistics and the extra predictors (logs),
    the bootstrap's surface level."""
    meta = json.loads(find_model(model).with_suffix(".json").read_text())
    cfg = validation_config(meta)
    sigma_model = SigmaModel.from_dict(meta["sigma_model"])
    rows = []
    for i in range(n):
        b = simulate([i], seed=SPLIT_SEEDS["validation"], config=cfg, dtype=torch.float64)
        image, truth, true_tip, px = b.image[0].numpy(), b.surface[0].numpy(), b.tip[0].numpy(), float(b.pixel_nm[0])
        k = true_tip.shape[0]
        m, c = k - 1, k // 2
        r, surface_sigma, tip_sigma, stats = _calibrated(image, px, model, sigma_model)
        error, sigma = (r.surface - truth)[m:-m, m:-m], surface_sigma[m:-m, m:-m]
        diff, seen = measurable_tip_difference(r.tip, true_tip, probe_depth(truth, k))
        seen[c, c] = False
        if seen.sum() < 4:
            continue
        reach = probe_depth(image, k)
        gap, probed = measurable_tip_difference(r.tip_bound, r.tip, reach)
        probed[c, c] = False
        bound = erode(image, r.tip)
        again = dilate(r.surface, r.tip) + np.random.default_rng(i).normal(0.0, r.info["noise_nm"], image.shape)
        r2, surface_sigma2, _, _ = _calibrated(again, px, model, sigma_model)
        radius = describe_tip(r.tip, px).apex_radius_nm
        extra = (
            gap[probed].mean(),
            (gap[probed] / np.maximum(tip_sigma[probed], 1e-9)).mean(),
            tip_sigma[probed].mean(),
            sigma.mean(),
            np.sqrt(np.mean((image - dilate(r.surface, r.tip)) ** 2)),
            np.mean(image - r.surface),
            np.mean(bound - r.surface),
            radius / px if np.isfinite(radius) else 50.0,
            np.ptp(image),
            reach,
        )
        levels = scan_level(error, sigma), scan_level(diff[seen], tip_sigma[seen])
        rows.append(
            {
                "surface": levels[0],
                "tip": levels[1],
                "surface_ece": _ece(error, sigma, levels[0]),
                "tip_ece": _ece(diff[seen], tip_sigma[seen], levels[1]),
                "stats": [np.log(abs(stats[s]) + 1e-6) for s in SCAN_STATS],
                "extra": [np.sign(v) * np.log(abs(v) + 1e-6) for v in extra],
                "bootstrap": scan_level((r2.surface - r.surface)[m:-m, m:-m], surface_sigma2[m:-m, m:-m]),
            }
        )
        print(f"scan {i + 1}/{n}", end="\r", file=sys.stderr, flush=True)
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def main(n: int, model: str) -> None:
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    torch.set_num_threads(1)
    found = measure(model, n)
    surface, tip, stats, extra = (found[key] for key in ("surface", "tip", "stats", "extra"))
    regressors = {
        "ridge": RidgeCV(alphas=np.logspace(-2, 3, 20)),
        "boosted trees": GradientBoostingRegressor(
            n_estimators=200, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=0
        ),
        "random forest": RandomForestRegressor(300, min_samples_leaf=5, random_state=0),
    }
    folds = KFold(5, shuffle=True, random_state=0)
    print(f"{len(surface)} validation scans, {model}\n")
    print("| per-scan ECE, median / p90 | surface | tip |\n|---|---|---|")
    for j, label in enumerate(("as shipped", "each scan's level known (hindsight)")):
        cells = [
            f"{np.median(found[q][:, j]):.3f} / {np.percentile(found[q][:, j], 90):.3f}"
            for q in ("surface_ece", "tip_ece")
        ]
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    r = np.corrcoef(surface, found["bootstrap"])[0, 1]
    print(f"\nthe bootstrap's surface level against the scan's: r = {r:.2f}\n")
    print("Spread (standard deviation) of the level over scans, and what is left after each regression:\n")
    print("| predictors | regression | surface level | tip level |")
    print("|---|---|---|---|")
    print(f"| none (the shipped σ) | – | {surface.std():.2f} | {tip.std():.2f} |")
    for label, x in (("scan statistics", stats), ("scan statistics + ten more", np.c_[stats, extra])):
        for name, regressor in regressors.items():
            left = [(y - cross_val_predict(regressor, x, y, cv=folds)).std() for y in (surface, tip)]
            print(f"| {label} | {name} | {left[0]:.2f} | {left[1]:.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400, sys.argv[2] if len(sys.argv) > 2 else DEFAULT_MODEL)
