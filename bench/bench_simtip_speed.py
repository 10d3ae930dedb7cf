"""SimTip generation speed: triplets per second at 128² with 31² tips, CPU (1 and 2 threads) and CUDA.

    .venv/bin/python bench/bench_simtip_speed.py

Each figure is the median of 5 timed batches of 128 triplets after one warm-up batch, for every
batch made from new indices (no caching). Results go to stdout as a markdown table.
"""

import statistics
import time

import torch

from napari_se3afm.lab.simtip import simulate

BATCH = 128


def rate(device: str, threads: int) -> float:
    torch.set_num_threads(threads)
    simulate(range(BATCH), seed=0, device=device)  # warm-up
    times = []
    for rep in range(1, 6):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        simulate(range(rep * BATCH, (rep + 1) * BATCH), seed=0, device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return BATCH / statistics.median(times)


def main() -> None:
    print("| device | torch threads | triplets/s (128², 31² tip, float32) |")
    print("|---|---|---|")
    for threads in (1, 2):
        print(f"| CPU | {threads} | {rate('cpu', threads):.0f} |")
    if torch.cuda.is_available():
        print(f"| {torch.cuda.get_device_name()} | - | {rate('cuda', 2):.0f} |")


if __name__ == "__main__":
    main()
