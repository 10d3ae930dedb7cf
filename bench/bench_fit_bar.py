"""How strict is the real-scan bar (RMS of ``I − dilate(S, P)`` ≤ 2 σ_n) where the truth is known?

    .venv/bin/python bench/bench_fit_bar.py SPLIT [N] [MODEL [CONSISTENCY ...]]

On the first N scans of a SimTip split (default: all): the bar for the TRUE surface and tip, and
for the model's reconstruction under each consistency choice (8 Monte-Carlo samples, as the
benchmark). Residual and σ_n are taken as ``bench_real_scans.py`` takes them
(``metrics.fit_ratio``; σ_n the image's white-noise estimate). SimTip images carry drift, creep, bow and
line offsets that no dilation reproduces, so the truth itself need not meet the bar. One thread.
Prints markdown.
"""

import sys
import time

import numpy as np
import torch

from napari_se3afm.lab.baselines import bench_reconstruction
from napari_se3afm.lab.metrics import fit_ratio, surface_errors
from napari_se3afm.lab.simtip.storage import read_split


def main(path: str, n: int | None, model: str | None, choices: list[str]) -> None:
    torch.set_num_threads(1)
    split = read_split(path)
    n = min(n or len(split.image), len(split.image))
    k = split.tip.shape[1]
    rows = {"true surface and tip": ([], [], [])}
    for i in range(n):
        image, truth, tip = (np.asarray(a[i], dtype=np.float64) for a in (split.image, split.surface, split.tip))
        rows["true surface and tip"][0].append(fit_ratio(image, truth, tip))
        for choice in choices if model else ():
            start = time.perf_counter()
            r = bench_reconstruction(image, float(split.pixel_nm[i]), model=model, consistency=choice, device="cpu")
            ratio, secs = fit_ratio(image, r.surface, r.tip), time.perf_counter() - start
            scores = rows.setdefault(f"{model}, {choice}", ([], [], []))
            scores[0].append(ratio)
            scores[1].append(surface_errors(r.surface, truth, k - 1)["surface_rmse"])
            scores[2].append(secs)
    print(f"{path}, first {n} scans\n")
    print(
        "| surface and tip | within 2 σ_n (RMS) | median RMS / σ_n | 90th percentile | surface RMSE (nm) | s / scan |"
    )
    print("|---|---|---|---|---|---|")
    for name, (ratio, surface, secs) in rows.items():
        r = np.array(ratio)
        extra = f"{np.mean(surface):.3f} | {np.mean(secs):.2f}" if surface else "0 | –"
        print(f"| {name} | {np.mean(r <= 2):.0%} | {np.median(r):.2f} | {np.percentile(r, 90):.2f} | {extra} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    main(args[0], int(args[1]) if len(args) > 1 else None, args[2] if len(args) > 2 else None, args[3:] or ["image"])
