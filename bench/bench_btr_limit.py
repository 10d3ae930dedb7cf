"""How tight can a blind tip bound be? The tightest true bound against classical BTR and the needle.

    .venv/bin/python bench/bench_btr_limit.py [N]    # first N scans of each split (default 100)

Villarrubia's bound from a noise-free image with threshold 0, refined at every point it leaves
unexplained (``mode="residual"``), is the bluntest tip that explains the image exactly: every true
tip lies at or below it, and no method that only proves a bound from the image can do better. Here
it is computed from each SimTip scan's true surface dilated by its true tip (no noise, no drift),
and scored like classical BTR on the noisy image and the needle (tip RMSE clipped at the probe
depth, nm), per tip and surface family. Where even this bound is worse than the needle, no true
bound beats the needle on that family: the needle wins there by being deeper than anything the
image shows, which is a prior about tips, not a proof. One CPU thread; about 20 minutes at N=100.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np
import torch
from simtip_splits import SPLITS, split_scans

from napari_se3afm.classical.btr import blind_tip
from napari_se3afm.image.morphology import dilate
from napari_se3afm.lab.baselines import run_method
from napari_se3afm.lab.metrics import probe_depth, tip_errors

ESTIMATES = ("tightest bound", "BTR", "needle")


def scan_errors(image: np.ndarray, truth: np.ndarray, surface: np.ndarray) -> dict[str, float]:
    """Tip RMSE of the tightest true bound, classical BTR and the needle on one scan."""
    k = truth.shape[0]
    depth = probe_depth(surface, k)
    tips = {
        "tightest bound": blind_tip(dilate(surface, truth), k, threshold_nm=0.0, mode="residual").tip,
        "BTR": blind_tip(image, k).tip,
        "needle": run_method("needle", image, k).tip,
    }
    return {name: tip_errors(tip, truth, depth)["tip_rmse"] for name, tip in tips.items()}


def main() -> None:
    torch.set_num_threads(1)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    print("Tip RMSE by family, mean over its scans (nm); * where even the tightest bound is worse than the needle")
    for label, name in SPLITS.items():
        families: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        count = 0
        for image, truth, surface, kinds in split_scans(name, n):
            count += 1
            for estimate, e in scan_errors(image, truth, surface).items():
                for family in ("all", *kinds):
                    families[family][estimate].append(e)
        print(f"\n{label} ({count} scans)\n\n| family | scans | {' | '.join(ESTIMATES)} |\n|---|---|---|---|---|")
        worse = {e: [] for e in ESTIMATES[:2]}
        for family, errors in families.items():
            means = {e: float(np.mean(errors[e])) for e in ESTIMATES}
            for e in worse:
                if family != "all" and means[e] > means["needle"]:
                    worse[e].append(family)
            mark = " *" if family in worse["tightest bound"] else ""
            cells = " | ".join(f"{means[e]:.2f}" for e in ESTIMATES)
            print(f"| {family}{mark} | {len(errors['needle'])} | {cells} |")
        print(
            f"\nfamilies worse than the needle: BTR {len(worse['BTR'])}, the tightest bound "
            f"{len(worse['tightest bound'])} of {len(families) - 1}",
            flush=True,
        )


if __name__ == "__main__":
    main()
