"""The "real" SimTip surface family: real scans, scaled down and resampled, as true surfaces.

A real scan is a surface already dilated by the tip that recorded it, so it is smooth at that tip's
scale. Scaled down isotropically by ``s`` (lateral and heights alike: slopes keep their angles) and
resampled onto the SimTip pixel, its recording tip shrinks to ``s · R`` (``R``: the apex radius of the
scan's classical blind tip, an upper bound on the real tip's). ``s`` is chosen so that ``s · R`` is at
most :attr:`~napari_se3afm.lab.simtip.config.SurfaceConfig.real_bluntness` of the new tip's apex
radius: every feature of the surface is sharper than the tip that images it, and the dilated image
has a known answer. A random window of the scan (flipped and turned at random) fills the canvas.
Real morphologies (grains, particle arrays, films, streaks) that the synthetic families lack.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import ParameterError

__all__ = ["RealScan", "real_scan_bank", "real_surfaces"]

#: the classical blind tip window used to bound each real scan's recording tip
BANK_TIP_PX = 31


@dataclass(frozen=True)
class RealScan:
    """One real scan as a surface source: levelled heights (nm), pixel (nm), its tip's apex radius bound (nm)."""

    name: str
    height: np.ndarray
    pixel_nm: float
    tip_radius_nm: float


def _default_folder() -> Path:
    return Path(__file__).resolve().parents[5] / "shared" / "data" / "real"


@functools.lru_cache(maxsize=2)
def real_scan_bank(folder: str = "") -> tuple[RealScan, ...]:
    """Every readable real scan in ``folder`` (default ``../shared/data/real``) at least 64 px a side,
    levelled (plane, zero-min), with its classical blind tip's apex radius."""
    from ...classical.btr import DEFAULT_THRESHOLD_FACTOR, blind_tip
    from ...errors import Se3afmError
    from ...image.levelling import level
    from ...io import read_height_map
    from ...tip import describe_tip

    path = Path(folder) if folder else _default_folder()
    if not path.is_dir():
        raise ParameterError(f"the real surfaces need real scans in {path}, which is not a folder")
    bank = []
    for file in sorted(p for p in path.iterdir() if p.is_file() and p.suffix != ".md"):
        try:
            data = read_height_map(file)
        except Se3afmError:
            continue
        if data.pixel_nm is None or min(data.height.shape) < 64:
            continue
        z, _ = level(data.height, ("plane", "zero-min"))
        pixel = float(np.sqrt(np.prod(data.pixel_nm)))
        radius = describe_tip(
            blind_tip(z, BANK_TIP_PX, threshold_factor=DEFAULT_THRESHOLD_FACTOR).tip, pixel
        ).apex_radius_nm
        bank.append(RealScan(file.name, z, pixel, radius if math.isfinite(radius) else 2 * pixel))
    if not bank:
        raise ParameterError(f"no real scan in {path} can serve as a surface")
    return tuple(bank)


def _scale_range(scan: RealScan, canvas_px: int, pixel_nm: float, tip_radius_nm: float, bluntness: float):
    """(smallest, largest) scale: the window must fit in the scan; the scaled recording tip must stay blunt-free."""
    smallest = canvas_px * pixel_nm / (scan.pixel_nm * (min(scan.height.shape) - 1))
    largest = bluntness * tip_radius_nm / scan.tip_radius_nm
    return smallest, largest


def real_surfaces(
    rngs: list[np.random.Generator],
    pixel_nm: torch.Tensor,
    shape: tuple[int, int],
    tip_radius_nm: list[float],
    cfg,
    params: list[dict],
) -> torch.Tensor:
    """Surfaces ``(B, H, W)`` in nm from real scans for tips of the given apex radii (see the module)."""
    bank = real_scan_bank(cfg.surfaces.real_scans)
    out = torch.zeros((len(rngs), *shape), dtype=pixel_nm.dtype, device=pixel_nm.device)
    canvas = max(shape)
    for i, (rng, pixel, radius) in enumerate(zip(rngs, pixel_nm.tolist(), tip_radius_nm, strict=True)):
        order = rng.permutation(len(bank))
        ranges = [_scale_range(bank[j], canvas, pixel, radius, cfg.surfaces.real_bluntness) for j in order]
        fits = [k for k, (lo, hi) in enumerate(ranges) if lo <= hi]
        k = fits[0] if fits else int(np.argmax([hi / lo for lo, hi in ranges]))
        scan, (lo, hi) = bank[order[k]], ranges[k]
        scale = float(np.exp(rng.uniform(np.log(lo), np.log(max(lo, hi)))))
        window = canvas * pixel / (scale * scan.pixel_nm)  # real pixels across the canvas
        h, w = scan.height.shape
        r0, c0 = rng.uniform(0, h - 1 - window), rng.uniform(0, w - 1 - window)
        crop = scan.height[int(r0) : math.ceil(r0 + window) + 1, int(c0) : math.ceil(c0 + window) + 1]
        grid = torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float64))[None, None]
        # sample the window at the canvas pixels (bilinear); positions in the crop's own pixels
        ys = (r0 - int(r0)) + torch.arange(shape[0], dtype=torch.float64) * window / canvas
        xs = (c0 - int(c0)) + torch.arange(shape[1], dtype=torch.float64) * window / canvas
        gy = 2 * ys / max(crop.shape[0] - 1, 1) - 1
        gx = 2 * xs / max(crop.shape[1] - 1, 1) - 1
        mesh = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)[None]
        z = F.grid_sample(grid, mesh, mode="bilinear", align_corners=True)[0, 0] * scale
        if rng.random() < 0.5:
            z = z.flip(-1)
        z = torch.rot90(z, int(rng.integers(4)), dims=(0, 1)) if shape[0] == shape[1] else z
        out[i] = (z - z.min()).to(out)
        params[i].update(
            real_scan=scan.name,
            real_scale=scale,
            real_recording_tip_nm=scale * scan.tip_radius_nm,
            real_blunt_enough=bool(fits),
        )
    return out
