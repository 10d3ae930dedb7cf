"""How many Monte-Carlo dropout samples? Calibration and time against M on validation scans.

    .venv/bin/python bench/bench_mc_samples.py [N] [MODEL]     # default N = 32 scans, models/se3afm-v1

Uses validation scans N..2N-1 (the σ model was fitted on the first 64 at export, so with N = 64
these are unseen); prints a markdown table of surface ECE, rank correlation and seconds per image.
"""

import sys
import time

import numpy as np
import torch

from napari_se3afm.metrics import calibration
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.simtip import SPLIT_SEEDS, simulate


def main(n: int, model: str) -> None:
    torch.set_num_threads(1)
    print("| MC samples | surface ECE | ρ(σ, abs err) | s per 128² image |")
    print("|---|---|---|---|")
    for m in (2, 4, 8, 16, 32):
        ece, rho, secs = [], [], []
        for i in range(64, 64 + n):
            b = simulate([i], seed=SPLIT_SEEDS["validation"], dtype=torch.float64)
            start = time.perf_counter()
            r = reconstruct(b.image[0].numpy(), float(b.pixel_nm[0]), method="model", model=model,
                            mc_samples=m, levelling=(), device="cpu")
            secs.append(time.perf_counter() - start)
            k = r.tip.shape[0] - 1
            c = calibration((r.surface - b.surface[0].numpy())[k:-k, k:-k], r.surface_std[k:-k, k:-k])
            ece.append(c["ece"])
            rho.append(c["spearman"])
        print(f"| {m} | {np.mean(ece):.3f} | {np.mean(rho):.2f} | {np.mean(secs):.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 32, sys.argv[2] if len(sys.argv) > 2 else "se3afm-v1")
