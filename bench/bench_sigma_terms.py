"""Which σ terms earn their place? Fit the surface σ model with subsets of its terms, score per scan.

    .venv/bin/python bench/bench_sigma_terms.py [MODEL] [N_FIT] [N_TEST]   # default se3afm-v1, 64, 48

Reconstructs validation scans 0..N_FIT+N_TEST-1 with the raw Monte-Carlo spread (8 samples), fits
each subset on the first N_FIT (as export does) and reports the per-scan ECE and rank correlation
averaged over the other N_TEST (as the benchmark does); one CPU thread; prints markdown.
"""

import sys

import numpy as np
import torch

from napari_se3afm.metrics import calibration
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.simtip import SPLIT_SEEDS, simulate
from napari_se3afm.uncertainty import SURFACE_TERMS, apply_sigma_model, fit_sigma_model, raw_features

SUBSETS = [("mc",), ("mc", "bound_gap", "slope"), SURFACE_TERMS]


def collect(model: str, n: int) -> list[tuple[np.ndarray, dict]]:
    """(error, features) of each validation scan, the border of K − 1 pixels left out."""
    out = []
    for i in range(n):
        b = simulate([i], seed=SPLIT_SEEDS["validation"], dtype=torch.float64)
        r = reconstruct(b.image[0].numpy(), float(b.pixel_nm[0]), method="model", model=model, mc_samples=8,
                        levelling=(), device="cpu", calibrated_sigma=False)
        m = slice(r.tip.shape[0] - 1, -(r.tip.shape[0] - 1))
        out.append(((r.surface - b.surface[0].numpy())[m, m], {t: f[m, m] for t, f in raw_features(r)[0].items()}))
    return out


def main(model: str, n_fit: int, n_test: int) -> None:
    torch.set_num_threads(1)
    scans = collect(model, n_fit + n_test)
    print("| surface σ terms (+ floor) | ECE | ρ(σ, abs err) |")
    print("|---|---|---|")
    for terms in SUBSETS:
        fit = fit_sigma_model(np.concatenate([e.ravel() for e, _ in scans[:n_fit]]),
                              [np.concatenate([f[t].ravel() for _, f in scans[:n_fit]]) for t in terms])
        fitted = {"terms": list(terms), **fit}
        scores = [calibration(e, apply_sigma_model(fitted, f)) for e, f in scans[n_fit:]]
        print(f"| {', '.join(terms)} | {np.mean([s['ece'] for s in scores]):.3f} | "
              f"{np.mean([s['spearman'] for s in scores]):.2f} |")


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0] if a else "se3afm-v1", int(a[1]) if len(a) > 1 else 64, int(a[2]) if len(a) > 2 else 48)
