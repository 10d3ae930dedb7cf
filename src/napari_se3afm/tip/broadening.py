"""How much a tip widens what it images: the width it adds at half height to a feature of height h.

A feature with a flat top and steep sides (a molecule lying on a flat substrate, to first order)
is imaged as itself dilated by the tip, so at half its height ``h / 2`` its image is the feature
widened by the tip's cross-section ``{v : P(v) >= -h/2}`` — exactly, whatever the feature's own
width. Across a direction ``n`` the image is wider by that cross-section's extent along ``n``;
averaged over directions (molecules lie every way) this is the *broadening* reported here, in nm.
It is TopoStats users' question — how wide would this tip make a 2 nm DNA strand — answered from the
tip itself. Closed forms: a paraboloid of apex radius ``R`` adds ``2 sqrt(R h)``, a cone of
half-angle ``α`` adds ``h tan α``.

The cross-section is taken on the tip interpolated bilinearly between its pixels (its edge found
to a fraction of a pixel along each of :data:`UPSAMPLE` sub-rows per pixel row). Where it reaches
the tip window's edge the tip widens the feature by more than the window shows: NaN.
"""

from __future__ import annotations

import numpy as np

from .shapes import pixel_pair

__all__ = ["BROADENING_HEIGHTS_NM", "BROADENING_KEYS", "broadening_key", "broadening_text", "tip_broadening"]

#: feature heights (nm) at which the broadening is reported: DNA and RNA (2 nm), proteins, particles
BROADENING_HEIGHTS_NM = (1.0, 2.0, 5.0, 10.0)
#: sub-rows per pixel row, and the directions the extent is averaged over
UPSAMPLE = 8
DIRECTIONS = 36


def broadening_key(height_nm: float) -> str:
    """The name of the broadening of ``height_nm`` features in tables and metadata, ``broadening_2nm``."""
    return f"broadening_{height_nm:g}nm"


#: the names of the broadenings :func:`tip_broadening` reports by default, in order
BROADENING_KEYS = tuple(map(broadening_key, BROADENING_HEIGHTS_NM))


def tip_broadening(
    tip: np.ndarray, pixel_nm: float | tuple[float, float], heights_nm=BROADENING_HEIGHTS_NM
) -> dict[str, float]:
    """The width (nm) the tip ``P`` adds at half height to features of each height in ``heights_nm``,
    averaged over directions; NaN where the cross-section reaches the window's edge."""
    dy, dx = pixel_pair(pixel_nm)
    fine = _upsampled_rows(np.asarray(tip, dtype=np.float64))
    k = tip.shape[0]
    y = (np.arange(fine.shape[0]) / UPSAMPLE - k // 2) * dy
    x = (np.arange(k) - k // 2) * dx
    angles = np.linspace(0.0, np.pi, DIRECTIONS, endpoint=False)
    out = {}
    for h in heights_nm:
        level = -0.5 * float(h)
        out[broadening_key(h)] = _mean_extent(fine, level, x, y, angles)
    return out


def _upsampled_rows(p: np.ndarray) -> np.ndarray:
    """``p`` interpolated linearly between its rows at :data:`UPSAMPLE` sub-rows per row."""
    k = p.shape[0]
    t = np.arange((k - 1) * UPSAMPLE + 1) / UPSAMPLE
    i = np.minimum(t.astype(int), k - 2)
    f = (t - i)[:, None]
    return p[i] * (1 - f) + p[i + 1] * f


def _mean_extent(fine: np.ndarray, level: float, x: np.ndarray, y: np.ndarray, angles: np.ndarray) -> float:
    """Mean over ``angles`` of the extent of ``{fine >= level}``, each row's ends found by linear
    interpolation between pixels; NaN where the set touches the window's edge."""
    inside = fine >= level
    rows = np.flatnonzero(inside.any(axis=1))
    if rows.size == 0:
        return float("nan")
    if rows[0] == 0 or rows[-1] == fine.shape[0] - 1 or inside[:, 0].any() or inside[:, -1].any():
        return float("nan")
    ends = []
    for r in rows:
        cols = np.flatnonzero(inside[r])
        for j, step in ((cols[0], -1), (cols[-1], 1)):
            a, b = fine[r, j], fine[r, j + step]  # inside, then the first pixel outside
            ends.append((x[j] + (x[j + step] - x[j]) * (a - level) / (a - b), y[r]))
    ends = np.asarray(ends)
    along = np.cos(angles)[:, None] * ends[None, :, 0] + np.sin(angles)[:, None] * ends[None, :, 1]
    return float(np.mean(along.max(axis=1) - along.min(axis=1)))


def broadening_text(
    values: dict[str, float],
    sigmas: dict[str, float] | None = None,
    pixel_nm: float | None = None,
    *,
    lines: bool = False,
) -> str:
    """For people, the width added at half height ± its σ where known, for each broadening in
    ``values``: ``"widens 1 / 2 / 5 / 10 nm features at half height by 6.3 ± 1 / 8.9 ± 2 / 14 ± 2 / > window
    nm"``. With ``pixel_nm``, a width under two pixels is shown as such: the scan's pixels do not
    resolve it. One line, or with ``lines`` short lines for a narrow panel."""
    sigmas = sigmas or {}
    heights, widths, unresolved = [], [], False
    for key, width in values.items():
        if not (key.startswith("broadening_") and key.endswith("nm")):
            continue
        sigma = sigmas.get(key, float("nan"))
        heights.append(key[len("broadening_") : -len("nm")])
        if not np.isfinite(width):
            widths.append("> window")
        elif pixel_nm is not None and width < 2 * pixel_nm:
            widths.append(f"< {2 * pixel_nm:.3g}")
            unresolved = True
        else:
            widths.append(f"{width:.2g}" + (f" ± {sigma:.1g}" if np.isfinite(sigma) and sigma > 0 else ""))
    if not heights:
        return ""
    parts = [f"widens {' / '.join(heights)} nm features", f"at half height by {' / '.join(widths)} nm"]
    parts += ["(under two pixels: not resolved)"] if unresolved else []
    return ("\n" if lines else " ").join(parts)
