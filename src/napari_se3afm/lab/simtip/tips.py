"""SimTip tips: one random tip of each family per call, as ``P`` on the SimTip window (numpy).

The families of the paper's §4.1.1 are built from the analytic models of
:mod:`napari_se3afm.tip.shapes` (so the generator and the library share one tip geometry):

* ``pyramidal``: a 3- or 4-sided pyramid, silicon-nitride-like half-angle, rounded apex, any rotation;
* ``conical``: a slender cone with a small apex radius;
* ``spherical``: a ball on a steep stick (colloidal or evenly worn tips);
* ``damaged``: a blunt pyramid or cone worn flat along a tilted plane, sometimes chipped on one
  side, with small asperities on its flank and possibly a second apex (double tip).

The pixel size is chosen from the undamaged tip: the smallest one in the configured range for which
the whole border of the window lies at least ``tip_fit_depth_nm`` below the apex, so the part of the
tip that a surface of that relief can touch lies inside the window.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...tip.shapes import cone_tip, double_tip, pyramid_tip, sphere_tip, tip_offsets_nm
from .config import TIP_TYPES, SimTipConfig, choose_family

__all__ = ["SimulatedTip", "border_depth", "random_tip"]

_BISECTION_STEPS = 14


@dataclass(frozen=True)
class SimulatedTip:
    """One random tip: ``P`` in nm, its pixel size, family and drawn parameters."""

    tip: np.ndarray
    pixel_nm: float
    kind: str
    params: dict


def border_depth(tip: np.ndarray) -> float:
    """Depth below the apex (nm, >= 0) of the shallowest pixel on the window's border."""
    ring = np.concatenate([tip[0], tip[-1], tip[1:-1, 0], tip[1:-1, -1]])
    return float(-ring.max())


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _fit_pixel(build: Callable[[int, float], np.ndarray], k: int, cfg: SimTipConfig, depth: float) -> float:
    """Smallest pixel size in range whose window border is ``depth`` nm deep (bisection)."""
    low, high = (float(v) for v in cfg.pixel_nm)
    if border_depth(build(k, low)) >= depth:
        return low
    if border_depth(build(k, high)) < depth:
        return high
    for _ in range(_BISECTION_STEPS):  # depth grows with pixel size: every length scales with it
        mid = math.sqrt(low * high)
        if border_depth(build(k, mid)) >= depth:
            high = mid
        else:
            low = mid
    return high


def _recentre(p: np.ndarray, k: int) -> np.ndarray:
    """Crop a ``k`` window centred on the highest point of ``p`` and put the apex at 0."""
    big, c = p.shape[0], k // 2
    r, q = np.unravel_index(int(np.argmax(p)), p.shape)
    r = min(max(int(r), c), big - 1 - c)
    q = min(max(int(q), c), big - 1 - c)
    out = p[r - c : r + c + 1, q - c : q + c + 1]
    return np.minimum(out - out[c, c], 0.0)


def _damage(base: np.ndarray, pixel: float, cfg: SimTipConfig, rng: np.random.Generator, params: dict) -> np.ndarray:
    """Wear, chip and roughen a tip given on a larger grid, in the ``P`` (image) convention."""
    t = cfg.tips
    kb = base.shape[0]
    y, x = tip_offsets_nm(kb, pixel)
    # wear: material below a tilted plane is gone, p' = max(p, w + g u.n)  <=>  P' = min(P, -w + g v.n)
    wear = _uniform(rng, t.wear_depth_nm)
    tilt = math.tan(math.radians(_uniform(rng, t.wear_tilt_deg)))
    phi = rng.uniform(0, 2 * math.pi)
    p = np.minimum(base, -wear + tilt * (math.cos(phi) * x + math.sin(phi) * y))
    # chip: one side of the apex broken off a little deeper
    if rng.random() < 0.5:
        chi = rng.uniform(0, 2 * math.pi)
        side = (math.cos(chi) * x + math.sin(chi) * y) > rng.uniform(0, 0.5) * wear / max(tilt, 0.1)
        chip = wear + _uniform(rng, (0.5, 3.0))
        p = np.where(side, np.minimum(p, -chip), p)
        params["chip_nm"] = chip
    # asperities: small sharp bumps on the flank, below the current apex
    n_asp = int(rng.integers(t.asperities[0], t.asperities[1] + 1))
    top = float(p.max())
    for _ in range(n_asp):
        radius = rng.uniform(0.2, 0.7) * (kb // 2) * pixel
        angle = rng.uniform(0, 2 * math.pi)
        oy, ox = radius * math.sin(angle), radius * math.cos(angle)
        depth = _uniform(rng, t.asperity_depth_nm)
        bump = -np.hypot(y - oy, x - ox) / math.tan(math.radians(20.0))
        p = np.maximum(p, top - depth + bump)
    params.update(wear_nm=wear, wear_tilt=math.degrees(math.atan(tilt)), asperities=n_asp)
    return p


def random_tip(cfg: SimTipConfig, rng: np.random.Generator, kind: str | None = None) -> SimulatedTip:
    """Draw one tip (of a random family unless ``kind`` is given) and its pixel size."""
    t = cfg.tips
    k = cfg.tip_px
    if kind is None:
        kind = choose_family(rng, TIP_TYPES, t.weights)
    rotation = rng.uniform(0, 360)
    aniso = math.exp(rng.uniform(math.log(t.anisotropy[0]), math.log(t.anisotropy[1])))
    params: dict = {"rotation_deg": rotation}
    if kind == "pyramidal":
        sides = 3 if rng.random() < t.pyramid_three_sided else 4
        angle, radius = _uniform(rng, t.pyramid_half_angle_deg), _uniform(rng, t.pyramid_apex_radius_nm)
        params.update(sides=sides, half_angle_deg=angle, apex_radius_nm=radius, anisotropy=aniso)

        def build(n: int, px: float) -> np.ndarray:
            return pyramid_tip(
                n, px, half_angle_deg=angle, apex_radius_nm=radius, sides=sides, rotation_deg=rotation, anisotropy=aniso
            )
    elif kind == "conical":
        angle, radius = _uniform(rng, t.cone_half_angle_deg), _uniform(rng, t.cone_apex_radius_nm)
        params.update(half_angle_deg=angle, apex_radius_nm=radius, anisotropy=aniso)

        def build(n: int, px: float) -> np.ndarray:
            return cone_tip(n, px, half_angle_deg=angle, apex_radius_nm=radius, rotation_deg=rotation, anisotropy=aniso)
    elif kind == "spherical":
        radius, stick = _uniform(rng, t.sphere_radius_nm), _uniform(rng, t.sphere_stick_half_angle_deg)
        params.update(radius_nm=radius, stick_half_angle_deg=stick)

        def build(n: int, px: float) -> np.ndarray:
            return sphere_tip(n, px, radius_nm=radius, stick_half_angle_deg=stick)
    elif kind == "damaged":
        radius = _uniform(rng, t.damaged_apex_radius_nm)
        angle = _uniform(rng, t.pyramid_half_angle_deg if rng.random() < 0.5 else t.cone_half_angle_deg)
        sides = 4 if rng.random() < 0.5 else None
        params.update(half_angle_deg=angle, apex_radius_nm=radius, sides=sides or 0, anisotropy=aniso)

        def build(n: int, px: float) -> np.ndarray:
            if sides:
                return pyramid_tip(
                    n,
                    px,
                    half_angle_deg=angle,
                    apex_radius_nm=radius,
                    sides=sides,
                    rotation_deg=rotation,
                    anisotropy=aniso,
                )
            return cone_tip(n, px, half_angle_deg=angle, apex_radius_nm=radius, rotation_deg=rotation, anisotropy=aniso)
    else:
        raise ValueError(f"unknown tip family {kind!r}; known: {', '.join(TIP_TYPES)}")
    depth = cfg.tip_fit_depth_nm
    if isinstance(depth, tuple):  # drawn only when asked, so fixed-depth streams stay as they were
        depth = math.exp(rng.uniform(math.log(depth[0]), math.log(depth[1])))
        params["fit_depth_nm"] = depth
    pixel = _fit_pixel(build, k, cfg, float(depth))
    if kind == "damaged":
        p = _recentre(_damage(build(2 * k - 1, pixel), pixel, cfg, rng, params), k)
        if rng.random() < t.double_tip_probability:
            dist = max(_uniform(rng, t.double_tip_distance_nm) / pixel, 2.0)
            direction = rng.uniform(0, 2 * math.pi)
            c = k // 2
            off = (
                int(np.clip(round(dist * math.sin(direction)), -(c - 1), c - 1)),
                int(np.clip(round(dist * math.cos(direction)), -(c - 1), c - 1)),
            )
            depth = _uniform(rng, t.double_tip_depth_nm)
            p = double_tip(p, off, depth)
            params.update(double_tip_offset_px=off, double_tip_depth_nm=depth)
    else:
        p = build(k, pixel)
    return SimulatedTip(tip=np.ascontiguousarray(p, dtype=np.float64), pixel_nm=pixel, kind=kind, params=params)
