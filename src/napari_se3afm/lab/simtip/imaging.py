"""SimTip imaging: exact dilation on a larger canvas, then the scanner's and the electronics' artefacts.

Order and parameters (each switchable in :class:`~napari_se3afm.lab.simtip.config.ImagingConfig`):

1. ``clean``: the exact dilation ``I = max_v S(x - v) + P(v)`` evaluated from a surface canvas that is
   larger than the field of view by the tip radius and the drift margin, so no pixel of the image
   leans on a replicated border.
2. drift and creep, a slow lateral distortion: the raster scan reaches pixel ``(i, j)`` at time
   ``t = (i + j / W) / H``; thermal drift moves the sample by ``D · (t + q t²) / (1 + q)`` pixels in a
   random direction (``q`` in [0, 1] bends it), and piezo creep makes the slow axis lag by
   ``C · exp(-t / τ)`` pixels at the start of the frame. The image is the clean dilation sampled at
   the displaced positions (bilinear); the surface truth stays undistorted, as in a real instrument.
3. scanner bow: a paraboloid ``b · ((y - y0)² + (x - x0)²) / R²`` added to the heights, ``R`` the
   half-diagonal, centre near the middle of the frame;
4. scan-line offsets: each line shifted by a Gaussian offset of standard deviation ``σ_line``;
   scars (off by default): a few runs of 1–3 lines shifted by tens of nm, the first one often at
   the first line, as where the feedback settles at the start of a scan;
5. electronic noise: Gaussian noise of standard deviation ``σ``, white unless a spectral exponent
   ``β`` is drawn (power ``∝ f^-β``: the same white draw filtered, zero mean, then scaled to ``σ``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...image.morphology import _maxplus
from .config import ImagingConfig

__all__ = ["apply_artefacts", "dilate_canvas", "drift_margin"]


def drift_margin(cfg: ImagingConfig) -> int:
    """Extra canvas pixels on each side so that drift and creep never sample outside the canvas.

    It depends on the ranges only, not on the switches, so that switching drift or creep off leaves
    every surface (drawn on the canvas) exactly as it was.
    """
    return math.ceil(cfg.drift_px[1] + cfg.creep_px[1]) + 1


def dilate_canvas(canvas: torch.Tensor, tips: torch.Tensor) -> torch.Tensor:
    """Exact dilation without any border rule: ``(B, H+K-1, W+K-1)`` canvas → ``(B, H, W)`` image."""
    return _maxplus(canvas, torch.flip(tips, dims=(-2, -1)), 1 << 21)


def _warp(extended: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, margin: int) -> torch.Tensor:
    """Sample ``extended`` (B, H+2m, W+2m) at ``(i + m + dy, j + m + dx)`` bilinearly → (B, H, W)."""
    b, hp, wp = extended.shape
    h, w = hp - 2 * margin, wp - 2 * margin
    yy = torch.arange(h, device=dy.device, dtype=dy.dtype).view(1, h, 1) + margin + dy
    xx = torch.arange(w, device=dx.device, dtype=dx.dtype).view(1, 1, w) + margin + dx
    yy = yy.clamp(0, hp - 1)
    xx = xx.clamp(0, wp - 1)
    # the last row/column is reached as weight 1 on the upper neighbour, so no index leaves the field
    y0, x0 = yy.floor().clamp(max=max(hp - 2, 0)), xx.floor().clamp(max=max(wp - 2, 0))
    fy, fx = (yy - y0).to(extended.dtype), (xx - x0).to(extended.dtype)
    flat = extended.reshape(b, -1)
    y0i, x0i = y0.to(torch.int64), x0.to(torch.int64)

    def at(yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        return torch.gather(flat, 1, (yi * wp + xi).reshape(b, -1)).view(b, h, w)

    top = at(y0i, x0i) * (1 - fx) + at(y0i, x0i + 1) * fx
    bottom = at(y0i + 1, x0i) * (1 - fx) + at(y0i + 1, x0i + 1) * fx
    return top * (1 - fy) + bottom * fy


def _scars(rng: np.random.Generator, cfg: ImagingConfig, lines: int) -> tuple[np.ndarray, int]:
    """The offset of each of ``lines`` scan lines from scars (see :class:`ImagingConfig`), and how many runs."""
    offsets = np.zeros(lines)
    runs = int(rng.integers(cfg.scars[0], cfg.scars[1] + 1))
    for k in range(runs):
        length = int(rng.integers(1, 4))
        start = 0 if k == 0 and rng.uniform() < cfg.scar_at_start else int(rng.integers(0, lines))
        offsets[start : start + length] += rng.choice((-1.0, 1.0)) * _uniform(rng, cfg.scar_nm)
    return offsets, runs


def _uniform(rng: np.random.Generator, bounds) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _coloured(white: np.ndarray, exponent: float) -> np.ndarray:
    """``white`` noise (H, W) filtered so that its power falls as ``f^-exponent``, zero mean, unit std."""
    fy = np.fft.fftfreq(white.shape[0])[:, None]
    fx = np.fft.rfftfreq(white.shape[1])[None, :]
    f = np.hypot(fy, fx)
    gain = np.zeros_like(f)
    gain[f > 0] = f[f > 0] ** (-exponent / 2)
    out = np.fft.irfft2(np.fft.rfft2(white) * gain, s=white.shape)
    return out / out.std()


def apply_artefacts(
    extended: torch.Tensor,
    margin: int,
    rngs: list[np.random.Generator],
    cfg: ImagingConfig,
    params: list[dict],
) -> torch.Tensor:
    """Turn the clean dilation on the extended field ``(B, H+2m, W+2m)`` into the measured image."""
    b, hp, wp = extended.shape
    h, w = hp - 2 * margin, wp - 2 * margin
    dev, dt = extended.device, extended.dtype
    t = (
        torch.arange(h, device=dev, dtype=torch.float64).view(h, 1)
        + torch.arange(w, device=dev, dtype=torch.float64).view(1, w) / w
    ) / h
    dy = torch.zeros((b, h, w), device=dev, dtype=torch.float64)
    dx = torch.zeros_like(dy)
    for i, (r, p) in enumerate(zip(rngs, params, strict=True)):
        if cfg.drift:
            total, bend, angle = _uniform(r, cfg.drift_px), r.uniform(0, 1), r.uniform(0, 2 * math.pi)
            path = total * (t + bend * t * t) / (1 + bend)
            dy[i] += path * math.sin(angle)
            dx[i] += path * math.cos(angle)
            p.update(drift_px=total, drift_angle_deg=math.degrees(angle))
        if cfg.creep:
            amount, tau = _uniform(r, cfg.creep_px), _uniform(r, cfg.creep_fraction)
            dy[i] -= amount * torch.exp(-t / tau)
            p.update(creep_px=amount, creep_fraction=tau)
    image = (
        _warp(extended, dy, dx, margin)
        if (cfg.drift or cfg.creep)
        else extended[:, margin : margin + h, margin : margin + w].clone()
    )
    extra = np.zeros((b, h, w))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    for i, (r, p) in enumerate(zip(rngs, params, strict=True)):
        if cfg.bow:
            bow = _uniform(r, cfg.bow_nm)
            y0, x0 = (h - 1) / 2 + r.uniform(-0.2, 0.2) * h, (w - 1) / 2 + r.uniform(-0.2, 0.2) * w
            extra[i] += bow * ((yy - y0) ** 2 + (xx - x0) ** 2) / (((h - 1) ** 2 + (w - 1) ** 2) / 4)
            p["bow_nm"] = bow
        if cfg.line_offsets:
            sigma = _uniform(r, cfg.line_offset_nm)
            extra[i] += sigma * r.standard_normal((h, 1))
            p["line_offset_nm"] = sigma
        if cfg.scars[1] > 0:  # none draws nothing: the noise's stream does not depend on the option
            offsets, p["scars"] = _scars(r, cfg, h)
            extra[i] += offsets[:, None]
        if cfg.noise:
            sigma = _uniform(r, cfg.noise_nm)
            noise = r.standard_normal((h, w))
            if cfg.noise_exponent[1] > 0:  # white noise draws nothing more: its streams do not depend on the option
                beta = _uniform(r, cfg.noise_exponent)
                noise = _coloured(noise, beta)
                p["noise_exponent"] = beta
            extra[i] += sigma * noise
            p["noise_nm"] = sigma
    return image + torch.from_numpy(extra).to(dev, dt)
