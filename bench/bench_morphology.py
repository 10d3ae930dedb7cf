"""Benchmark the morphology core and classical BTR: median time and peak memory, CPU (and CUDA).

Run:  .venv/bin/python bench/bench_morphology.py [--quick] [--threads N] [--out docs/benchmarks-morphology.md]

Each case runs in a fresh subprocess so its peak resident memory (ru_maxrss) is its own. Results are
printed as a Markdown table, to paste into docs/benchmarks.md with the command that made them.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

CASE = r"""
import json, resource, statistics, sys, time
import numpy as np, torch
torch.set_num_threads({threads})
from napari_se3afm.image.morphology import dilate, erode
from napari_se3afm.classical.btr import blind_tip
from napari_se3afm.tip import pyramid_tip
op, n, k, device, repeats = {op!r}, {n}, {k}, {device!r}, {repeats}
rng = np.random.default_rng(0)
if op == "btr":
    surface = np.zeros((n, n)); step = max(2 * k, 24)
    for y in range(step // 2, n - step // 4, step):
        for x in range(step // 2, n - step // 4, step):
            surface[y, x] = 60.0
    tip = pyramid_tip(k, 2.0, sides=3, apex_radius_nm=6)
    image = dilate(surface, tip) + rng.normal(0, 0.3, surface.shape)
    run = lambda: blind_tip(image, k)
else:
    s = torch.tensor(rng.normal(0, 5, (n, n)), dtype=torch.float32, device=device)
    p = torch.tensor(pyramid_tip(k, 2.0), dtype=torch.float32, device=device)
    fn = dilate if op == "dilate" else erode
    def run():
        fn(s, p)
        if device == "cuda": torch.cuda.synchronize()
times = []
for _ in range(repeats):
    t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
gpu = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0.0
print(json.dumps({{"median_s": statistics.median(times), "peak_rss_mb": peak, "peak_gpu_mb": gpu}}))
"""


def run_case(op: str, n: int, k: int, device: str, threads: int) -> dict:
    repeats = 3 if n <= 1024 else 1
    code = CASE.format(op=op, n=n, k=k, device=device, repeats=repeats, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 4096^2 cases")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    sizes = [128, 512, 1024] + ([] if args.quick else [4096])
    rows = [
        "| operation | scan | tip | device | median time (s) | peak RSS (MB) | peak GPU (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for device in devices:
        for op in ("dilate", "erode"):
            for n in sizes:
                for k in (21, 41) if n > 1024 else (21, 31, 41):
                    r = run_case(op, n, k, device, args.threads)
                    rows.append(
                        f"| {op} | {n}² | {k}² | {device} | {r['median_s']:.3f} | {r['peak_rss_mb']:.0f} "
                        f"| {r['peak_gpu_mb']:.0f} |"
                    )
                    print(rows[-1], flush=True)
    for n, k in [(128, 31), (128, 21), (512, 31)]:
        r = run_case("btr", n, k, "cpu", args.threads)
        rows.append(
            f"| BTR (partial, auto threshold) | {n}² | {k}² | cpu | {r['median_s']:.3f} | {r['peak_rss_mb']:.0f} | – |"
        )
        print(rows[-1], flush=True)
    print()
    print("\n".join(rows))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(
        f"\n(total {time.perf_counter() - t0:.0f} s; peak RSS of this driver "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )
