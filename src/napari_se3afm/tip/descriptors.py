"""Numbers microscopists use to judge a tip, measured from any height map ``P``.

* apex radius of curvature: least-squares fit of ``h = A x² + B y² + C xy`` to the tip surface
  within 2.5 pixels of the apex; ``R = 1 / (A + B)`` (the radius of the mean curvature), exact for a
  paraboloid ``h = r² / 2R``;
* half-opening angle: straight-line fit of height against distance from the axis on the flanks
  (between 30 % and 90 % of the depth that the window captures in every direction), in 16 azimuth
  sectors; the steepest sector is reported (the face angle of a pyramid, the cone angle of a cone);
* asymmetry: ``rms(P(v) - P(-v)) / rms(P)``, 0 for a centro-symmetric tip;
* double tip: a second local maximum of ``P``, not next to the apex, higher than
  ``double_tip_depth_nm`` below the apex (default 20 % of the tip depth) and separated from it by a
  valley at least ``prominence_nm`` deep (default 2 % of the tip depth).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ParameterError
from .shapes import pixel_pair, tip_offsets_nm

__all__ = ["TipDescriptors", "apex_radius_floor_nm", "describe_tip", "descriptor_text", "validate_tip"]


@dataclass(frozen=True)
class TipDescriptors:
    """Tip figures of merit; lengths in nm, angles in degrees."""

    apex_radius_nm: float
    half_angle_deg: float
    asymmetry: float
    double_tip: bool
    depth_nm: float

    def as_dict(self) -> dict:
        """Return the descriptors as a plain dict (for metadata and tables)."""
        return asdict(self)


def validate_tip(tip: np.ndarray, *, tolerance_nm: float = 1e-9) -> np.ndarray:
    """Check the P convention (odd square, finite, apex 0 at the centre, values <= 0); return float64."""
    p = np.asarray(tip, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != p.shape[1] or p.shape[0] % 2 == 0:
        raise ParameterError(f"tip must be an odd square height map, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ParameterError("tip contains NaN or infinite values")
    c = p.shape[0] // 2
    if abs(p[c, c]) > tolerance_nm:
        raise ParameterError(f"tip apex (centre pixel) must be 0 nm, got {p[c, c]:.6g} nm")
    if p.max() > tolerance_nm:
        raise ParameterError(f"tip values must be <= 0 nm (apex highest), max is {p.max():.6g} nm")
    return p


def _apex_radius(h: np.ndarray, y: np.ndarray, x: np.ndarray, dy: float, dx: float) -> float:
    rr = (y / dy) ** 2 + (x / dx) ** 2
    sel = (rr <= 2.5**2) & (rr > 0)
    design = np.stack([x[sel] ** 2, y[sel] ** 2, x[sel] * y[sel]], axis=1)
    coef, *_ = np.linalg.lstsq(design, h[sel], rcond=None)
    mean_curv = coef[0] + coef[1]
    return float(1.0 / mean_curv) if mean_curv > 0 else math.inf


def _half_angle(h: np.ndarray, y: np.ndarray, x: np.ndarray, sectors: int = 16) -> float:
    border = np.concatenate([h[0], h[-1], h[:, 0], h[:, -1]])
    h_max = float(border.min())
    if h_max <= 0:
        return math.nan
    r = np.hypot(y, x)
    band = (h >= 0.3 * h_max) & (h <= 0.9 * h_max)
    sector = np.floor((np.arctan2(y, x) + np.pi) / (2 * np.pi) * sectors).astype(int) % sectors
    angles = []
    for s in range(sectors):
        sel = band & (sector == s)
        if sel.sum() >= 3 and np.ptp(r[sel]) > 0:
            slope = np.polyfit(r[sel], h[sel], 1)[0]
            angles.append(math.degrees(math.atan2(1.0, slope)) if slope > 0 else 90.0)
    return float(min(angles)) if angles else math.nan


def _line_min(p: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> float:
    n = max(abs(b[0] - a[0]), abs(b[1] - a[1])) + 1
    rows = np.rint(np.linspace(a[0], b[0], n)).astype(int)
    cols = np.rint(np.linspace(a[1], b[1], n)).astype(int)
    return float(p[rows, cols].min())


def _has_double_tip(p: np.ndarray, depth_limit: float, prominence: float) -> bool:
    k = p.shape[0]
    c = k // 2
    padded = np.pad(p, 1, constant_values=-np.inf)
    neigh = np.lib.stride_tricks.sliding_window_view(padded, (3, 3)).max(axis=(-2, -1))
    for i, j in zip(*np.nonzero((p >= neigh) & (p >= -depth_limit)), strict=True):
        if max(abs(i - c), abs(j - c)) <= 1:
            continue
        if p[i, j] - _line_min(p, (c, c), (int(i), int(j))) >= prominence:
            return True
    return False


def describe_tip(
    tip: np.ndarray,
    pixel_nm: float | tuple[float, float],
    *,
    double_tip_depth_nm: float | None = None,
    prominence_nm: float | None = None,
) -> TipDescriptors:
    """Measure apex radius, half-opening angle, asymmetry and the double-tip flag of ``P``.

    Parameters
    ----------
    tip : ndarray, shape (K, K)
        Tip height map ``P`` in nm (project convention), K >= 5.
    pixel_nm : float or (dy, dx)
        Tip pixel size in nm.
    double_tip_depth_nm, prominence_nm : float, optional
        Double-tip criteria; default 20 % and 2 % of the tip depth.
    """
    p = validate_tip(tip, tolerance_nm=1e-6 * max(1.0, float(np.abs(tip).max())))
    if p.shape[0] < 5:
        raise ParameterError(f"describing a tip needs at least 5x5 pixels, got {p.shape}")
    dy, dx = pixel_pair(pixel_nm)
    y, x = tip_offsets_nm(p.shape[0], (dy, dx))
    depth = float(-p.min())
    h = -p
    rms = float(np.sqrt(np.mean(p**2)))
    asym = float(np.sqrt(np.mean((p - p[::-1, ::-1]) ** 2)) / rms) if rms > 0 else 0.0
    dlim = 0.2 * depth if double_tip_depth_nm is None else float(double_tip_depth_nm)
    prom = 0.02 * depth if prominence_nm is None else float(prominence_nm)
    return TipDescriptors(
        apex_radius_nm=_apex_radius(h, y, x, dy, dx),
        half_angle_deg=_half_angle(h, y, x),
        asymmetry=asym,
        double_tip=bool(depth > 0 and _has_double_tip(p, dlim, max(prom, 1e-12))),
        depth_nm=depth,
    )


def apex_radius_floor_nm(pixel_nm: float | tuple[float, float]) -> float:
    """The smallest apex radius a scan's pixels resolve: one pixel (the geometric mean of its sides).

    The radius is fitted over a few pixels around the apex: a tip sharper than a pixel reads as about
    a pixel whatever its true radius, so below this only an upper limit is known."""
    dy, dx = pixel_pair(pixel_nm)
    return float(math.sqrt(dy * dx))


def descriptor_text(name: str, value: float, sigma: float | None, unit: str, pixel_nm=None) -> str:
    """One descriptor for people: ``"12.3 ± 4.5 nm"``; ``"not measurable"`` where it is NaN (a
    needle within the window, a flat tip); σ left out where none is known (``None``: a method
    without σ) or it is vanishingly small, ``"(σ unknown)"`` where it is NaN (the σ map leaves the
    descriptor ill-determined); an apex radius under a pixel (``pixel_nm`` given) as ``"≤ 1.3 nm
    (under a pixel: not resolved)"`` (:func:`apex_radius_floor_nm`)."""
    if not math.isfinite(value):
        return "not measurable"
    if name == "apex_radius_nm" and pixel_nm is not None:
        floor = apex_radius_floor_nm(pixel_nm)
        if value < floor:
            return f"≤ {floor:.2g}{unit} (under a pixel: not resolved)"
    if sigma is not None and math.isnan(sigma):
        return f"{value:.3g}{unit} (σ unknown)"
    shown = sigma is not None and math.isfinite(sigma) and sigma >= 0.001 * abs(value)
    return f"{value:.3g}" + (f" ± {sigma:.2g}" if shown else "") + unit
