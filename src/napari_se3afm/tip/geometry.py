"""The tip as a 3-D object: height map ``P`` <-> voxel volume, and ``P`` -> closed triangle mesh.

Both describe the *physical* tip, ``p(u) = -P(-u)`` (height above the apex), so what a user exports
is the tip as it stands on the cantilever, not its image. Axes: volume ``(z, y, x)`` with ``z = 0`` at
the apex and growing away from the sample; ``y`` along image rows, ``x`` along columns; mesh vertices
``(x, y, z)`` in nm with the apex at the origin.

A float volume stores in each voxel the fraction of it filled by tip material, so the height map is
recovered exactly (up to rounding) when the lateral grid equals the tip grid; a boolean volume is
quantised to half a voxel in height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from .descriptors import validate_tip
from .shapes import pixel_pair

__all__ = ["TipMesh", "TipVolume", "physical_tip", "tip_to_mesh", "tip_to_volume", "volume_to_tip"]


@dataclass(frozen=True)
class TipVolume:
    """Voxel grid of the physical tip: ``data`` (nz, ny, nx), ``voxel_nm`` (dz, dy, dx)."""

    data: np.ndarray
    voxel_nm: tuple[float, float, float]


@dataclass(frozen=True)
class TipMesh:
    """Closed, outward-oriented triangle mesh: ``vertices`` (N, 3) as x, y, z in nm; ``faces`` (M, 3)."""

    vertices: np.ndarray
    faces: np.ndarray


def physical_tip(tip: np.ndarray) -> np.ndarray:
    """Return ``p(u) = -P(-u)``: the tip surface's height above its apex, from the image tip ``P``."""
    return -np.asarray(tip, dtype=np.float64)[::-1, ::-1]


def _resample(field: np.ndarray, ny: int, nx: int) -> np.ndarray:
    """Bilinear resampling of a (K, K) grid onto (ny, nx) points spanning the same extent."""
    k0, k1 = field.shape
    if (ny, nx) == (k0, k1):
        return field.copy()
    yi = np.linspace(0, k0 - 1, ny)
    xi = np.linspace(0, k1 - 1, nx)
    y0 = np.clip(np.floor(yi).astype(int), 0, k0 - 2) if k0 > 1 else np.zeros(ny, int)
    x0 = np.clip(np.floor(xi).astype(int), 0, k1 - 2) if k1 > 1 else np.zeros(nx, int)
    ty = (yi - y0)[:, None]
    tx = (xi - x0)[None, :]
    y1 = np.minimum(y0 + 1, k0 - 1)
    x1 = np.minimum(x0 + 1, k1 - 1)
    f = field
    return (
        f[np.ix_(y0, x0)] * (1 - ty) * (1 - tx)
        + f[np.ix_(y1, x0)] * ty * (1 - tx)
        + f[np.ix_(y0, x1)] * (1 - ty) * tx
        + f[np.ix_(y1, x1)] * ty * tx
    )


def tip_to_volume(
    tip: np.ndarray,
    pixel_nm: float | tuple[float, float],
    *,
    shape: tuple[int, int, int] = (32, 32, 32),
    depth_nm: float | None = None,
    binary: bool = False,
) -> TipVolume:
    """Voxelise the physical tip.

    Parameters
    ----------
    tip : ndarray, shape (K, K)
        Tip height map ``P`` in nm.
    pixel_nm : float or (dy, dx)
        Tip pixel size in nm.
    shape : (nz, ny, nx)
        Voxel grid; the lateral grid spans the tip window from first to last pixel centre.
    depth_nm : float, optional
        Height covered by the volume; default the tip's full depth ``-P.min()``.
    binary : bool
        Return occupancy as bool (voxel at least half full) instead of the filled fraction.
    """
    p = physical_tip(validate_tip(tip, tolerance_nm=1e-6 * max(1.0, float(np.abs(tip).max()))))
    nz, ny, nx = (int(n) for n in shape)
    if min(nz, ny, nx) < 2:
        raise ParameterError(f"volume shape must be at least 2 along each axis, got {shape}")
    dy, dx = pixel_pair(pixel_nm)
    k = p.shape[0]
    depth = float(p.max()) if depth_nm is None else float(depth_nm)
    if not depth > 0:
        depth = max(dy, dx)  # a flat tip still gets a volume one pixel deep
    dz = depth / nz
    lateral = _resample(p, ny, nx)
    top = (np.arange(nz, dtype=np.float64) + 1.0)[:, None, None] * dz
    fill = np.clip((top - lateral[None]) / dz, 0.0, 1.0)
    data = fill >= 0.5 if binary else fill.astype(np.float32)
    voxel = (dz, dy * (k - 1) / (ny - 1), dx * (k - 1) / (nx - 1))
    return TipVolume(data=data, voxel_nm=voxel)


def volume_to_tip(volume: TipVolume, size_px: int | None = None) -> np.ndarray:
    """Recover the image tip ``P`` from a tip volume.

    The height at each lateral voxel column is the volume's top minus its filled height; it is
    resampled to ``size_px`` (default: the volume's lateral size, which must then be odd), reflected
    back to the image-tip convention, and its apex set to 0.
    """
    data = np.asarray(volume.data, dtype=np.float64)
    nz, ny, nx = data.shape
    dz = float(volume.voxel_nm[0])
    p = nz * dz - dz * data.sum(axis=0)
    k = ny if size_px is None else int(size_px)
    if k % 2 == 0 or ny != nx:
        raise ParameterError(f"cannot make an odd square tip of {k} px from a {ny}x{nx} volume")
    p = _resample(p, k, k)
    tip = -p[::-1, ::-1]
    c = k // 2
    return np.minimum(tip - tip[c, c], 0.0)


def tip_to_mesh(tip: np.ndarray, pixel_nm: float | tuple[float, float], *, depth_nm: float | None = None) -> TipMesh:
    """Closed triangle mesh of the physical tip solid ``{p(u) <= z <= depth}`` over the tip window.

    The lower surface is the height field triangulated on the pixel centres, the top a flat lid at
    ``depth_nm`` (default one pixel above the tip's deepest point, so no wall face is degenerate),
    joined by vertical walls; all faces point outwards.
    """
    p = physical_tip(validate_tip(tip, tolerance_nm=1e-6 * max(1.0, float(np.abs(tip).max()))))
    dy, dx = pixel_pair(pixel_nm)
    k = p.shape[0]
    c = k // 2
    depth = float(p.max()) + max(dy, dx) if depth_nm is None else float(depth_nm)
    if not depth > 0:
        raise ParameterError(f"mesh lid height must be > 0 nm, got {depth_nm!r}")
    z = np.minimum(p, depth)
    yy, xx = np.meshgrid((np.arange(k) - c) * dy, (np.arange(k) - c) * dx, indexing="ij")
    bottom = np.stack([xx.ravel(), yy.ravel(), z.ravel()], axis=1)
    top = np.stack([xx.ravel(), yy.ravel(), np.full(k * k, depth)], axis=1)
    vertices = np.concatenate([bottom, top])
    n = k * k

    def vid(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return i * k + j

    i, j = np.meshgrid(np.arange(k - 1), np.arange(k - 1), indexing="ij")
    i, j = i.ravel(), j.ravel()
    a, b, cc, d = vid(i, j), vid(i, j + 1), vid(i + 1, j), vid(i + 1, j + 1)
    # x grows with j, y with i: (a, b, d) is counter-clockwise seen from +z, so the bottom uses the
    # reverse order (normal -z) and the lid the forward order (normal +z).
    bottom_faces = np.concatenate([np.stack([a, d, b], 1), np.stack([a, cc, d], 1)])
    top_faces = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, cc], 1)]) + n
    # boundary loop, counter-clockwise seen from +z
    ring = (
        [vid(0, jj) for jj in range(k - 1)]
        + [vid(ii, k - 1) for ii in range(k - 1)]
        + [vid(k - 1, jj) for jj in range(k - 1, 0, -1)]
        + [vid(ii, 0) for ii in range(k - 1, 0, -1)]
    )
    ring_arr = np.array(ring)
    nxt = np.roll(ring_arr, -1)
    walls = np.concatenate([np.stack([ring_arr, nxt, nxt + n], 1), np.stack([ring_arr, nxt + n, ring_arr + n], 1)])
    faces = np.concatenate([bottom_faces, top_faces, walls]).astype(np.int64)
    return TipMesh(vertices=vertices, faces=faces)
