"""The calibrated σ maps of a model reconstruction: where to trust the surface and the tip.

The spread of Monte-Carlo dropout samples alone is far too small and ranks the errors poorly, so
the σ of a reconstruction combines it with physical indicators of where the surface is unknown, in
quadrature, times a scale predicted for the scan as a whole:

    σ_S = s · sqrt((a · σ_MC)² + (b · (R − S))² + (g · |∇S|)² + (h · (I − R))² + c²)

with ``R − S`` how far the network lowered the surface below the erosion bound (the tip never
touched there), ``|∇S|`` the surface slope per pixel (drift and creep displace steep edges),
``I − R`` how far below the image the bound lies (the tip's flank, not its apex, touched there) and
a floor ``c``. For the tip, ``σ_P = s · sqrt((a · σ_MC)² + (b · min(|P|, D))² + c²)`` with ``D``
the image's probe depth (:func:`probe_depth`), and 0 at the apex, which is fixed.

The weights and the scale's regression on the scan statistics :data:`SCAN_STATS` are fitted on
validation scans by :mod:`napari_se3afm.lab.calibration` and stored in the model's sidecar as
``sigma_model``; :func:`apply_sigma_model` applies them. A scan unlike any validation scan gets its
statistics clipped to :data:`STAT_CLIP` standard deviations and its scale clipped to the range of
the validation scans' scales: never an extrapolated one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = [
    "SCAN_STATS",
    "SURFACE_TERMS",
    "TIP_TERMS",
    "ScanScale",
    "SigmaModel",
    "SigmaPart",
    "apply_sigma_model",
    "drawn_tips",
    "gaussian_kernel",
    "gaussian_smooth",
    "log_statistics",
    "mc_spread",
    "probe_depth",
    "robust_spread",
    "scan_statistics",
    "sigma_inputs",
    "smooth_deviations",
    "smooth_rms",
]

SURFACE_TERMS = ("mc", "bound_gap", "slope", "contact_gap")
TIP_TERMS = ("mc", "depth")
#: statistics of a whole scan from which its σ scale is predicted (each used as ``log(x + STAT_EPS)``)
SCAN_STATS = (
    "noise",
    "pixel",
    "reach",
    "image_std",
    "surface_mc",
    "bound_gap",
    "bound_gap_p90",
    "bound_gap_p99",
    "bound_gap_frac",
    "contact_gap",
    "slope",
    "slope_p90",
    "tip_mc",
    "tip_depth",
)
#: keeps the logarithm of a statistic that is 0 (a flat scan, a noise-free image) finite (nm)
STAT_EPS = 1e-3
#: standardised statistics are clipped to this many validation standard deviations
STAT_CLIP = 4.0


def _max_filter(z: np.ndarray, k: int) -> np.ndarray:
    """Maximum over every valid ``k × k`` window (separable), shape ``(H-k+1, W-k+1)``."""
    from numpy.lib.stride_tricks import sliding_window_view

    rows = sliding_window_view(z, k, axis=0).max(axis=-1)
    return sliding_window_view(rows, k, axis=1).max(axis=-1)


def probe_depth(surface: np.ndarray, tip_size: int) -> float:
    """Largest rise of the surface within a tip window above the point under the window's centre.

    A tip pixel deeper than this below the apex can never touch the surface, so it is invisible in
    the image and no method can (or needs to) recover it.
    """
    s = np.asarray(surface, dtype=np.float64)
    k = int(tip_size)
    c = k // 2
    if s.shape[0] < k or s.shape[1] < k:
        raise ParameterError(f"surface {s.shape} is smaller than the {k} px tip window")
    return float((_max_filter(s, k) - s[c : s.shape[0] - c, c : s.shape[1] - c]).max())


def gaussian_kernel(sigma_px: float) -> np.ndarray:
    """A normalised 1-D Gaussian of ``sigma_px`` pixels, out to 3 σ."""
    radius = max(1, math.ceil(3 * sigma_px))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1, dtype=np.float64) / sigma_px) ** 2)
    return kernel / kernel.sum()


def gaussian_smooth(a: np.ndarray, sigma_px: float, *, mirror: bool = True) -> np.ndarray:
    """``a`` (..., H, W) under a Gaussian of ``sigma_px`` pixels along its last two axes, the edges
    mirrored (``mirror=False``: zero beyond them)."""
    kernel = gaussian_kernel(sigma_px)
    radius = kernel.size // 2
    out = np.asarray(a, dtype=np.float64)
    for axis in (-2, -1):
        n = out.shape[axis]
        if mirror:
            index = np.abs(np.arange(-radius, n + radius))
            index = np.where(index >= n, 2 * (n - 1) - index, index).clip(0, n - 1)
            padded = np.take(out, index, axis=axis)
        else:
            widths = [(0, 0)] * out.ndim
            widths[axis] = (radius, radius)
            padded = np.pad(out, widths)
        out = sum(w * np.take(padded, np.arange(i, i + n), axis=axis) for i, w in enumerate(kernel))
    return out


def smooth_deviations(
    draws: int, shape: tuple[int, ...], correlation_px: float, *, mirror: bool = True, seed: int = 0
) -> np.ndarray:
    """``draws`` smooth random fields of ``shape`` with unit variance (a fixed seed): white noise under
    a Gaussian of ``correlation_px``, divided by what a separable Gaussian does to white noise's σ
    (the 1-D kernel's Σk²). Multiplied by a σ map, they draw plausible errors of a map: correlated
    over a few pixels, as real errors are. With ``mirror=False`` nothing correlates beyond the edges
    and the variance falls towards them."""
    noise = np.random.default_rng(seed).standard_normal((draws, *shape))
    return gaussian_smooth(noise, correlation_px, mirror=mirror) / np.sum(gaussian_kernel(correlation_px) ** 2)


#: tips drawn from a tip's σ map to carry it into what is measured on the tip, and the correlation
#: length (pixels) of their deviations: a smooth deviation changes the apex's curvature as a real error does
DESCRIPTOR_DRAWS = 32
DESCRIPTOR_CORRELATION_PX = 2.0


def drawn_tips(tip: np.ndarray, tip_std: np.ndarray, bound: np.ndarray | None = None) -> np.ndarray:
    """:data:`DESCRIPTOR_DRAWS` tips (N, K, K) around ``tip`` with deviations of its σ map, smooth over
    :data:`DESCRIPTOR_CORRELATION_PX` (a fixed seed; unit variance inside the window, less towards its
    edges: nothing correlates beyond them), held to the blind ``bound`` where one is given: no tip
    above it imaged the scan. Not yet in the tip convention."""
    deviations = smooth_deviations(DESCRIPTOR_DRAWS, tip.shape, DESCRIPTOR_CORRELATION_PX, mirror=False)
    drawn = tip[None] + tip_std[None] * deviations
    return drawn if bound is None else np.minimum(drawn, bound[None])


def robust_spread(values: np.ndarray) -> np.ndarray:
    """Half the 16–84 % range of each column of ``values`` (draws, quantities) over its finite values
    (a flattened apex fits an enormous radius; one such draw must not set the σ), NaN where fewer
    than half are finite."""
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    out = np.full(values.shape[1], np.nan)
    for j, column in enumerate(values.T):
        finite = column[np.isfinite(column)]
        if finite.size >= max(2, values.shape[0] // 2):
            low, high = np.percentile(finite, [16, 84])
            out[j] = 0.5 * (high - low)
    return out


def smooth_rms(a: np.ndarray, sigma_px: float) -> np.ndarray:
    """``sqrt(G * a²)``: the local RMS of ``a`` under a Gaussian of ``sigma_px`` pixels (edges mirrored)."""
    return np.sqrt(np.maximum(gaussian_smooth(np.asarray(a, dtype=np.float64) ** 2, sigma_px), 0.0))


#: the Monte-Carlo spread and the slope are per-pixel quantities with a pattern the physics does not
#: have (the U-Net's 2×2 up-sampling under dropout: a checkerboard; the image noise in a gradient):
#: their variance is averaged over a Gaussian of these widths (pixels), so σ shows regions, not dots.
#: The pipeline averages the spread of the samples (:func:`mc_spread`); the slope is averaged here
MC_SMOOTH_PX = 2.0
SLOPE_SMOOTH_PX = 1.0


def mc_spread(samples) -> np.ndarray:
    """The Monte-Carlo spread of samples ``(M, H, W)``: their standard deviation, its variance
    averaged over :data:`MC_SMOOTH_PX`."""
    return smooth_rms(np.asarray(samples).std(0, ddof=1), MC_SMOOTH_PX)


def surface_features(
    surface_std_mc: np.ndarray, image: np.ndarray, bound: np.ndarray, surface: np.ndarray
) -> dict[str, np.ndarray]:
    """The surface σ features by name (:data:`SURFACE_TERMS`)."""
    gy, gx = np.gradient(surface)
    return {
        "mc": surface_std_mc,
        "bound_gap": np.maximum(bound - surface, 0.0),
        "slope": smooth_rms(np.hypot(gy, gx), SLOPE_SMOOTH_PX),
        "contact_gap": np.maximum(image - bound, 0.0),
    }


def tip_features(tip_std_mc: np.ndarray, tip: np.ndarray, reach_nm: float) -> dict[str, np.ndarray]:
    """The tip σ features by name (:data:`TIP_TERMS`); ``reach_nm`` is the image's probe depth.

    Tip pixels deeper than the scan can probe are not constrained at all; their depth feature stops
    at ``reach_nm`` so that σ stays finite and comparable there.
    """
    return {"mc": tip_std_mc, "depth": np.minimum(np.abs(tip), reach_nm)}


def _sample(a: np.ndarray, limit: int = 2**20) -> np.ndarray:
    """Every n-th value of ``a`` (at most ``limit``): percentiles of a 4096² scan at a fraction of the cost."""
    flat = np.ravel(a)
    return flat[:: max(1, flat.size // limit)]


def scan_statistics(
    image: np.ndarray,
    surface: dict[str, np.ndarray],
    tip: dict[str, np.ndarray],
    noise_nm: float,
    pixel_nm: float,
    reach_nm: float,
) -> dict[str, float]:
    """The statistics :data:`SCAN_STATS` of one scan, from its image and its σ features."""
    gap, slope = _sample(surface["bound_gap"]), _sample(surface["slope"])
    p90, p99 = np.percentile(gap, [90, 99])
    return {
        "noise": float(noise_nm),
        "pixel": float(pixel_nm),
        "reach": float(reach_nm),
        "image_std": float(np.std(_sample(image))),
        "surface_mc": float(np.mean(surface["mc"])),
        "bound_gap": float(np.mean(surface["bound_gap"])),
        "bound_gap_p90": float(p90),
        "bound_gap_p99": float(p99),
        "bound_gap_frac": float(np.mean(gap > noise_nm)),
        "contact_gap": float(np.mean(surface["contact_gap"])),
        "slope": float(np.mean(surface["slope"])),
        "slope_p90": float(np.percentile(slope, 90)),
        "tip_mc": float(np.mean(tip["mc"])),
        "tip_depth": float(np.mean(tip["depth"])),
    }


def sigma_inputs(
    image: np.ndarray,
    surface: np.ndarray,
    tip: np.ndarray,
    bound: np.ndarray,
    *,
    surface_std_mc: np.ndarray,
    tip_std_mc: np.ndarray,
    noise_nm: float,
    pixel_nm: float,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float]]:
    """Surface features, tip features and scan statistics of one reconstruction (``bound``: erosion by ``tip``)."""
    reach = probe_depth(image, tip.shape[0])
    s = surface_features(surface_std_mc, image, bound, surface)
    t = tip_features(tip_std_mc, tip, reach)
    return s, t, scan_statistics(image, s, t, noise_nm, pixel_nm, reach)


def log_statistics(stats: dict[str, float], names) -> np.ndarray:
    """``log(x + STAT_EPS)`` of the named scan statistics, in order."""
    return np.log(np.array([stats[n] for n in names], dtype=np.float64) + STAT_EPS)


def _numbers(value, what: str, length: int | None = None) -> tuple[float, ...]:
    """A list of finite numbers (of ``length`` when given), or ValueError naming ``what``."""
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"{what} must be a list of numbers, got {value!r}")
    if length is not None and len(value) != length:
        raise ValueError(f"{what} has {len(value)} values, not {length}")
    if not all(math.isfinite(v) for v in value):
        raise ValueError(f"{what} holds a value that is not finite")
    return tuple(float(v) for v in value)


@dataclass(frozen=True)
class ScanScale:
    """The σ scale ``s`` of a scan as a regression on its log statistics (see the module docstring)."""

    stats: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    coef: tuple[float, ...]
    bias: float
    log_range: tuple[float, float]

    @classmethod
    def from_dict(cls, d: dict) -> ScanScale:
        """From a sidecar's ``scale`` entry; ValueError names what is wrong."""
        if not isinstance(d, dict):
            raise ValueError(f"the scale must be a mapping, got {type(d).__name__}")
        stats = d.get("stats")
        if not isinstance(stats, list) or not all(n in SCAN_STATS for n in stats):
            raise ValueError(f"the scale's statistics must be names from {SCAN_STATS}, got {stats!r}")
        n = len(stats)
        std = _numbers(d.get("std"), "the scale's std", n)
        if not all(v > 0 for v in std):
            raise ValueError("the scale's std must be positive")
        low, high = _numbers(d.get("log_range"), "the scale's log_range", 2)
        if low > high:
            raise ValueError("the scale's log_range runs backwards")
        return cls(
            stats=tuple(stats),
            mean=_numbers(d.get("mean"), "the scale's mean", n),
            std=std,
            coef=_numbers(d.get("coef"), "the scale's coef", n),
            bias=_numbers([d.get("bias")], "the scale's bias")[0],
            log_range=(low, high),
        )

    def of(self, stats: dict[str, float]) -> float:
        """The scale of one scan from its statistics (clipped: never extrapolated)."""
        z = (log_statistics(stats, self.stats) - np.asarray(self.mean)) / np.asarray(self.std)
        log_s = self.bias + float(np.clip(z, -STAT_CLIP, STAT_CLIP) @ np.asarray(self.coef))
        return float(math.exp(np.clip(log_s, *self.log_range)))


@dataclass(frozen=True)
class SigmaPart:
    """The σ model of the surface or of the tip: the weights of its named terms, the floor, the scale."""

    terms: tuple[str, ...]
    weights: tuple[float, ...]
    floor_nm: float
    scale: ScanScale | None = None

    @classmethod
    def from_dict(cls, d: dict, known_terms: tuple[str, ...]) -> SigmaPart:
        """From a sidecar's ``surface`` or ``tip`` entry; ValueError names what is wrong."""
        if not isinstance(d, dict):
            raise ValueError(f"a part must be a mapping, got {type(d).__name__}")
        terms = d.get("terms")
        if not isinstance(terms, list) or not terms or not all(t in known_terms for t in terms):
            raise ValueError(f"its terms must be names from {known_terms}, got {terms!r}")
        floor = _numbers([d.get("floor_nm")], "floor_nm")[0]
        if floor < 0:
            raise ValueError("floor_nm must be >= 0")
        return cls(
            terms=tuple(terms),
            weights=_numbers(d.get("weights"), "the weights", len(terms)),
            floor_nm=floor,
            scale=ScanScale.from_dict(d["scale"]) if d.get("scale") is not None else None,
        )


@dataclass(frozen=True)
class SigmaModel:
    """A model's fitted σ model, as its sidecar's ``sigma_model`` describes it (either part may be
    absent: that σ map is then the raw Monte-Carlo spread)."""

    surface: SigmaPart | None
    tip: SigmaPart | None
    #: how it was fitted (provenance): validation scans, Monte-Carlo samples, consistency
    fitted_on: dict | None = None

    @classmethod
    def from_dict(cls, d: dict) -> SigmaModel:
        """From a sidecar's ``sigma_model``, checked once: ValueError names what is wrong."""
        provenance = {"validation_scans", "mc_samples", "consistency"}
        if not isinstance(d, dict) or "surface" not in d or not set(d) <= {"surface", "tip"} | provenance:
            raise ValueError(f"it must map 'surface' and 'tip' to their parts (and {sorted(provenance)})")
        parts = {}
        for name, terms in (("surface", SURFACE_TERMS), ("tip", TIP_TERMS)):
            try:
                parts[name] = SigmaPart.from_dict(d[name], terms) if d.get(name) is not None else None
            except ValueError as exc:
                raise ValueError(f"its {name} part: {exc}") from None
        return cls(**parts, fitted_on={k: d[k] for k in provenance & set(d)} or None)


def apply_sigma_model(
    model: SigmaPart | None, features: dict[str, np.ndarray], stats: dict[str, float] | None = None
) -> np.ndarray:
    """σ from its named features (times the scan scale when the model has one); without a fitted
    model, the raw Monte-Carlo spread."""
    if model is None:
        return features["mc"]
    var = sum((w * features[t]) ** 2 for w, t in zip(model.weights, model.terms, strict=True))
    sigma = np.sqrt(var + model.floor_nm**2)
    if model.scale is not None:
        if stats is None:
            raise ValueError("this σ model has a scan scale: pass the scan statistics")
        sigma *= model.scale.of(stats)
    return sigma
