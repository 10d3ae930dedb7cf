"""Time per scan of the default reconstruction, as a user runs it: median and maximum over a split.

    .venv/bin/python bench/bench_default_speed.py [--split FILE] [-n N] [--load L] [--device cuda] [MODEL]
    # defaults: bench/results/simtip_test.npz, all its scans, cpu, the default model, no other load

Each scan goes through ``reconstruct`` with the default settings (16 Monte-Carlo samples, the
default consistency; the model is loaded once before the clock starts). Prints the median and the
maximum compute time per scan and the five slowest scans with what makes them slow (their tip's
depth, the scan's probe depth), so the worst case is looked at, not only the average. ``--load L``
runs L busy processes beside it for the whole measurement (the competing load of a shared machine).
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_se3afm.lab.metrics import probe_depth
from napari_se3afm.lab.simtip.storage import read_split
from napari_se3afm.nn.registry import DEFAULT_MODEL
from napari_se3afm.pipeline import reconstruct

SPLIT = Path(__file__).resolve().parent / "results" / "simtip_test.npz"


def busy(processes: int, seconds: float) -> list[subprocess.Popen]:
    """``processes`` programs that keep one core busy each for at most ``seconds``."""
    loop = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass"
    return [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(processes)]


def main(model: str, split_path: Path, count: int | None, device: str, load: int) -> None:
    split = read_split(split_path)
    n = len(split.image) if count is None else min(count, len(split.image))
    images = [np.asarray(split.image[i], dtype=np.float64) for i in range(n)]
    pixels = [float(split.pixel_nm[i]) for i in range(n)]
    reconstruct(images[0], pixels[0], method="model", model=model, levelling=(), device=device)  # load once
    competitors = busy(load, 3600)
    secs = []
    for image, pixel in zip(images, pixels, strict=True):
        start = time.perf_counter()
        r = reconstruct(image, pixel, method="model", model=model, levelling=(), device=device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        secs.append(time.perf_counter() - start)
    for p in competitors:
        p.kill()
    secs = np.asarray(secs)
    print(
        f"{split_path.name}: {n} scans of {images[0].shape[0]}², {model}, {device}, "
        f"{load} competing busy processes, threads used on the last scan: {r.info.get('threads')}"
    )
    print(f"median {np.median(secs):.2f} s, maximum {secs.max():.2f} s, mean {secs.mean():.2f} s\n")
    print("| scan | s | tip depth (nm) | probe depth (nm) | pixel (nm) |")
    print("|---|---|---|---|---|")
    k = r.tip.shape[0]
    for i in np.argsort(secs)[::-1][:5]:
        tip = np.asarray(split.tip[i])
        print(f"| {i} | {secs[i]:.2f} | {-tip.min():.1f} | {probe_depth(images[i], k):.1f} | {pixels[i]:.2f} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    options = {"--device": "cpu", "--split": str(SPLIT), "-n": None, "--load": "0"}
    for flag in options:
        if flag in args:
            at = args.index(flag)
            options[flag] = args[at + 1]
            del args[at : at + 2]
    n = None if options["-n"] is None else int(options["-n"])
    main(args[0] if args else DEFAULT_MODEL, Path(options["--split"]), n, options["--device"], int(options["--load"]))
