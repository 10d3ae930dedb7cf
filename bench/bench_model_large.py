"""The model on one large scan: time and peak memory (bounded memory is the claim to check).

    .venv/bin/python bench/bench_model_large.py [SIZE] [MODEL] [M]    # default 4096, se3afm-v1, 4 MC samples

The scan is a SimTip test scene tiled to SIZE × SIZE (a 128² scene repeated, so the result can be
compared tile by tile with the 128² reconstruction); one CPU thread. Peak memory is the process's
maximum resident set size (ru_maxrss) above the level after loading the model.
"""

import resource
import sys
import time

import numpy as np
import torch

from napari_se3afm.lab.simtip import SPLIT_SEEDS, simulate
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.registry import load_model


def main(size: int, model: str, samples: int) -> None:
    torch.set_num_threads(1)
    load_model(model)
    b = simulate([0], seed=SPLIT_SEEDS["test"], dtype=torch.float64)
    tile, px = b.image[0].numpy(), float(b.pixel_nm[0])
    reps = -(-size // tile.shape[0])
    image = np.tile(tile, (reps, reps))[:size, :size]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    r = reconstruct(image, px, method="model", model=model, mc_samples=samples, levelling=(), device="cpu")
    secs = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    print(
        f"| {size}² | {samples} | {secs:.1f} | {peak:.0f} | {image.nbytes / 2**20:.0f} | "
        f"{'yes' if np.isfinite(r.surface).all() and np.isfinite(r.surface_std).all() else 'NO'} |"
    )


if __name__ == "__main__":
    a = sys.argv[1:]
    main(int(a[0]) if a else 4096, a[1] if len(a) > 1 else "se3afm-v1", int(a[2]) if len(a) > 2 else 4)
