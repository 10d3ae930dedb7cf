"""Classical BTR's three point selections (partial, residual, full): how tight, how right, how fast.

    .venv/bin/python bench/bench_btr_modes.py real       # every height channel in ../shared/data/real
    .venv/bin/python bench/bench_btr_modes.py simtip N   # the first N scans of bench/results/simtip_test.npz

Real scans (default levelling, 31 px tips): RMS of ``I − opening(I, P)`` away from the border over the
image's white-noise estimate σ_n (what no surface imaged by that tip explains; the real-scan bar is
2 σ_n) and seconds per file. SimTip (true tips of the split's size): tip RMSE on the measurable part
(clipped at the probe depth, as the benchmark does), surface RMSE of the erosion, seconds per scan.
One CPU thread. Prints markdown.
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_se3afm.btr import blind_tip
from napari_se3afm.lab.metrics import (
    measurable_tip_difference,
    probe_depth,
    redilation_residual,
    surface_errors,
)
from napari_se3afm.levelling import level
from napari_se3afm.morphology import erode

MODES = ("partial", "residual", "full")
ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"


def _timed(image: np.ndarray, k: int, mode: str):
    start = time.perf_counter()
    result = blind_tip(image, k, mode=mode)
    return result, time.perf_counter() - start


def real() -> None:
    from napari_se3afm.io import read_height_map

    print("| file | px | " + " | ".join(f"{m}: RMS / σ_n | {m}: s" for m in MODES) + " |")
    print("|---|---|" + "---|---|" * len(MODES))
    for path in sorted(p for p in REAL.iterdir() if p.suffix != ".md"):
        z, _ = level(read_height_map(path).height)
        cells = []
        for mode in MODES:
            result, secs = _timed(z, 31, mode)
            left = redilation_residual(z, erode(z, result.tip), result.tip)  # I − opening(I, P)
            cells += [f"{np.sqrt(np.mean(left**2)) / result.noise_nm:.2f}", f"{secs:.1f}"]
        print(f"| `{path.name}` | {z.shape[0]}×{z.shape[1]} | " + " | ".join(cells) + " |", flush=True)


def simtip(n: int) -> None:
    from napari_se3afm.lab.simtip.storage import read_split

    split = read_split(ROOT / "bench" / "results" / "simtip_test.npz")
    scores = {m: ([], [], []) for m in MODES}
    for i in range(min(n, len(split.image))):
        image, truth, true_tip = (np.asarray(a[i], dtype=np.float64) for a in (split.image, split.surface, split.tip))
        k = true_tip.shape[0]
        for mode in MODES:
            result, secs = _timed(image, k, mode)
            diff, seen = measurable_tip_difference(result.tip, true_tip, probe_depth(truth, k))
            scores[mode][0].append(np.sqrt(np.mean(diff[seen] ** 2)))
            scores[mode][1].append(surface_errors(erode(image, result.tip), truth, k - 1)["surface_rmse"])
            scores[mode][2].append(secs)
    partial = np.array(scores["partial"][0])
    print(
        "| mode | tip RMSE (nm) | scans with a better tip than partial | surface RMSE of the erosion (nm) "
        "| s per scan |"
    )
    print("|---|---|---|---|---|")
    for mode, (tip, surface, secs) in scores.items():
        better = "–" if mode == "partial" else f"{np.mean(np.array(tip) < partial - 1e-9):.0%}"
        print(f"| {mode} | {np.mean(tip):.3f} | {better} | {np.mean(surface):.3f} | {np.mean(secs):.2f} |")


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1:2] == ["simtip"]:
        simtip(int(sys.argv[2]) if len(sys.argv) > 2 else 100)
    else:
        real()
