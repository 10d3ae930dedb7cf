"""Analytic model tips as height maps ``P`` on the project's tip grid (nm, any pixel size and window).

Every model is built as a *physical* tip surface ``p(u)`` (height above the apex at lateral position
``u``) and returned as the image tip ``P(v) = -p(-v)`` (see :mod:`napari_se3afm.image.morphology`). A model
is a radial *profile* applied to a *gauge* of the lateral position:

* gauge: the distance from the axis, measured round (cone, paraboloid, sphere) or as the largest
  projection on the face normals of an n-sided pyramid; rotated by ``rotation_deg`` and stretched by
  ``anisotropy`` (the ratio of the x to the y extent at equal height);
* profile: a cone of half-angle ``half_angle_deg`` capped by a sphere of ``apex_radius_nm`` tangent
  to it; a paraboloid ``r**2 / (2 R)``; or a ball of radius ``R`` on a steep stick.

For a pyramid the rounded cap follows the polygon, so its curvature radius is ``apex_radius_nm``
across each face. Triangular pyramids (``sides=3``) and rotated anisotropic tips are asymmetric under
``v -> -v``: they exercise the project's no-mirror rule.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError

__all__ = [
    "cone_tip",
    "double_tip",
    "elliptic_paraboloid_tip",
    "in_tip_convention",
    "paraboloid_tip",
    "pixel_pair",
    "pyramid_tip",
    "sphere_tip",
    "tip_offsets_nm",
]


def in_tip_convention(values) -> np.ndarray:
    """A new tip height map ``P`` from ``values`` (K, K), in the project's convention: every value
    ≤ 0 (clipped) and the apex, the centre pixel, exactly 0."""
    tip = np.minimum(np.asarray(values, dtype=np.float64), 0.0)
    c = tip.shape[-1] // 2
    tip[..., c, c] = 0.0
    return tip


#: the pixel sizes an AFM scan can have, in nm (1 pm to 1 mm); outside, a damaged file or a unit error
PIXEL_NM_RANGE = (1e-3, 1e6)


def pixel_size_problem(dy: float, dx: float) -> str | None:
    """What is wrong with a pixel size ``(dy, dx)`` in nm, or None where it is one a scan can have."""
    low, high = PIXEL_NM_RANGE
    size = f"pixel size {dx:.4g} nm" if dy == dx else f"pixel size {dx:.4g} x {dy:.4g} nm (x, y)"
    if not all(isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v) for v in (dy, dx)):
        return f"{size} is not a finite number"
    if not (low <= dy <= high and low <= dx <= high):
        return f"{size} is outside 1 pm to 1 mm, which no AFM scan has (a damaged file, or a wrong unit?)"
    return None


def pixel_pair(pixel_nm: float | tuple[float, float]) -> tuple[float, float]:
    """Return ``(dy, dx)`` in nm from one pixel size or a pair, checked to be one a scan can have."""
    try:
        dy, dx = (pixel_nm, pixel_nm) if np.isscalar(pixel_nm) else tuple(pixel_nm)  # type: ignore[misc]
        dy, dx = float(dy), float(dx)
    except (TypeError, ValueError):
        raise ParameterError(f"pixel size must be a number or a pair (dy, dx) in nm, got {pixel_nm!r}") from None
    problem = pixel_size_problem(dy, dx)
    if problem:
        raise ParameterError(problem)
    return dy, dx


def _check_size(size_px: int) -> int:
    if int(size_px) != size_px or size_px < 1 or size_px % 2 == 0:
        raise ParameterError(f"tip size must be an odd number of pixels >= 1, got {size_px!r}")
    return int(size_px)


def tip_offsets_nm(size_px: int, pixel_nm: float | tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Lateral offsets ``(y, x)`` in nm of each tip pixel from the centre, shape (K, K) each."""
    k = _check_size(size_px)
    dy, dx = pixel_pair(pixel_nm)
    c = k // 2
    idx = np.arange(k, dtype=np.float64) - c
    return np.meshgrid(idx * dy, idx * dx, indexing="ij")


def _rotated_stretched(
    y: np.ndarray, x: np.ndarray, rotation_deg: float, anisotropy: float
) -> tuple[np.ndarray, np.ndarray]:
    if not anisotropy > 0:
        raise ParameterError(f"anisotropy must be positive, got {anisotropy!r}")
    t = math.radians(rotation_deg)
    xr = math.cos(t) * x + math.sin(t) * y
    yr = -math.sin(t) * x + math.cos(t) * y
    s = math.sqrt(anisotropy)
    return yr * s, xr / s


def _gauge(size_px: int, pixel_nm, sides: int | None, rotation_deg: float, anisotropy: float) -> np.ndarray:
    """Distance from the axis of each *physical* tip position ``u = -v`` (round or polygonal)."""
    y, x = tip_offsets_nm(size_px, pixel_nm)
    y, x = _rotated_stretched(-y, -x, rotation_deg, anisotropy)
    if sides is None:
        return np.hypot(x, y)
    if int(sides) < 3:
        raise ParameterError(f"a pyramid needs at least 3 sides, got {sides!r}")
    phis = 2 * np.pi * np.arange(int(sides)) / int(sides)
    return np.max(np.cos(phis)[:, None, None] * x + np.sin(phis)[:, None, None] * y, axis=0)


def _rounded_cone_profile(r: np.ndarray, apex_radius_nm: float, half_angle_deg: float) -> np.ndarray:
    if not 0 < half_angle_deg < 90:
        raise ParameterError(f"half-angle must be between 0 and 90 degrees, got {half_angle_deg!r}")
    if apex_radius_nm < 0:
        raise ParameterError(f"apex radius must be >= 0 nm, got {apex_radius_nm!r}")
    a = math.radians(half_angle_deg)
    big_r = float(apex_radius_nm)
    line = r / math.tan(a) - big_r * (1 / math.sin(a) - 1)
    if big_r == 0:
        return line
    cap = big_r - np.sqrt(np.clip(big_r**2 - r**2, 0, None))
    return np.where(r <= big_r * math.cos(a), cap, line)


def _as_image_tip(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    c = p.shape[0] // 2
    p = p - p[c, c]
    return -np.maximum(p, 0.0)


def pyramid_tip(
    size_px: int,
    pixel_nm: float | tuple[float, float],
    *,
    half_angle_deg: float = 35.0,
    apex_radius_nm: float = 10.0,
    sides: int = 4,
    rotation_deg: float = 0.0,
    anisotropy: float = 1.0,
) -> np.ndarray:
    """Return an n-sided pyramid with a rounded apex (silicon-nitride-like by default)."""
    r = _gauge(size_px, pixel_nm, sides, rotation_deg, anisotropy)
    return _as_image_tip(_rounded_cone_profile(r, apex_radius_nm, half_angle_deg))


def cone_tip(
    size_px: int,
    pixel_nm: float | tuple[float, float],
    *,
    half_angle_deg: float = 15.0,
    apex_radius_nm: float = 5.0,
    rotation_deg: float = 0.0,
    anisotropy: float = 1.0,
) -> np.ndarray:
    """Return a cone with a spherical apex tangent to its flanks."""
    r = _gauge(size_px, pixel_nm, None, rotation_deg, anisotropy)
    return _as_image_tip(_rounded_cone_profile(r, apex_radius_nm, half_angle_deg))


def paraboloid_tip(size_px: int, pixel_nm: float | tuple[float, float], *, apex_radius_nm: float = 10.0) -> np.ndarray:
    """Return the paraboloid ``h = r**2 / (2 R)``: apex radius of curvature ``R`` exactly."""
    return elliptic_paraboloid_tip(size_px, pixel_nm, apex_radius_nm=apex_radius_nm)


def elliptic_paraboloid_tip(
    size_px: int,
    pixel_nm: float | tuple[float, float],
    *,
    apex_radius_nm: float = 10.0,
    anisotropy: float = 1.0,
    rotation_deg: float = 0.0,
) -> np.ndarray:
    """Return an elliptic paraboloid; radii ``R * anisotropy`` (x) and ``R / anisotropy`` (y)."""
    if not apex_radius_nm > 0:
        raise ParameterError(f"apex radius must be > 0 nm, got {apex_radius_nm!r}")
    r = _gauge(size_px, pixel_nm, None, rotation_deg, anisotropy**2)
    return _as_image_tip(r**2 / (2 * apex_radius_nm))


def sphere_tip(
    size_px: int,
    pixel_nm: float | tuple[float, float],
    *,
    radius_nm: float = 20.0,
    stick_half_angle_deg: float = 5.0,
) -> np.ndarray:
    """Return a ball on a stick (colloidal probe or worn tip): a sphere, then a steep wall."""
    if not radius_nm > 0:
        raise ParameterError(f"sphere radius must be > 0 nm, got {radius_nm!r}")
    if not 0 < stick_half_angle_deg < 90:
        raise ParameterError(f"stick half-angle must be in (0, 90) degrees, got {stick_half_angle_deg!r}")
    r = _gauge(size_px, pixel_nm, None, 0.0, 1.0)
    cap = radius_nm - np.sqrt(np.clip(radius_nm**2 - r**2, 0, None))
    wall = radius_nm + (r - radius_nm) / math.tan(math.radians(stick_half_angle_deg))
    return _as_image_tip(np.where(r <= radius_nm, cap, wall))


def double_tip(tip: np.ndarray, offset_px: tuple[int, int], depth_nm: float) -> np.ndarray:
    """Add a second apex ``depth_nm`` below the first, ``offset_px`` (rows, cols) away in ``P``.

    The result is ``max(P(v), P(v - o) - depth)``: the image of a spike made by a tip with two apexes.
    """
    if depth_nm < 0:
        raise ParameterError(f"second apex depth must be >= 0 nm, got {depth_nm!r}")
    p = np.asarray(tip, dtype=np.float64)
    dy, dx = (int(o) for o in offset_px)
    shifted = np.full_like(p, -np.inf)
    k = p.shape[0]
    src = p[max(0, -dy) : k - max(0, dy), max(0, -dx) : k - max(0, dx)]
    shifted[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    out = np.maximum(p, shifted - depth_nm)
    return np.where(np.isfinite(out), out, p)
