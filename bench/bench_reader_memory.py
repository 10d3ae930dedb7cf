"""Peak memory of reading a large scan, and of making napari's layers from it, over its array's size.

    .venv/bin/python bench/bench_reader_memory.py [SIDE]      # default 4096

Writes a SIDE² height map in every format the library writes (``.gwy``, ``.npz``, ``.npy``,
``.tif``), then reads each in a fresh process: its peak resident memory (VmHWM) less that before reading, over the size
of the float64 height array (docs/speed.md, *Reading*).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from napari_se3afm.io.writers import write_gwy_channels, write_tif_channels

MEASURE = """
import sys
from napari_se3afm.io import read_scan
from napari_se3afm._napari.layers import scan_layers
def kb(key):
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))
before = kb('VmRSS:')
scan = read_scan(sys.argv[1])
read = kb('VmHWM:') - before
layers = scan_layers(scan, 'scan')
both = kb('VmHWM:') - before
print(read, both)
"""


def main(side: int = 4096) -> None:
    z = np.random.default_rng(0).normal(size=(side, side)).cumsum(axis=1)
    channels = [("Height", z, "nm", (1.0, 1.0))]
    print(
        f"| {side}² scan ({z.nbytes / 1e6:.0f} MB array) | reading (MB) | × array | reading and layers (MB) | × array |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".gwy", ".npz", ".npy", ".tif"):
            path = Path(tmp) / f"scan{suffix}"
            if suffix == ".gwy":
                write_gwy_channels(channels, path)
            elif suffix == ".npz":
                np.savez_compressed(path, image=z, pixel_nm=1.0)
            elif suffix == ".npy":
                np.save(path, z)
            else:
                write_tif_channels(channels, path)
            out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True)
            read, both = (int(v) for v in out.stdout.split())
            print(f"| {suffix} | {read / 1e6:.0f} | {read / z.nbytes:.2f} | {both / 1e6:.0f} | {both / z.nbytes:.2f} |")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
