"""The issue's speed target: one 128² scan with the default settings (16 MC samples, default
consistency) on all of this machine's CPU threads (or a GPU), as a user runs it.

    .venv/bin/python bench/bench_default_speed.py [--device cuda] [--consistency tight] [MODEL ...]
    # defaults: cpu, the default consistency, se3afm-cpu-bound

Reconstructs the first six scans of bench/results/simtip_test.npz; prints the first call (which
loads the model) and the median of the other five, in seconds.
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_se3afm.consistency import DEFAULT_CONSISTENCY
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.simtip.storage import read_split

SPLIT = Path(__file__).resolve().parent / "results" / "simtip_test.npz"


def main(models: list[str], device: str, consistency: str) -> None:
    split = read_split(SPLIT)
    print(f"{device}, {torch.get_num_threads()} torch threads, consistency {consistency!r}\n")
    print("| model | first call (s) | median of the next five (s) |")
    print("|---|---|---|")
    for model in models:
        secs = []
        for i in range(6):
            start = time.perf_counter()
            reconstruct(np.asarray(split.image[i], dtype=np.float64), float(split.pixel_nm[i]), method="model",
                        model=model, levelling=(), device=device, consistency=consistency)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            secs.append(time.perf_counter() - start)
        print(f"| {model} | {secs[0]:.2f} | {np.median(secs[1:]):.2f} |", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    options = {"--device": "cpu", "--consistency": DEFAULT_CONSISTENCY}
    for flag in options:
        if flag in args:
            at = args.index(flag)
            options[flag] = args[at + 1]
            del args[at : at + 2]
    main(args or ["se3afm-cpu-bound"], options["--device"], options["--consistency"])
