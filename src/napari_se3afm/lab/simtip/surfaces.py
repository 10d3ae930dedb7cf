"""SimTip surfaces: batched torch height maps in nm on a canvas, each sample with its own pixel size.

Families (paper §4.1.1), all on a small random substrate roughness except ``roughness`` itself:

* ``roughness``: Gaussian random field with a Gaussian autocorrelation ``exp(-r²/ξ²)`` (RMS σ,
  correlation length ξ), made by filtering white noise in Fourier space;
* ``particles``: spheres resting on the substrate (height map of their upper half), either a sparse
  random array (jittered lattice with partial occupancy) or a packed hexagonal array;
* ``steps``: a vicinal staircase of atomic steps, each edge meandering on its own;
* ``periodic``: gratings (lines), pillars, pits, and arrays of sharp spikes like tip characterisers;
* ``real``: real scans scaled so that a blunter tip images them (:mod:`.real_surfaces`).

Lattice features are evaluated per pixel against the 3×3 nearest lattice cells, with per-cell random
numbers from an integer hash of (sample seed, cell): cost does not grow with the number of features,
and the result does not depend on the device or on how samples are batched.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...errors import ParameterError
from .config import SURFACE_TYPES, SimTipConfig

__all__ = ["random_surfaces"]

_MASK32 = 0xFFFFFFFF


def _mix(h: torch.Tensor | int, key: torch.Tensor | int) -> torch.Tensor:
    """One round of a 32-bit avalanche hash folding ``key`` into ``h`` (int64 arithmetic, no overflow)."""
    h = torch.as_tensor(h, dtype=torch.int64)
    k = torch.as_tensor(key).to(torch.int64)
    h = (h * 0x01000193 ^ (k & _MASK32)) & _MASK32
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & _MASK32
    return h ^ (h >> 16)


def _hash(*keys: torch.Tensor | int) -> torch.Tensor:
    """Hash integer keys (tensors broadcast) to 32-bit values, identical on CPU and CUDA."""
    h: torch.Tensor | int = 0x2545F491
    for key in keys:
        h = _mix(h, key)
    return h  # type: ignore[return-value]


def _uniform_from(h: torch.Tensor, channel: int, dtype: torch.dtype) -> torch.Tensor:
    """Independent uniform [0, 1) numbers per hash value, one stream per ``channel``."""
    return _mix(h, channel + 1).to(dtype) / 2.0**32


def _grid_nm(pixel: torch.Tensor, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres ``(y, x)`` in nm, shape (B, H, W), for per-sample pixel sizes ``(B,)``."""
    h, w = shape
    dev, dt = pixel.device, pixel.dtype
    y = torch.arange(h, device=dev, dtype=dt).view(1, h, 1) * pixel.view(-1, 1, 1)
    x = torch.arange(w, device=dev, dtype=dt).view(1, 1, w) * pixel.view(-1, 1, 1)
    return y.expand(-1, h, w), x.expand(-1, h, w)


def _rotate(y: torch.Tensor, x: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    c, s = torch.cos(theta).view(-1, 1, 1), torch.sin(theta).view(-1, 1, 1)
    return -s * x + c * y, c * x + s * y


def gaussian_field(noise: torch.Tensor, correlation_px: torch.Tensor, rms: torch.Tensor) -> torch.Tensor:
    """Filter white noise ``(B, H, W)`` to a Gaussian-correlated field of the given RMS per sample."""
    _, h, w = noise.shape
    fy = torch.fft.fftfreq(h, device=noise.device, dtype=noise.dtype).view(1, h, 1)
    fx = torch.fft.rfftfreq(w, device=noise.device, dtype=noise.dtype).view(1, 1, -1)
    xi = correlation_px.view(-1, 1, 1)
    # autocorrelation exp(-r²/ξ²)  <=>  power spectrum ∝ exp(-π² ξ² f²); amplitude is its square root
    gain = torch.exp(-0.5 * math.pi**2 * xi**2 * (fy**2 + fx**2))
    field = torch.fft.irfft2(torch.fft.rfft2(noise) * gain, s=(h, w))
    field = field - field.mean(dim=(-2, -1), keepdim=True)
    std = field.std(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    return field / std * rms.view(-1, 1, 1)


def _lattice_cells(y: torch.Tensor, x: torch.Tensor, theta: torch.Tensor, pitch: torch.Tensor, hexagonal: torch.Tensor):
    """Yield, for each of the 3×3 lattice sites nearest to every pixel, ``(du, dw, row, col)``.

    ``du, dw`` are the pixel's offsets (nm) from the site along and across the rotated rows. Rows of
    a hexagonal lattice are ``pitch·√3/2`` apart and every other row is offset by half a pitch.
    """
    w_, u_ = _rotate(y, x, theta)
    s = pitch.view(-1, 1, 1)
    hexa = hexagonal.view(-1, 1, 1).to(y.dtype)
    row_pitch = s * (1 - hexa + hexa * math.sqrt(3) / 2)
    r0 = torch.round(w_ / row_pitch)
    for dr in (-1, 0, 1):
        row = r0 + dr
        shift = hexa * 0.5 * s * torch.remainder(row, 2)
        c0 = torch.round((u_ - shift) / s)
        for dc in (-1, 0, 1):
            col = c0 + dc
            yield u_ - col * s - shift, w_ - row * row_pitch, row, col


def _uniform(rng: np.random.Generator, bounds) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _roughness(rngs, pixel, shape, cfg, params, device, dtype) -> torch.Tensor:
    sc = cfg.surfaces
    noise = torch.from_numpy(np.stack([r.standard_normal(shape) for r in rngs])).to(device, dtype)
    rms = [_uniform(r, sc.roughness_rms_nm) for r in rngs]
    xi = [_uniform(r, sc.roughness_correlation_nm) for r in rngs]
    for p, a, b in zip(params, rms, xi, strict=True):
        p.update(rms_nm=a, correlation_nm=b)
    t = torch.tensor
    return gaussian_field(noise, t(xi, dtype=dtype, device=device) / pixel, t(rms, dtype=dtype, device=device))


def _substrate(rngs, pixel, shape, cfg, params, device, dtype) -> torch.Tensor:
    sc = cfg.surfaces
    noise = torch.from_numpy(np.stack([r.standard_normal(shape) for r in rngs])).to(device, dtype)
    rms = [_uniform(r, sc.substrate_rms_nm) for r in rngs]
    for p, a in zip(params, rms, strict=True):
        p["substrate_rms_nm"] = a
    t = torch.tensor(rms, dtype=dtype, device=device)
    return gaussian_field(noise, torch.full_like(t, 3.0) / pixel, t)


def _tensor(values, like: torch.Tensor, dtype=None) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype or like.dtype, device=like.device)


def _log_uniform(rng: np.random.Generator, bounds) -> float:
    return math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1])))


def _particles(rngs, pixel, shape, cfg, params, device, dtype) -> torch.Tensor:
    sc = cfg.surfaces
    spread = sc.particle_size_spread
    cols: dict[str, list] = {k: [] for k in ("diameter", "pitch", "cover", "hexa", "theta", "seed")}
    for r, p in zip(rngs, params, strict=True):
        d = _log_uniform(r, sc.particle_diameter_nm)
        packed = bool(r.random() < sc.particle_packed_probability)
        spacing = _uniform(r, sc.particle_spacing_packed if packed else sc.particle_spacing_random)
        coverage = 1.0 if packed else _uniform(r, sc.particle_coverage_random)
        for key, v in zip(
            cols, (d, d * spacing, coverage, packed, r.uniform(0, math.pi), int(r.integers(0, 2**31))), strict=True
        ):
            cols[key].append(v)
        p.update(diameter_nm=d, packed=packed, spacing=spacing, coverage=coverage)
    radius = _tensor(cols["diameter"], pixel).view(-1, 1, 1) / 2
    pitch = _tensor(cols["pitch"], pixel)
    s = pitch.view(-1, 1, 1)
    cover = _tensor(cols["cover"], pixel).view(-1, 1, 1)
    seed = _tensor(cols["seed"], pixel, torch.int64).view(-1, 1, 1)
    # centres move at most by the free room between neighbours, so packed arrays stay packed and a
    # sphere never reaches beyond the 3×3 cells that are searched
    room = (s - 2 * radius * (1 + spread)).clamp_min(0)
    y, x = _grid_nm(pixel, shape)
    best = torch.zeros_like(y)
    cells = _lattice_cells(y, x, _tensor(cols["theta"], pixel), pitch, _tensor(cols["hexa"], pixel, torch.bool))
    for du, dw, row, col in cells:
        cell = _hash(seed, row.to(torch.int64), col.to(torch.int64))
        occupied, size, ju, jw = (_uniform_from(cell, k, dtype) for k in range(4))
        r = radius * (1 + spread * (2 * size - 1))
        d2 = (du - (ju - 0.5) * room) ** 2 + (dw - (jw - 0.5) * room) ** 2
        cap = r + torch.sqrt((r * r - d2).clamp_min(0))  # upper half of a sphere resting on z = 0
        best = torch.maximum(best, torch.where((d2 < r * r) & (occupied < cover), cap, 0.0))
    return best


def _steps(rngs, pixel, shape, cfg, params, device, dtype) -> torch.Tensor:
    sc = cfg.surfaces
    cols: dict[str, list] = {k: [] for k in ("height", "width", "meander", "theta", "freq", "amp", "seed")}
    for r, p in zip(rngs, params, strict=True):
        height, width = _uniform(r, sc.step_height_nm), _uniform(r, sc.terrace_width_nm)
        meander = min(_uniform(r, sc.step_meander_nm), 0.45 * width)
        amp = r.uniform(0.5, 1.0, 3)
        for key, v in zip(
            cols,
            (
                height,
                width,
                meander,
                r.uniform(0, 2 * math.pi),
                r.uniform(1 / 200, 1 / 20, 3),
                amp / amp.sum(),
                int(r.integers(0, 2**31)),
            ),
            strict=True,
        ):
            cols[key].append(v)
        p.update(step_height_nm=height, terrace_width_nm=width, meander_nm=meander)
    v = {k: _tensor(np.asarray(c), pixel, torch.int64 if k == "seed" else None) for k, c in cols.items()}
    y, x = _grid_nm(pixel, shape)
    along, across = _rotate(y, x, v["theta"])
    width = v["width"].view(-1, 1, 1)
    meander = v["meander"].view(-1, 1, 1)
    j0 = torch.floor(across / width)
    level = j0 - 1
    for dj in (-1, 0, 1):  # only these edges can reach a pixel while |meander| < width / 2
        edge = _hash(v["seed"].view(-1, 1, 1), (j0 + dj).to(torch.int64))
        m = torch.zeros_like(across)
        for k in range(3):
            phase = 2 * math.pi * _uniform_from(edge, k, dtype)
            f, a = v["freq"][:, k].view(-1, 1, 1), v["amp"][:, k].view(-1, 1, 1)
            m = m + a * torch.sin(2 * math.pi * f * along + phase)
        level = level + (across > (j0 + dj) * width + meander * m).to(dtype)
    return level * v["height"].view(-1, 1, 1)


#: periodic patterns, in the order of the ``pattern`` code recorded in the parameters
PATTERNS = ("grating", "pillars", "pits", "spikes")


def _periodic(rngs, pixel, shape, cfg, params, device, dtype) -> torch.Tensor:
    sc = cfg.surfaces
    cols: dict[str, list] = {k: [] for k in ("kind", "period", "height", "duty", "theta", "hexa", "slope")}
    for r, p in zip(rngs, params, strict=True):
        kind = int(r.integers(len(PATTERNS)))
        period = _log_uniform(r, sc.period_nm)
        height, duty = _uniform(r, sc.pattern_height_nm), _uniform(r, sc.pattern_duty)
        angle = _uniform(r, sc.spike_half_angle_deg)
        hexa = bool(r.random() < 0.5)
        for key, val in zip(
            cols,
            (kind, period, height, duty, r.uniform(0, math.pi), hexa, 1 / math.tan(math.radians(angle))),
            strict=True,
        ):
            cols[key].append(val)
        p.update(pattern=PATTERNS[kind], period_nm=period, height_nm=height, duty=duty, hexagonal=hexa)
        if PATTERNS[kind] == "spikes":
            p["spike_half_angle_deg"] = angle
    v = {k: _tensor(c, pixel, torch.bool if k == "hexa" else None).view(-1, 1, 1) for k, c in cols.items()}
    y, x = _grid_nm(pixel, shape)
    dist = torch.full_like(y, torch.inf)  # distance to the nearest exact lattice site
    for du, dw, _, _ in _lattice_cells(y, x, v["theta"].view(-1), v["period"].view(-1), v["hexa"].view(-1)):
        dist = torch.minimum(dist, torch.hypot(du, dw))
    _, u = _rotate(y, x, v["theta"].view(-1))
    kind, height = v["kind"], v["height"]
    line = torch.remainder(u / v["period"], 1.0) < v["duty"]
    disc = dist < v["duty"] * v["period"] / 2
    spike = (height - dist * v["slope"]).clamp_min(0)
    zero = torch.zeros_like(y)
    out = torch.where(kind == 0, torch.where(line, height, zero), zero)
    out = torch.where(kind == 1, torch.where(disc, height, zero), out)
    out = torch.where(kind == 2, torch.where(disc, -height, zero), out)
    return torch.where(kind == 3, spike, out)


_FAMILIES = {"roughness": _roughness, "particles": _particles, "steps": _steps, "periodic": _periodic}


def random_surfaces(
    kinds: list[str],
    pixel_nm: torch.Tensor,
    shape: tuple[int, int],
    rngs: list[np.random.Generator],
    cfg: SimTipConfig,
    tip_radius_nm: list[float] | None = None,
) -> tuple[torch.Tensor, list[dict]]:
    """Return surfaces ``(B, H, W)`` in nm of the given families and the parameters drawn for each.

    ``pixel_nm`` (shape ``(B,)``) sets both device and dtype; sample ``i`` draws only from ``rngs[i]``.
    The "real" family also needs the apex radius of each sample's tip (``tip_radius_nm``).
    """
    from .real_surfaces import real_surfaces

    device, dtype = pixel_nm.device, pixel_nm.dtype
    out = torch.zeros((len(kinds), *shape), dtype=dtype, device=device)
    params: list[dict] = [{} for _ in kinds]
    for family in SURFACE_TYPES:
        idx = [i for i, k in enumerate(kinds) if k == family]
        if not idx:
            continue
        sub_rngs = [rngs[i] for i in idx]
        sub_params = [params[i] for i in idx]
        sel = torch.tensor(idx, device=device)
        if family == "real":
            radii = [tip_radius_nm[i] for i in idx] if tip_radius_nm is not None else None
            if radii is None:
                raise ParameterError("real surfaces need the apex radius of each sample's tip")
            out[sel] = real_surfaces(sub_rngs, pixel_nm[sel], shape, radii, cfg, sub_params)
            continue
        z = _FAMILIES[family](sub_rngs, pixel_nm[sel], shape, cfg, sub_params, device, dtype)
        if family != "roughness":
            z = z + _substrate(sub_rngs, pixel_nm[sel], shape, cfg, sub_params, device, dtype)
        out[sel] = z
    return out, params
