"""How many Monte-Carlo dropout samples? Calibration and time against M on unseen validation scans.

    .venv/bin/python bench/bench_mc_samples.py [N] [MODEL] [M,M,...]   # default 32 scans, se3afm-v1, 2,4,8,16,32

Uses the N validation scans that follow those the model's σ was fitted on (the sidecar's
``validation_scans``), drawn from the distribution the model was trained on, with the default
consistency; prints a markdown table of surface ECE and rank correlation per scan and pooled, tip
ECE pooled, and seconds per image.
"""

import json
import sys
import time

import numpy as np
import torch

from napari_se3afm.lab.benchmark import pooled_calibration
from napari_se3afm.lab.calibration import validation_config
from napari_se3afm.lab.metrics import calibration, measurable_tip_difference, probe_depth
from napari_se3afm.lab.simtip import SPLIT_SEEDS, simulate
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.registry import find_model


def main(n: int, model: str, samples: list[int]) -> None:
    torch.set_num_threads(1)
    meta = json.loads(find_model(model).with_suffix(".json").read_text())
    first = int(meta["sigma_model"]["validation_scans"])
    cfg = validation_config(meta)
    scans = [
        simulate([i], seed=SPLIT_SEEDS["validation"], config=cfg, dtype=torch.float64) for i in range(first, first + n)
    ]
    print(
        f"{model}: validation scans {first}..{first + n - 1}; "
        f"σ fitted with {meta['sigma_model']['mc_samples']} samples\n"
    )
    print(
        "| MC samples | surface ECE per scan | ρ per scan | surface ECE pooled | ρ pooled | tip ECE pooled "
        "| s per 128² image |"
    )
    print("|---|---|---|---|---|---|---|")
    for m in samples:
        ece, rho, secs, pool, tips = [], [], [], [], []
        for b in scans:
            start = time.perf_counter()
            r = reconstruct(
                b.image[0].numpy(),
                float(b.pixel_nm[0]),
                method="model",
                model=model,
                mc_samples=m,
                levelling=(),
                device="cpu",
            )
            secs.append(time.perf_counter() - start)
            k = r.tip.shape[0]
            truth = b.surface[0].numpy()
            err, sd = (r.surface - truth)[k - 1 : 1 - k, k - 1 : 1 - k], r.surface_std[k - 1 : 1 - k, k - 1 : 1 - k]
            c = calibration(err, sd)
            ece.append(c["ece"])
            rho.append(c["spearman"])
            pool.append((err.ravel(), sd.ravel()))
            diff, seen = measurable_tip_difference(r.tip, b.tip[0].numpy(), probe_depth(truth, k))
            seen[k // 2, k // 2] = False
            tips.append((diff[seen], r.tip_std[seen]))
        p, t = pooled_calibration(pool), pooled_calibration(tips)
        print(
            f"| {m} | {np.mean(ece):.3f} | {np.mean(rho):.2f} | {p['ece']:.3f} | {p['spearman']:.3f} | "
            f"{t['ece']:.3f} | {np.mean(secs):.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 32,
        sys.argv[2] if len(sys.argv) > 2 else "se3afm-v1",
        [int(m) for m in sys.argv[3].split(",")] if len(sys.argv) > 3 else [2, 4, 8, 16, 32],
    )
