"""Levelling AFM users expect before any tip work: row alignment, plane and polynomial background.

Every step is built on medians, so sharp features — the very spikes that make tip estimation work —
do not tilt the result. A least-squares plane would: and because ``(S + L) ⊕ P = S ⊕ (P + L)`` for a
linear ``L``, any tilt left in the image ends up as a tilt of the estimated tip.

* ``plane``: slopes are medians of differences over *half the image* (long baselines). Medians of
  neighbouring-pixel differences looked natural but are biased on periodic arrays: on
  ``old_bruker.002`` (a pillar array) they turned a 705 nm range into 2779 nm.
* ``align-rows``: subtract each row's median (scan-line offsets; Gwyddion's "median" alignment).
* ``align-rows-diff``: Gwyddion's "median of differences", shifting each row by the median of its
  difference to the row above. It accumulates: on the same pillar array it drifts by hundreds of nm,
  so it is not the default.
* ``scars``: scan lines that jump far off the lines around them are filled from their neighbours
  (:mod:`napari_se3afm.image.scars`); a scar left in drags the surface down over a tip's width.

Measured ranges on every file of ``../shared/data/real`` are in ``docs/io.md``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .scars import remove_scars

__all__ = [
    "DEFAULT_STEPS",
    "align_rows",
    "align_rows_differences",
    "check_steps",
    "level",
    "polynomial_background",
    "subtract_plane",
]

#: What reconstruction applies unless told otherwise.
#: Row alignment is not in it: both row methods distort images whose features fill most of a row
#: (the dense spike arrays that tip estimation likes best); ask for it where scan lines jump.
DEFAULT_STEPS = ("plane", "scars", "zero-min")


def align_rows(image: np.ndarray) -> np.ndarray:
    """Subtract each row's median (removes scan-line offsets without drifting)."""
    z = np.asarray(image, dtype=np.float64)
    return z - np.median(z, axis=1, keepdims=True)


def align_rows_differences(image: np.ndarray) -> np.ndarray:
    """Shift each row by the median of its differences to the row above (accumulates; see module doc)."""
    z = np.asarray(image, dtype=np.float64)
    steps = np.median(np.diff(z, axis=0), axis=1)
    return z - np.concatenate([[0.0], np.cumsum(steps)])[:, None]


#: the highest polynomial background (beyond, a fit follows features, not the background)
MAX_DEGREE = 8


def subtract_plane(image: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Remove the plane whose slopes are medians of differences over half the image in x and y.

    The result is written block by block into an array of ``dtype`` (float32 for display), so that
    a large scan costs its input, one half-size difference and the result, no more."""
    z = np.asarray(image, dtype=np.float64)
    ny, nx = z.shape
    hy, hx = max(ny // 2, 1), max(nx // 2, 1)
    sy = np.median(z[hy:] - z[:-hy], overwrite_input=True) / hy if ny > 1 else 0.0
    sx = np.median(z[:, hx:] - z[:, :-hx], overwrite_input=True) / hx if nx > 1 else 0.0
    rows, columns = sy * np.arange(ny)[:, None], sx * np.arange(nx)[None, :]
    out = np.empty(z.shape, dtype)
    block = max(1, 2**16 // max(nx, 1))
    for start in range(0, ny, block):
        out[start : start + block] = z[start : start + block] - rows[start : start + block] - columns
    return out


def polynomial_background(image: np.ndarray, degree: int = 2) -> np.ndarray:
    """Subtract the least-squares 2-D polynomial of total ``degree`` (for bow; not robust to features)."""
    if degree < 0 or degree > MAX_DEGREE:
        raise ParameterError(f"polynomial degree must be 0..{MAX_DEGREE}, got {degree}")
    z = np.asarray(image, dtype=np.float64)
    ny, nx = z.shape
    y, x = np.mgrid[:ny, :nx]
    y = 2 * y / max(ny - 1, 1) - 1
    x = 2 * x / max(nx - 1, 1) - 1
    terms = [x**i * y**j for i in range(degree + 1) for j in range(degree + 1 - i)]
    design = np.stack([t.ravel() for t in terms], axis=1)
    coef, *_ = np.linalg.lstsq(design, z.ravel(), rcond=None)
    return z - (design @ coef).reshape(ny, nx)


#: the steps :func:`level` knows; ``polyN`` is a polynomial background of degree N, at most MAX_DEGREE
STEPS = ("plane", "align-rows", "align-rows-diff", "scars", "polyN", "zero-min")


def check_steps(steps) -> None:
    """Refuse an unknown levelling step, or a polynomial degree beyond 8, by name, before any work."""
    for step in steps:
        if step not in STEPS and not (step.startswith("poly") and step[4:].isdigit()):
            raise ParameterError(
                f"unknown levelling step {step!r}: use plane, align-rows, align-rows-diff, scars, polyN or zero-min"
            )
        if step.startswith("poly") and int(step[4:]) > MAX_DEGREE:
            raise ParameterError(f"polynomial degree must be 0..{MAX_DEGREE}, got {int(step[4:])}")


def level(
    image: np.ndarray, steps: tuple[str, ...] | list[str] = DEFAULT_STEPS, found: dict | None = None
) -> tuple[np.ndarray, list[str]]:
    """Apply levelling steps in order; return the result and the steps applied (for metadata).

    Steps: ``"plane"``, ``"align-rows"``, ``"align-rows-diff"``, ``"scars"`` (scan-line scars filled;
    ``found["scar_pixels"]`` says how many pixels, ``found["scar_lines"]`` which lines), ``"polyN"`` (polynomial of
    degree N), ``"zero-min"`` (shift so the lowest point is 0).
    """
    check_steps(steps)
    z = np.asarray(image, dtype=np.float64)
    done = []
    for step in steps:
        if step == "scars":
            z, mask = remove_scars(z)
            if found is not None:
                found["scar_pixels"] = int(mask.sum())
                found["scar_lines"] = np.nonzero(mask.any(axis=1))[0].tolist()
        elif step == "align-rows":
            z = align_rows(z)
        elif step == "align-rows-diff":
            z = align_rows_differences(z)
        elif step == "plane":
            z = subtract_plane(z)
        elif step == "zero-min":
            z = z - z.min()
        else:  # polyN, as check_steps allows
            z = polynomial_background(z, int(step[4:]))
        done.append(step)
    return z, done
