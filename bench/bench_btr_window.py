"""Classical BTR's tip window: the blind bound at each window size against a needle, per split and family.

    .venv/bin/python bench/bench_btr_window.py [N]

For the first N scans (default 100) of each SimTip test split (default, wide, shifted, real
morphologies; bench/results/): classical BTR's tip at windows of 3–31 px (outside its window a tip
is deeper than anything, a needle there), its error against the true 31 px tip (RMSE clipped at the
probe depth), and four choices of the window: 31 px (what the benchmark runs); the stabilisation
rule (Flater et al. 2014, Ultramicroscopy 146:130): the largest window reached while each step up
moves the bound's shared core by at most twice the image noise (RMS); the depth rule: the window
ends at the first ring on which the 31 px bound's median lies deeper than 0.4 × the image's probe
depth (beyond it the tip hardly touches); and the best window of each scan, which needs the truth
(what a perfect choice would give). Prints markdown: per split the mean tip RMSE of each and of the
needle, how many families (tip and surface) each is worse than the needle on, and the surface RMSE
of the image eroded by the 31 px tip and by the depth rule's. About a minute.
"""

import itertools
import sys
from collections import defaultdict

import numpy as np
from simtip_splits import SPLITS, split_scans

from napari_se3afm.classical.btr import blind_tip
from napari_se3afm.image.morphology import erode
from napari_se3afm.lab.baselines import run_method
from napari_se3afm.lab.metrics import probe_depth, surface_errors, tip_errors

WINDOWS = (3, 5, 7, 9, 11, 15, 21, 31)
#: the stabilisation rule stops where the core moves by more than this many noise σ
STABLE_NOISE = 2.0
#: the depth rule ends the window where the bound's ring median lies this share of the probe depth down
DEPTH_SHARE = 0.4


def stabilised_window(tips: dict[int, np.ndarray], noise_nm: float) -> int:
    """The largest of :data:`WINDOWS` reached while each step up moves the previous window's core by at
    most :data:`STABLE_NOISE` × the noise (RMS)."""
    chosen = WINDOWS[0]
    for small, large in itertools.pairwise(WINDOWS):
        o = (large - small) // 2
        if np.sqrt(np.mean((tips[large][o : o + small, o : o + small] - tips[small]) ** 2)) > STABLE_NOISE * noise_nm:
            break
        chosen = large
    return chosen


def depth_window(bound: np.ndarray, probe_depth_nm: float) -> int:
    """The first of :data:`WINDOWS` whose outer ring of the full-window ``bound`` has its median deeper
    than :data:`DEPTH_SHARE` × the probe depth (the full window where none has)."""
    c = bound.shape[0] // 2
    yy, xx = np.mgrid[: bound.shape[0], : bound.shape[1]]
    ring = np.maximum(abs(yy - c), abs(xx - c))
    for k in WINDOWS:
        if np.median(bound[ring == k // 2]) < -DEPTH_SHARE * probe_depth_nm:
            return k
    return WINDOWS[-1]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    columns = [f"{k} px" for k in WINDOWS] + ["stabilised", "depth rule", "best (truth)", "needle"]
    print(
        "| split | "
        + " | ".join(columns)
        + " | families worse than the needle: 31 px / stabilised / depth rule / best | surface: 31 px / depth rule |"
    )
    print("|---" * (len(columns) + 3) + "|")
    for label, name in SPLITS.items():
        errors = defaultdict(list)
        by_family = defaultdict(lambda: defaultdict(list))
        count = 0
        for image, truth, surface, family in split_scans(name, n):
            count += 1
            depth = probe_depth(surface, truth.shape[0])
            tips, noise = {}, 0.0
            row = {}
            for k in WINDOWS:
                result = blind_tip(image, k)
                tips[k], noise = result.tip, result.noise_nm
                row[f"{k} px"] = tip_errors(result.tip, truth, depth)["tip_rmse"]
            row["stabilised"] = row[f"{stabilised_window(tips, noise)} px"]
            chosen = depth_window(tips[WINDOWS[-1]], probe_depth(image, truth.shape[0]))
            row["depth rule"] = row[f"{chosen} px"]
            border = truth.shape[0] - 1
            for key, tip in (("surface 31 px", tips[WINDOWS[-1]]), ("surface depth rule", tips[chosen])):
                errors[key].append(surface_errors(erode(image, tip), surface, border)["surface_rmse"])
            row["best (truth)"] = min(row[f"{k} px"] for k in WINDOWS)
            needle = run_method("needle", image, truth.shape[0]).tip
            row["needle"] = tip_errors(needle, truth, depth)["tip_rmse"]
            for key, value in row.items():  # tip errors by family
                errors[key].append(value)
                for f in family:
                    by_family[f][key].append(value)
        worse = [
            sum(np.mean(v[key]) > np.mean(v["needle"]) for v in by_family.values())
            for key in ("31 px", "stabilised", "depth rule", "best (truth)")
        ]
        cells = " | ".join(f"{np.mean(errors[c]):.2f}" for c in columns)
        surfaces = f"{np.mean(errors['surface 31 px']):.3f} / {np.mean(errors['surface depth rule']):.3f}"
        worse_cells = f"{' / '.join(map(str, worse))} of {len(by_family)}"
        print(f"| {label} ({count}) | {cells} | {worse_cells} | {surfaces} |", flush=True)


if __name__ == "__main__":
    main()
