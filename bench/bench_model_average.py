"""Can trained models be combined without more training? Averages of two models, a blend towards the bound.

    .venv/bin/python bench/bench_model_average.py N MODEL OTHER [OTHER ...]

On the first N scans of bench/results/simtip_test.npz, each model's output with its tips bounded
and the surface not raised (``consistency="tip"``, 8 Monte-Carlo samples as the benchmark draws):

* MODEL alone, each OTHER alone, and the mean of MODEL's and each OTHER's tip and surface (an
  ensemble of two at the cost of two); the paired tip difference against MODEL ± its standard error;
* MODEL's tip moved a fraction α of the way towards its blind (BTR) upper bound (α < 0: away);
* whether two models' disagreement tells how far MODEL's calibrated surface σ (default output) is
  off on a scan: the Pearson correlation of ``log(RMS disagreement / median σ)`` with the log of
  the scale that would have made that scan's median ``|error| / σ`` normal.

One thread; prints markdown.
"""

import sys
from pathlib import Path

import numpy as np
import torch

from napari_se3afm.consistency import tip_bound
from napari_se3afm.lab.baselines import bench_reconstruction
from napari_se3afm.lab.metrics import probe_depth, surface_errors, tip_errors
from napari_se3afm.lab.simtip.storage import read_split

RESULTS = Path(__file__).resolve().parent / "results"
ALPHAS = (-0.2, -0.1, 0.1, 0.2, 0.5)
#: the median of |z| for a standard normal z
NORMAL_MEDIAN_ABS = 0.6745


def main(n: int, models: list[str]) -> None:
    torch.set_num_threads(1)
    split = read_split(RESULTS / "simtip_test.npz")
    n = min(n, len(split.image))
    k = split.tip.shape[1]
    b = k - 1
    first, others = models[0], models[1:]
    tip_rmse: dict[str, list[float]] = {}
    surface_rmse: dict[str, list[float]] = {}
    log_scale, log_disagreement = [], {m: [] for m in others}

    def score(name: str, tip: np.ndarray, surface: np.ndarray | None, truth: np.ndarray, true_tip: np.ndarray) -> None:
        tip_rmse.setdefault(name, []).append(tip_errors(tip, true_tip, probe_depth(truth, k))["tip_rmse"])
        if surface is not None:
            surface_rmse.setdefault(name, []).append(surface_errors(surface, truth, border=b)["surface_rmse"])

    for i in range(n):
        image, truth, true_tip = (np.asarray(a[i], dtype=np.float64) for a in (split.image, split.surface, split.tip))
        px = float(split.pixel_nm[i])
        run = {m: bench_reconstruction(image, px, model=m, consistency="tip", device="cpu") for m in models}
        a = run[first]
        for m, r in run.items():
            score(m, r.tip, r.surface, truth, true_tip)
        for m in others:
            score(
                f"mean of {first} and {m}", (a.tip + run[m].tip) / 2, (a.surface + run[m].surface) / 2, truth, true_tip
            )
        bound = tip_bound(image, a.tip.shape[0])
        for alpha in ALPHAS:
            score(
                f"{first}, tip {alpha:+g} of the way to the bound",
                np.minimum(a.tip + alpha * (bound - a.tip), 0.0),
                None,
                truth,
                true_tip,
            )
        default = bench_reconstruction(image, px, model=first, device="cpu")
        inner = (slice(b, -b), slice(b, -b))
        sigma = default.surface_std[inner]
        log_scale.append(np.log(np.median(np.abs(default.surface - truth)[inner] / sigma) / NORMAL_MEDIAN_ABS))
        for m in others:
            gap = np.sqrt(np.mean((a.surface - run[m].surface)[inner] ** 2))
            log_disagreement[m].append(np.log(gap / np.median(sigma)))
    base = np.array(tip_rmse[first])
    print(f'first {n} SimTip test scans, consistency "tip"\n')
    print(f"| output | tip RMSE (nm) | paired against {first} (nm) | surface RMSE (nm) |")
    print("|---|---|---|---|")
    for name, tips in tip_rmse.items():
        t = np.array(tips)
        paired = "–" if name == first else f"{np.mean(t - base):+.3f} ± {np.std(t - base) / np.sqrt(n):.3f}"
        surface = f"{np.mean(surface_rmse[name]):.3f}" if name in surface_rmse else "–"
        print(f"| {name} | {t.mean():.3f} | {paired} | {surface} |")
    scale = np.array(log_scale)
    print(f"\nspread over scans of the log scale error of {first}'s σ: {scale.std():.3f}")
    for m in others:
        x = np.array(log_disagreement[m])
        fit = np.polyval(np.polyfit(x, scale, 1), x)
        print(
            f"disagreement with {m}: correlation {np.corrcoef(x, scale)[0, 1]:.2f}, "
            f"spread left after a linear fit {np.std(scale - fit):.3f}"
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    main(int(args[0]), args[1:])
