"""Does per-scan fine-tuning help? Tip and surface RMSE before and after, on SimTip test scans.

    .venv/bin/python bench/bench_finetune.py [SCANS] [MODEL] [STEPS,...] [OPTION=VALUE ...] [--split PATH]
    # SCANS: N (the first N) or START:STOP; default 16, se3afm-v1, 30,100;
    # options of napari_se3afm.finetune (adapt=all, bluntness=0.1, ...);
    # --split: another SimTip split file (default bench/results/simtip_test.npz)

Fine-tuning sees only the image (reconstruction and smoothness losses, pull towards the pretrained
weights); the truth is used only to score. Uses the first N scans of bench/results/simtip_test.npz
(bench_simtip.py writes it) or scans START..STOP-1, 4 Monte-Carlo samples, one CPU thread; prints a markdown table.
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_se3afm.lab.metrics import probe_depth, surface_errors, tip_errors
from napari_se3afm.lab.simtip.storage import read_split
from napari_se3afm.pipeline import reconstruct

RESULTS = Path(__file__).resolve().parent / "results"


def main(scans: range, model: str, steps: list[int], options: dict, split_path: Path) -> None:
    torch.set_num_threads(1)
    split = read_split(split_path)
    rows = {s: {"tip": [], "surface": [], "seconds": []} for s in [0, *steps]}
    for i in scans:
        image, truth, true_tip = (a[i].astype(np.float64) for a in (split.image, split.surface, split.tip))
        k = true_tip.shape[0]
        depth = probe_depth(truth, k)
        for s, row in rows.items():
            start = time.perf_counter()
            r = reconstruct(
                image,
                float(split.pixel_nm[i]),
                method="model",
                model=model,
                mc_samples=4,
                finetune_steps=s,
                finetune_options=options,
                levelling=(),
                device="cpu",
            )
            row["seconds"].append(time.perf_counter() - start)
            row["tip"].append(tip_errors(r.tip, true_tip, depth)["tip_rmse"])
            row["surface"].append(surface_errors(r.surface, truth, border=k - 1)["surface_rmse"])
        print(
            f"scan {i}: " + ", ".join(f"{s} steps tip {row['tip'][-1]:.2f}" for s, row in rows.items()),
            file=sys.stderr,
            flush=True,
        )
    base = np.array(rows[0]["tip"])
    print("| fine-tuning steps | tip RMSE (nm) | scans with a better tip | surface RMSE (nm) | s per 128² scan |")
    print("|---|---|---|---|---|")
    for s, row in rows.items():
        tip = np.array(row["tip"])
        better = "–" if s == 0 else f"{np.sum(tip < base)}/{tip.size}"
        print(
            f"| {s} | {tip.mean():.3f} ± {tip.std():.3f} | {better} | {np.mean(row['surface']):.3f} | "
            f"{np.mean(row['seconds']):.1f} |"
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    split_path = RESULTS / "simtip_test.npz"
    if "--split" in args:
        at = args.index("--split")
        split_path = Path(args[at + 1])
        del args[at : at + 2]
    options = dict(a.split("=", 1) for a in args[3:])
    options = {k: v if k == "adapt" else float(v) for k, v in options.items()}
    first, _, last = (args[0] if args else "16").rpartition(":")
    main(
        range(int(first or 0), int(last)),
        args[1] if len(args) > 1 else "se3afm-v1",
        [int(s) for s in args[2].split(",")] if len(args) > 2 else [30, 100],
        options,
        split_path,
    )
