"""How many scan-line scars does the levelling find, and how many lines does it take for scars wrongly?

    .venv/bin/python bench/bench_scars.py [N]    # first N scans of each SimTip test split (default 100)

Scars are put into each SimTip test image as SimTip's imaging draws them when asked (one or two runs
of 1–3 lines shifted as a whole by ± 5–40 nm, the first opening the scan half the time); the image
is levelled by a plane and :func:`napari_se3afm.image.scars.scar_mask` is asked where they are. A
scar counts as found when all its lines are marked. Scars inside the image and at its top or bottom
edge are counted apart: an edge scar is seen from one side only, and is taken for a scar only where
it lies beyond the heights of the rest of the image. About a minute; prints markdown.
"""

from __future__ import annotations

import sys

import numpy as np
from simtip_splits import SPLITS, split_scans

from napari_se3afm.image.levelling import level
from napari_se3afm.image.scars import scar_mask


def put_scars(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """``image`` with one or two scars added, and each scar's first line and line count."""
    h = image.shape[0]
    offsets = np.zeros(h)
    scars = []
    for k in range(int(rng.integers(1, 3))):
        lines = int(rng.integers(1, 4))
        top = 0 if k == 0 and rng.uniform() < 0.5 else int(rng.integers(0, h - lines))
        offsets[top : top + lines] += rng.choice((-1.0, 1.0)) * rng.uniform(5.0, 40.0)
        scars.append((top, lines))
    return image + offsets[:, None], scars


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rng = np.random.default_rng(7)
    print("| split | scans | scars inside found | scars at an edge found | lines taken for scars wrongly |")
    print("|---|---|---|---|---|")
    for label, name in SPLITS.items():
        counts = {"inside": [0, 0], "edge": [0, 0]}
        wrong = 0
        count = 0
        for image, _, _, _ in split_scans(name, n):
            count += 1
            scarred, scars = put_scars(image, rng)
            marked = scar_mask(level(scarred, ("plane",))[0]).any(axis=1)
            truth = np.zeros(len(marked), dtype=bool)
            for top, lines in scars:
                truth[top : top + lines] = True
                where = "edge" if top == 0 or top + lines == len(marked) else "inside"
                counts[where][0] += bool(marked[top : top + lines].all())
                counts[where][1] += 1
            wrong += int((marked & ~truth).sum())
        cells = " | ".join(f"{found} of {total}" for found, total in counts.values())
        print(f"| {label} | {count} | {cells} | {wrong} |", flush=True)


if __name__ == "__main__":
    main()
