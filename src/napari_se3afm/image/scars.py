"""Scan-line scars: a few scan lines that jump far above or below the lines around them.

A feedback glitch, a tip that skips for part of a line, a first line recorded before the scan
settled: one to three lines stand tens of nanometres off their neighbours along much of their
length, as hardly any surface imaged by a tip does. Left in, a low one drags the erosion bound down
over a tip's width of lines (a band of the surface lowered by the scar's depth), and a high one
carves the blind tip bound into a knife edge across the lines.

:func:`scar_mask` finds them: bands of 1 to :data:`MAX_SCAR_LINES` lines lying, pixel by pixel, more
than :data:`SCAR_STEPS` typical line-to-line changes (a robust spread of the differences between
consecutive lines) below both lines around them, or above both, over at least :data:`MIN_SCAR_SHARE`
of the line, and on to either end as long as it stands half as far off; and more than
:data:`SCAR_SLOPES` times the change between the lines beside it and the next ones (the edge of a
pyramid's imprint rises as steeply from the lines around it as it stands out). A band at the top or
bottom edge has neighbours on one side only, where a step of the surface looks the same: it must
also lie beyond the heights of the rest of the image. Where more than a tenth of the lines would be
scars (:data:`MAX_SCAR_LINE_SHARE`), they are the sample's own structure along the scan lines, and
none is. Offsets of longer stretches of lines are left to row alignment.

:func:`fill_scars` replaces the scars by the heights interpolated between the lines above and
below, column by column.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_SCAR_LINES",
    "MAX_SCAR_LINE_SHARE",
    "MIN_SCAR_SHARE",
    "SCAR_SLOPES",
    "SCAR_STEPS",
    "fill_scars",
    "remove_scars",
    "scar_lines_text",
    "scar_mask",
    "scar_text",
]

#: the widest scar, in scan lines
MAX_SCAR_LINES = 3
#: how far a scar stands off the lines around it, in robust spreads of the line-to-line differences.
#: On the real files of the test data only the Veeco scan's scars (40–140 nm, 90–350 spreads) pass 5;
#: no scan of the four SimTip test splits (660 scans: particles, steps, gratings, real morphologies,
#: line noise and drift) passes 8 (docs/io.md)
SCAR_STEPS = 8.0
#: how many times the change between the lines beside a scar and the next ones it stands off
SCAR_SLOPES = 3.0
#: the shortest scar, as a share of the line (and at least 8 pixels)
MIN_SCAR_SHARE = 1 / 8
#: scars are rare: where more than this share of the lines would be scars, the image has a structure
#: along its scan lines (a grating whose ridges run with them) and nothing is filled. The Veeco scan's
#: scars are 7 of its 512 lines
MAX_SCAR_LINE_SHARE = 0.1


def _scar_runs(weak: np.ndarray, strong: np.ndarray, length: int) -> np.ndarray:
    """The runs of ``weak`` pixels along a line that hold at least ``length`` ``strong`` ones
    (hysteresis: a scar's ends and the odd pixel inside it that stands less far off are kept, since
    one scar pixel left behind drags the surface down as far as the whole scar)."""
    starts = np.diff(np.r_[0, weak.astype(np.int8)]) == 1
    label = np.where(weak, np.cumsum(starts), 0)
    count = np.bincount(label, weights=strong & weak)
    keep = count >= length
    keep[0] = False
    return keep[label]


def _lines_beside(z: np.ndarray, top: int, end: int):
    """The lines a band ``top:end`` is compared with, each with the line beyond it (None where the
    image ends there): the lines just above and below it, or at the top or bottom edge the two lines
    on its one side (then the second one's line beyond is None). None where there are too few."""
    h = z.shape[0]

    def line(j: int):
        return z[j] if 0 <= j < h else None

    if top > 0 and end < h:
        return (z[top - 1], line(top - 2)), (z[end], line(end + 1))
    near, far = (end, end + 1) if top == 0 else (top - 1, top - 2)
    if line(far) is None:
        return None
    return (z[near], z[far]), (z[far], None)


def _outside(band: np.ndarray, rest: np.ndarray, tolerance: float) -> np.ndarray:
    """Where ``band`` lies more than ``tolerance`` below or above the heights of the rest of the
    image (its 0.5 and 99.5 percentiles, from at most about a million of its pixels): what a band at
    the edge must do to be a scar rather than a step (or the low end of a tilt)."""
    step = max(1, int(np.sqrt(rest.size / 2**20)))
    floor, ceiling = np.percentile(rest[::step, ::step], [0.5, 99.5])
    return (band.max(axis=0) < floor - tolerance) | (band.min(axis=0) > ceiling + tolerance)


def _bands(z: np.ndarray, tolerance: float, *, edges: bool) -> np.ndarray:
    """The scars among the bands inside the image (``edges=False``) or at its top and bottom edges."""
    h, w = z.shape
    length = max(8, int(w * MIN_SCAR_SHARE))
    mask = np.zeros(z.shape, dtype=bool)
    for lines in range(1, MAX_SCAR_LINES + 1):
        tops = (0, h - lines) if edges else range(1, h - lines)
        for top in tops:
            beside = _lines_beside(z, top, top + lines)
            if beside is None:
                continue
            (first, next_first), (second, next_second) = beside
            band = z[top : top + lines]
            low, high = np.minimum(first, second), np.maximum(first, second)
            off = np.maximum(low - band.max(axis=0), band.min(axis=0) - high)
            # the lines beside a scar run on as the surface does; a ridge or trench of the surface
            # itself (the edge of a pyramid's imprint) rises from them about as steeply as it stands out
            slope = np.zeros(w)
            for near, far in ((first, next_first), (second, next_second)):
                if far is not None:
                    slope = np.maximum(slope, np.abs(near - far))
            strong = (off > tolerance) & (off > SCAR_SLOPES * slope)
            if edges and strong.any():  # a step of the surface looks the same from one side
                strong &= _outside(band, z[lines:] if top == 0 else z[:top], tolerance)
            if strong.sum() >= length:
                mask[top : top + lines] |= _scar_runs(off > tolerance / 2, strong, length)
    return mask


def scar_mask(image: np.ndarray) -> np.ndarray:
    """True on the pixels of scan-line scars (rows are scan lines; see the module docstring). The
    scars inside the image are found first and filled before those at its edges are looked for: a
    band at the edge is compared with the lines beside it, which must not be scars themselves."""
    z = np.asarray(image, dtype=np.float64)
    h, w = z.shape
    if h < 4 or w < 8:
        return np.zeros(z.shape, dtype=bool)
    steps = np.diff(z, axis=0)
    spread = 1.4826 * float(np.median(np.abs(steps - np.median(steps))))
    if not spread > 0:
        return np.zeros(z.shape, dtype=bool)
    inside = _bands(z, SCAR_STEPS * spread, edges=False)
    filled = fill_scars(z, inside) if inside.any() else z
    mask = inside | _bands(filled, SCAR_STEPS * spread, edges=True)
    if mask.any(axis=1).sum() > MAX_SCAR_LINE_SHARE * h:
        return np.zeros(z.shape, dtype=bool)
    return mask


def fill_scars(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` with the pixels of ``mask`` interpolated, column by column, between the nearest
    unmasked pixels above and below (the nearest one alone at the top and bottom edges)."""
    z = np.array(image, dtype=np.float64)
    if not mask.any():
        return z
    h = z.shape[0]
    rows = np.arange(h)[:, None].repeat(z.shape[1], axis=1)
    above = np.maximum.accumulate(np.where(mask, -1, rows), axis=0)
    below = np.minimum.accumulate(np.where(mask, h, rows)[::-1], axis=0)[::-1]
    cols = np.broadcast_to(np.arange(z.shape[1]), z.shape)
    y, x = np.nonzero(mask & ((above >= 0) | (below < h)))
    a, b = above[y, x], below[y, x]
    za = z[np.maximum(a, 0), cols[y, x]]
    zb = z[np.minimum(b, h - 1), cols[y, x]]
    share = np.where((a >= 0) & (b < h), (y - a) / np.maximum(b - a, 1), np.where(a >= 0, 0.0, 1.0))
    z[y, x] = za + share * (zb - za)
    return z


def remove_scars(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image with its scan-line scars filled, and where they were."""
    mask = scar_mask(image)
    return fill_scars(image, mask), mask


def scar_lines_text(lines: list[int]) -> str:
    """Scan lines for people, runs of consecutive lines as ``first–last``: "lines 0–1, 480–482"."""
    runs: list[list[int]] = []
    for line in lines:
        if runs and line == runs[-1][-1] + 1:
            runs[-1].append(line)
        else:
            runs.append([line])
    where = ", ".join(f"{r[0]}" if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)
    return f"line{'s' * (len(lines) > 1)} {where}"


def scar_text(info: dict) -> str:
    """What levelling mended (a reconstruction's ``info``), for people: which scan lines and how
    many pixels; "" where it found no scar."""
    lines, pixels = info.get("scar_lines") or [], info.get("scar_pixels") or 0
    if not lines:
        return ""
    return f"scan-line scars filled from the lines beside them: {scar_lines_text(lines)} ({pixels} pixels)"
