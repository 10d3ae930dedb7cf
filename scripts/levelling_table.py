"""Print the levelling table of docs/io.md: height range (nm) of each real file after each method.

Run:  .venv/bin/python scripts/levelling_table.py
"""

from pathlib import Path

import numpy as np

from napari_se3afm.image.levelling import level
from napari_se3afm.io import read_scan

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def main() -> None:
    print(
        "| file | raw | plane | plane + scars (default) | plane + align-rows | plane + align-rows-diff "
        "| neighbour-difference plane (rejected) |"
    )
    print("|---|---|---|---|---|---|---|")
    for path in sorted(p for p in REAL.iterdir() if p.suffix != ".md"):
        z = read_scan(path).height_channel().data
        ny, nx = z.shape
        naive = (
            z - np.median(np.diff(z, axis=1)) * np.arange(nx) - np.median(np.diff(z, axis=0)) * np.arange(ny)[:, None]
        )
        ranges = [
            np.ptp(level(z, steps)[0])
            for steps in (("plane",), ("plane", "scars"), ("plane", "align-rows"), ("plane", "align-rows-diff"))
        ]
        print(
            f"| `{path.name}` | {np.ptp(z):.1f} | "
            + " | ".join(f"{r:.1f}" for r in ranges)
            + f" | {np.ptp(naive):.1f} |"
        )


if __name__ == "__main__":
    main()
