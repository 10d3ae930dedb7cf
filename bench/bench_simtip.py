"""Regenerate the SimTip baseline tables of docs/benchmarks.md (the fixed test split, every baseline).

    .venv/bin/python bench/bench_simtip.py [N]        # default N = 400 scans; writes bench/results/simtip/

The same as ``se3afm lab simulate --split test -n N -o bench/results/simtip_test.npz`` followed by
``se3afm lab bench --split bench/results/simtip_test.npz -o bench/results/simtip``, with torch pinned to
one thread so the timings mean the same on every machine.
"""

import sys
from pathlib import Path

import torch

from napari_se3afm.cli import main

RESULTS = Path(__file__).resolve().parent / "results"


def run(n: int) -> None:
    torch.set_num_threads(1)
    split = RESULTS / "simtip_test.npz"
    if main(["lab", "simulate", "--split", "test", "-n", str(n), "-o", str(split), "--overwrite", "-q"]):
        raise SystemExit("simulate failed")
    if main(["lab", "bench", "--split", str(split), "-o", str(RESULTS / "simtip"), "--overwrite"]):
        raise SystemExit("bench failed")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
