"""Speed and memory at real scan sizes, as whole ``se3afm reconstruct`` processes on this machine.

    .venv/bin/python bench/bench_real_sizes.py [--method model|btr|gwyddion-btr] [--sizes 128,256,512,1024]

For each size, real scans of ../shared/data/real cut (or tiled) to that size go through one
``se3afm reconstruct`` process — a session: the model is loaded once. Printed per size: the scans,
the process's start (wall time less the reconstructions), the median and slowest reconstruction as
the command reports it, the process's peak memory, and scans per minute over the whole session. ``gwyddion-btr`` is the
reference: Gwyddion's own blind estimation (its library, :mod:`napari_se3afm.lab.gwyddion_btr`) on
the same scans at one σ of classical BTR's noise estimate, timed in this process (the time per scan
only; no overhead or memory).
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
SE3AFM = Path(sys.executable).with_name("se3afm")


def inputs_of_size(n: int, folder: Path) -> list[Path]:
    """Every real scan cut to n × n from its corner, or tiled up to it, as a .gwy with its pixel size."""
    from napari_se3afm.io import read_height_map
    from napari_se3afm.io.writers import write_gwy_channels

    paths = []
    for f in sorted(REAL.iterdir()):
        if f.name == "README.md":
            continue
        try:
            scan = read_height_map(f)
        except Exception:
            continue
        z = scan.height
        reps = (-(-n // z.shape[0]), -(-n // z.shape[1]))
        z = np.tile(z, reps)[:n, :n]
        path = folder / f"{f.name.replace('.', '_')}_{n}.gwy"
        write_gwy_channels([("Height", z, "nm", scan.pixel_nm)], path)
        paths.append(path)
    return paths


def gwyddion_row(n: int, limit: int) -> None:
    """Gwyddion's blind estimation of a 31 px tip on each scan of size ``n``, timed in this process."""
    from napari_se3afm.image.levelling import level
    from napari_se3afm.io import read_height_map
    from napari_se3afm.lab.gwyddion_btr import gwyddion_blind_tip

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in inputs_of_size(n, Path(tmp))[:limit]:
            scan = read_height_map(path)
            z, _ = level(scan.height)
            began = time.perf_counter()
            gwyddion_blind_tip(z, 31, float(np.sqrt(np.prod(scan.pixel_nm))))
            times.append(time.perf_counter() - began)
    print(f"| {n}² | {len(times)} | – | {np.median(times):.1f} | {max(times):.1f} | – | – |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="model")
    parser.add_argument("--sizes", default="128,256,512,1024")
    parser.add_argument("--limit", type=int, default=10, help="scans per size (default: every real file)")
    args = parser.parse_args()
    print("| size | scans | overhead (s) | median (s) | slowest (s) | peak memory (GB) | scans per minute |")
    print("|---|---|---|---|---|---|---|")
    for n in (int(v) for v in args.sizes.split(",")):
        if args.method == "gwyddion-btr":
            gwyddion_row(n, args.limit)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            found = inputs_of_size(n, Path(tmp))[: args.limit]
            cmd = [str(SE3AFM), "reconstruct", *map(str, found), "-o", str(Path(tmp) / "out")]
            began = time.perf_counter()
            proc = subprocess.run([*cmd, "--method", args.method], capture_output=True, text=True, check=True)
            session = time.perf_counter() - began
            times = [float(m) for m in re.findall(r"threads?: ([0-9.]+) s", proc.stdout + proc.stderr)]
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest so far: sizes ascend
        print(
            f"| {n}² | {len(times)} | {session - sum(times):.1f} | "
            f"{np.median(times):.1f} | {max(times):.1f} | {peak / 1e6:.2f} | {60 * len(times) / session:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
