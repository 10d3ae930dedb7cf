"""Benchmark metrics, defined once and precisely (``docs/metrics.md`` explains each with its formula).

All heights in nm. Tips follow the project convention (``P``, apex 0 at the centre, values <= 0).

* :func:`probe_depth` (from :mod:`napari_se3afm.nn.sigma`): how deep below its apex any tip can touch this surface;
* :func:`tip_errors`: RMSE and MAE between two tips, apex-aligned, both clipped at the probe depth;
* :func:`surface_errors`: RMSE and SSIM away from the border;
* :func:`calibration`: expected calibration error, Gaussian NLL and rank correlation of σ with |error|;
* :func:`plausibility`: fraction of tip pixels above the apex, of surface pixels above the erosion bound;
* :func:`redilation_residual`: what the surface, imaged by the tip, leaves of the image.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ..errors import ParameterError
from ..nn.sigma import probe_depth

__all__ = [
    "calibration",
    "clipped_tip_difference",
    "edge_band_means",
    "edge_ratio",
    "measurable_tip_difference",
    "plausibility",
    "probe_depth",
    "redilation_residual",
    "ssim",
    "surface_errors",
    "tip_errors",
]

#: Central-interval probabilities at which calibration is checked (ECE averages over them).
ECE_LEVELS = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))


def _fit_window(tip: np.ndarray, k: int) -> np.ndarray:
    """Centre-crop or pad (with -inf: no tip there) a tip to ``k × k``."""
    p = np.asarray(tip, dtype=np.float64)
    n = p.shape[0]
    if n == k:
        return p
    if n > k:
        o = (n - k) // 2
        return p[o : o + k, o : o + k]
    out = np.full((k, k), -np.inf)
    o = (k - n) // 2
    out[o : o + n, o : o + n] = p
    return out


def tip_errors(estimate: np.ndarray, truth: np.ndarray, depth: float) -> dict[str, float]:
    """RMSE and MAE (nm) over the true tip's window, apex-aligned, both clipped at ``-depth``.

    Both tips are referenced to their centre pixel (the apex by convention), the estimate is
    centre-cropped or padded to the true window, and every value below ``-depth`` is set to
    ``-depth``, because no surface of that relief can tell those depths apart.
    ``tip_bias`` is the mean of ``estimate − truth`` where either tip reaches above ``-depth``:
    negative for a tip sharper than the truth, positive for a blunter one.
    """
    d, seen = measurable_tip_difference(estimate, truth, depth)
    return {
        "tip_rmse": float(np.sqrt(np.mean(d * d))),
        "tip_mae": float(np.mean(np.abs(d))),
        "tip_bias": float(d[seen].mean()) if seen.any() else 0.0,
    }


def _clipped_tips(estimate: np.ndarray, truth: np.ndarray, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Both tips on the true tip's window, apex-aligned and clipped at ``-depth``."""
    if not depth >= 0:
        raise ParameterError(f"probe depth must be >= 0 nm, got {depth!r}")
    t = np.asarray(truth, dtype=np.float64)
    e = _fit_window(estimate, t.shape[0])
    c = t.shape[0] // 2
    return np.maximum(e - e[c, c], -depth), np.maximum(t - t[c, c], -depth)


def clipped_tip_difference(estimate: np.ndarray, truth: np.ndarray, depth: float) -> np.ndarray:
    """Per-pixel ``estimate − truth`` on the true tip's window, apex-aligned, both clipped at ``-depth``."""
    e, t = _clipped_tips(estimate, truth, depth)
    return e - t


def measurable_tip_difference(estimate: np.ndarray, truth: np.ndarray, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`clipped_tip_difference` and where it measures something: at least one tip above ``-depth``.

    Below the probe depth both tips are clipped and their difference is 0 by construction, so these
    pixels say nothing about a predicted σ (counting them put every tip ECE near 0.5).
    """
    e, t = _clipped_tips(estimate, truth, depth)
    return e - t, (e > -depth) | (t > -depth)


def _gaussian_valid(z: np.ndarray, sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    from numpy.lib.stride_tricks import sliding_window_view

    rows = sliding_window_view(z, g.size, axis=0) @ g
    return sliding_window_view(rows, g.size, axis=1) @ g


def ssim(estimate: np.ndarray, truth: np.ndarray, data_range: float | None = None) -> float:
    """Mean structural similarity (Wang et al. 2004: Gaussian window σ = 1.5 px, K1 = 0.01, K2 = 0.03).

    ``data_range`` defaults to the peak-to-valley of ``truth``; only windows fully inside count.
    """
    x = np.asarray(estimate, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    if x.shape != y.shape or min(x.shape) < 11:
        raise ParameterError(f"SSIM needs two equal images of at least 11x11 px, got {x.shape} and {y.shape}")
    span = float(y.max() - y.min()) if data_range is None else float(data_range)
    span = span if span > 0 else 1.0
    c1, c2 = (0.01 * span) ** 2, (0.03 * span) ** 2
    mx, my = _gaussian_valid(x), _gaussian_valid(y)
    vx = _gaussian_valid(x * x) - mx * mx
    vy = _gaussian_valid(y * y) - my * my
    cxy = _gaussian_valid(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def surface_errors(estimate: np.ndarray, truth: np.ndarray, border: int) -> dict[str, float]:
    """Surface RMSE (nm) and SSIM over the image less ``border`` pixels on each side."""
    e = np.asarray(estimate, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    if e.shape != t.shape:
        raise ParameterError(f"estimated surface {e.shape} and true surface {t.shape} differ in shape")
    b = int(border)
    e, t = (a[b : a.shape[0] - b, b : a.shape[1] - b] for a in (e, t))
    if min(t.shape) < 11:
        raise ParameterError(f"a border of {b} px leaves too little image to compare")
    return {"surface_rmse": float(np.sqrt(np.mean((e - t) ** 2))), "surface_ssim": ssim(e, t)}


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties given their average rank."""
    order = np.argsort(a, kind="stable")
    ranks = np.empty(a.size, dtype=np.float64)
    ranks[order] = np.arange(a.size, dtype=np.float64)
    values, inverse = np.unique(a, return_inverse=True)
    if values.size < a.size:
        sums = np.bincount(inverse, weights=ranks)
        counts = np.bincount(inverse)
        ranks = (sums / counts)[inverse]
    return ranks


def calibration(error: np.ndarray, sigma: np.ndarray) -> dict[str, float]:
    """Calibration of a Gaussian predictive σ against the actual error (same shapes, nm).

    * ``ece``: mean over central-interval probabilities ``p`` in :data:`ECE_LEVELS` of
      ``|fraction of |error| <= z_p σ  -  p|``, with ``z_p`` the two-sided normal quantile;
    * ``nll``: mean Gaussian negative log-likelihood ``½ log(2π σ²) + error² / (2 σ²)``;
    * ``spearman``: rank correlation between σ and |error| (1: σ orders the errors perfectly);
    * ``within_2sigma``: the share of errors within 2σ (0.954 for a calibrated Gaussian σ).
    """
    err = np.abs(np.asarray(error, dtype=np.float64)).ravel()
    sig = np.asarray(sigma, dtype=np.float64).ravel()
    if err.shape != sig.shape or err.size < 2:
        raise ParameterError("error and sigma must have the same shape and at least two values")
    if not np.all(sig > 0):
        raise ParameterError("sigma must be positive everywhere")
    normal = NormalDist()
    gaps = [abs(np.mean(err <= normal.inv_cdf(0.5 + p / 2) * sig) - p) for p in ECE_LEVELS]
    nll = np.mean(0.5 * np.log(2 * math.pi * sig**2) + err**2 / (2 * sig**2))
    re, rs = _ranks(err), _ranks(sig)
    re -= re.mean()
    rs -= rs.mean()
    denom = math.sqrt(float(re @ re) * float(rs @ rs))
    return {
        "ece": float(np.mean(gaps)),
        "nll": float(nll),
        "spearman": float(re @ rs / denom) if denom else 0.0,
        "within_2sigma": float(np.mean(err <= 2 * sig)),
    }


def plausibility(
    surface: np.ndarray, tip: np.ndarray | None, image: np.ndarray, noise_nm: float, border: int
) -> dict[str, float]:
    """Fractions of physically impossible values in an estimate.

    * ``tip_above_apex``: tip pixels higher than the apex by more than 1e-6 nm (``P > P[c, c]``);
    * ``surface_above_bound``: surface pixels (``border`` px from the edge) above the erosion of the
      image by the estimated tip plus three noise standard deviations; with no tip estimate the
      bound is the image itself (an ideal spike).
    """
    from ..image.morphology import erode

    img = np.asarray(image, dtype=np.float64)
    if tip is None:
        bound, above = img, 0.0
    else:
        p = np.asarray(tip, dtype=np.float64)
        c = p.shape[0] // 2
        above = float(np.mean(p > p[c, c] + 1e-6))
        bound = erode(img, np.minimum(p - p[c, c], 0.0))
    b = int(border)
    s = np.asarray(surface, dtype=np.float64)[b : img.shape[0] - b, b : img.shape[1] - b]
    lim = bound[b : img.shape[0] - b, b : img.shape[1] - b] + 3 * float(noise_nm)
    return {"tip_above_apex": above, "surface_above_bound": float(np.mean(s > lim))}


def redilation_residual(image: np.ndarray, surface: np.ndarray, tip: np.ndarray) -> np.ndarray:
    """``I − dilate(S, P)`` away from a border of ``K − 1`` pixels, where the dilation leans on
    replicated edge pixels. Never negative for a surface below the erosion bound; for the erosion
    itself it is ``I − opening(I, P)``, what no surface imaged by that tip explains."""
    from ..image.morphology import dilate

    b = np.asarray(tip).shape[0] - 1
    img = np.asarray(image, dtype=np.float64)
    return (img - dilate(np.asarray(surface, dtype=np.float64), np.asarray(tip, dtype=np.float64)))[
        b : img.shape[0] - b, b : img.shape[1] - b
    ]


def fit_ratio(image: np.ndarray, surface: np.ndarray, tip: np.ndarray) -> float:
    """RMS of :func:`redilation_residual` over the image's white-noise estimate σ_n: how well the
    surface imaged by the tip reproduces the image (the real-scan bar: at most 2)."""
    from ..image.noise import estimate_noise

    residual = redilation_residual(image, surface, tip)
    return float(np.sqrt(np.mean(residual**2)) / estimate_noise(np.asarray(image, dtype=np.float64)))


def edge_band_means(field: np.ndarray, band: int, inner: int | None = None) -> tuple[float, float]:
    """Mean of ``field`` in the outer ``band`` pixels, and its mean beyond ``inner`` pixels from the
    edges (default ``band``)."""
    inner = band if inner is None else inner
    edge = np.ones(field.shape, bool)
    edge[band:-band, band:-band] = False
    return float(field[edge].mean()), float(field[inner:-inner, inner:-inner].mean())


def edge_ratio(field: np.ndarray, band: int, inner: int | None = None) -> float:
    """Mean of ``field`` in the outer ``band`` pixels over its mean beyond ``inner`` pixels from the
    edges (default ``band``): 1 when the edges are like the interior, below 1 for a frame that the
    edges lower less (``image − surface``: a surface that stays up along the edges)."""
    edge, inside = edge_band_means(field, band, inner)
    return edge / inside if inside > 0 else float("nan")
