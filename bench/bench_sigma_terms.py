"""Which σ terms earn their place? Fit the surface σ model with subsets of its terms, score per scan.

    .venv/bin/python bench/bench_sigma_terms.py [MODEL] [N_FIT] [N_TEST]   # default se3afm-v1, 64, 48

Reconstructs validation scans 0..N_FIT+N_TEST-1 with the raw Monte-Carlo spread (8 samples), fits
each subset on the first N_FIT (as export does: shape within the scan, then the scan scale) and
reports, over the other N_TEST, the per-scan ECE and rank correlation averaged over scans, the same
pooled over all their pixels (as the benchmark does) and the spread over scans of the log of each
scan's remaining scale error; one CPU thread; prints markdown.
"""

import sys

import numpy as np
import torch

from napari_se3afm.lab.benchmark import pooled_calibration
from napari_se3afm.lab.calibration import (
    SURFACE_TERMS,
    apply_sigma_model,
    fit_sigma_model,
    raw_features,
    scan_level,
)
from napari_se3afm.lab.metrics import calibration
from napari_se3afm.lab.simtip import SPLIT_SEEDS, simulate
from napari_se3afm.pipeline import reconstruct

SUBSETS = [("mc",), ("mc", "bound_gap", "slope"), SURFACE_TERMS]


def collect(model: str, n: int) -> list[tuple[np.ndarray, dict, dict]]:
    """(error, features, scan statistics) of each validation scan, the border of K − 1 pixels left out."""
    out = []
    for i in range(n):
        b = simulate([i], seed=SPLIT_SEEDS["validation"], dtype=torch.float64)
        r = reconstruct(
            b.image[0].numpy(),
            float(b.pixel_nm[0]),
            method="model",
            model=model,
            mc_samples=8,
            levelling=(),
            device="cpu",
            calibrated_sigma=False,
        )
        m = slice(r.tip.shape[0] - 1, -(r.tip.shape[0] - 1))
        surface, _, stats = raw_features(r)
        out.append(((r.surface - b.surface[0].numpy())[m, m], {t: f[m, m] for t, f in surface.items()}, stats))
    return out


def main(model: str, n_fit: int, n_test: int) -> None:
    torch.set_num_threads(1)
    scans = collect(model, n_fit + n_test)
    print(
        "| surface σ terms (+ floor, × scan scale) | ECE per scan | ρ per scan | ECE pooled | ρ pooled "
        "| spread of log scale error |"
    )
    print("|---|---|---|---|---|---|")
    for terms in SUBSETS:
        fit = fit_sigma_model(
            [e.ravel() for e, _, _ in scans[:n_fit]],
            [np.stack([f[t].ravel() for t in terms]) for _, f, _ in scans[:n_fit]],
            [s for _, _, s in scans[:n_fit]],
        )
        fitted = {"terms": list(terms), **fit}
        if terms == SURFACE_TERMS:  # the same shape with one scale for every scan: what the scan scale adds
            # (the statistics are centred, so with no coefficients the scale is the mean fitted level)
            one = {**fitted, "scale": {**fit["scale"], "coef": [0.0] * len(fit["scale"]["coef"])}}
            report(f"{', '.join(terms)}, one scale for all scans", scans[n_fit:], one)
        report(", ".join(terms), scans[n_fit:], fitted)
    report(f"{', '.join(terms)}, each scan's scale chosen with hindsight", scans[n_fit:], fitted, hindsight=True)


def report(label: str, scans: list[tuple[np.ndarray, dict, dict]], fitted: dict, hindsight: bool = False) -> None:
    pairs = [(e, apply_sigma_model(fitted, f, s)) for e, f, s in scans]
    if hindsight:  # the best scale of each scan, from its own errors: what a perfect scale prediction would give
        pairs = [(e, sig * np.exp(scan_level(e, sig))) for e, sig in pairs]
    scores = [calibration(e, sig) for e, sig in pairs]
    pooled = pooled_calibration(pairs)
    level = np.std([scan_level(e, sig) for e, sig in pairs])  # how far off each scan's level still is
    print(
        f"| {label} | {np.mean([s['ece'] for s in scores]):.3f} | {np.mean([s['spearman'] for s in scores]):.2f} | "
        f"{pooled['ece']:.3f} | {pooled['spearman']:.2f} | {level:.2f} |"
    )


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0] if a else "se3afm-v1", int(a[1]) if len(a) > 1 else 64, int(a[2]) if len(a) > 2 else 48)
