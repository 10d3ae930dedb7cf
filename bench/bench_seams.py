"""Frames and seams: is the surface lowered as much along the edges as inside the scan?

    .venv/bin/python bench/bench_seams.py [MODEL] [--simtip N]

For every real file in ../shared/data/real (and the first N scans of the SimTip test split, with
their true surfaces for reference) the lowering ``image − surface`` is averaged in edge bands of
8 and ``K − 1`` pixels and divided by its mean inside the scan: 1 means no frame. The same ratio is
shown for ``consistency="none"`` (the network's own output) and, for SimTip, for the truth.
Prints markdown; ``tests/test_seams.py`` holds the bar.
"""

import sys
from pathlib import Path

import numpy as np
import torch

from napari_se3afm.io import read_height_map
from napari_se3afm.lab.metrics import edge_ratio
from napari_se3afm.nn.registry import DEFAULT_MODEL
from napari_se3afm.pipeline import reconstruct

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
SPLIT = Path(__file__).resolve().parent / "results" / "simtip_test.npz"


def ratios(lowering: np.ndarray, k: int) -> str:
    return f"{edge_ratio(lowering, 8, k - 1):.2f} | {edge_ratio(lowering, k - 1, k - 1):.2f}"


def main(model: str, simtip: int) -> None:
    torch.set_num_threads(1)
    print("| scan | default: 8 px band | K−1 band | none: 8 px band | K−1 band | truth: 8 px | K−1 |")
    print("|---|---|---|---|---|---|---|")
    runs = []
    for path in sorted(p for p in REAL.glob("*") if p.suffix != ".md"):
        data = read_height_map(path)
        runs.append((path.name, data.height, data.pixel_nm, None))
    if simtip:
        from napari_se3afm.lab.simtip.storage import read_split

        split = read_split(SPLIT)
        for i in range(simtip):
            runs.append(
                (f"SimTip test {i}", np.asarray(split.image[i]), float(split.pixel_nm[i]), np.asarray(split.surface[i]))
            )
    for name, image, pixel, truth in runs:
        level = {} if truth is None else {"levelling": ()}
        out = {
            c: reconstruct(image, pixel, method="model", model=model, consistency=c, mc_samples=8, **level)
            for c in ("image", "none")
        }
        k = out["image"].tip.shape[0]
        cells = [ratios(r.image - r.surface, k) for r in out.values()]
        cells.append("–| –" if truth is None else ratios(image - truth, k))
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    n = 0
    if "--simtip" in args:
        i = args.index("--simtip")
        n = int(args[i + 1])
        del args[i : i + 2]
    main(args[0] if args else DEFAULT_MODEL, n)
