"""Reference methods for the benchmark: what any new method must beat, run through one interface.

Each method takes the measured image (nm), the tip window and, for the oracle only, the true tip, and
returns a :class:`MethodOutput`. The methods:

``identity``          surface = image (no correction at all); no tip.
``true-tip-erosion``  erosion of the image by the TRUE tip: the best that erosion can do with any tip
                      estimate (an oracle, not a method a user can run).
``needle``            the sharpest tip there is (apex 0, every other pixel deeper than the image
                      reaches); surface = image. What a tip estimate must beat to say anything.
``btr``               classical Villarrubia blind tip estimate, automatic threshold; surface = erosion.
``dbtr``              differentiable BTR (classical start, descent on the opening residual); erosion.
``wiener``            Wiener/Tikhonov linear deconvolution, the paper's classical image-restoration
                      baseline, with the BTR tip turned into a blur kernel (see :func:`wiener_surface`).
``model``             the joint SE(3) model (``$SE3AFM_BENCH_MODEL`` or the default weights; consistency
                      ``$SE3AFM_BENCH_CONSISTENCY`` or the pipeline's default), mean and σ
                      over :data:`MODEL_BENCH_SAMPLES` Monte-Carlo dropout samples; on CUDA when present.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = ["BASELINES", "MethodOutput", "run_method", "wiener_surface"]


@dataclass
class MethodOutput:
    """A method's estimate for one image (nm); ``None`` where the method gives no such output."""

    surface: np.ndarray
    tip: np.ndarray | None
    surface_std: np.ndarray | None = None
    tip_std: np.ndarray | None = None


def _identity(image: np.ndarray, tip_size: int, true_tip: np.ndarray | None, pixel_nm: float) -> MethodOutput:
    return MethodOutput(surface=image.copy(), tip=None)


def _true_tip_erosion(image: np.ndarray, tip_size: int, true_tip: np.ndarray | None, pixel_nm: float) -> MethodOutput:
    from ..image.morphology import erode

    if true_tip is None:
        raise ParameterError("the true-tip-erosion oracle needs the true tip")
    return MethodOutput(surface=erode(image, true_tip), tip=np.asarray(true_tip, dtype=np.float64))


def _needle(image: np.ndarray, tip_size: int, true_tip: np.ndarray | None, pixel_nm: float) -> MethodOutput:
    tip = np.full((tip_size, tip_size), -10.0 * (float(np.ptp(image)) + 1.0))
    tip[tip_size // 2, tip_size // 2] = 0.0
    return MethodOutput(surface=image.copy(), tip=tip)


def _btr(image: np.ndarray, tip_size: int, true_tip: np.ndarray | None, pixel_nm: float) -> MethodOutput:
    from ..classical.btr import blind_tip
    from ..image.morphology import erode

    tip = blind_tip(image, tip_size).tip
    return MethodOutput(surface=erode(image, tip), tip=tip)


def _gwyddion_btr(image: np.ndarray, tip_size: int, true_tip: np.ndarray | None, pixel_nm: float) -> MethodOutput:
    """Gwyddion's partial blind estimation (its library), at classical BTR's automatic threshold."""
    from ..image.morphology import erode
    from .gwyddion_btr import gwyddion_blind_tip

    tip = gwyddion_blind_tip(image, tip_size, pixel_nm)
    return MethodOutput(surface=erode(image, tip), tip=tip)


#: optimiser steps of differentiable BTR in the benchmark (its library default is 200; see benchmarks.md)
DBTR_BENCH_STEPS = 50


def _dbtr(image: np.ndarray, tip_size: int, true_tip: np.ndarray | None, pixel_nm: float) -> MethodOutput:
    from ..classical.dbtr import differentiable_tip
    from ..image.morphology import erode

    tip = differentiable_tip(image, tip_size, steps=DBTR_BENCH_STEPS, device="cpu").tip
    return MethodOutput(surface=erode(image, tip), tip=tip)


#: Smallest Tikhonov weight: the best of 1e-4 … 1 on 48 validation scans (mean surface RMSE 2.86 nm
#: at 0.3 against 8.9 nm at 1e-4, where blunt-tip kernels amplify noise without bound).
WIENER_MIN_REGULARISATION = 0.3


def wiener_surface(image: np.ndarray, tip: np.ndarray, noise_nm: float) -> np.ndarray:
    """Deconvolve ``image`` linearly with the tip's blur kernel (Wiener / Tikhonov).

    AFM imaging is a dilation, not a convolution; the linear baseline treats the tip as a blur whose
    kernel is the tip's height above the window's deepest point, ``h(v) ∝ P(v) - min P`` (normalised
    to sum 1; broad for blunt tips, a spike for sharp ones). The estimate is
    ``F⁻¹[H* Î / (|H|² + λ)]`` with the Wiener noise-to-signal ratio ``λ = (σ / std I)²``, at least
    :data:`WIENER_MIN_REGULARISATION` (chosen on the SimTip validation split), on the image mirrored at
    its borders to avoid wrap-around. Linear filtering cannot undo the upward shift that dilation
    adds, so the result is shifted to the mean of the erosion by the same tip, the level a
    morphological method would give.
    """
    from ..image.morphology import erode

    img = np.asarray(image, dtype=np.float64)
    p = np.asarray(tip, dtype=np.float64)
    h, w = img.shape
    k = p.shape[0]
    kernel = p - p.min()
    kernel = kernel / kernel.sum() if kernel.sum() > 0 else np.pad([[1.0]], k // 2)
    padded = np.pad(img, k, mode="reflect")
    ph, pw = padded.shape
    psf = np.zeros((ph, pw))
    psf[:k, :k] = kernel
    psf = np.roll(psf, (-(k // 2), -(k // 2)), axis=(0, 1))
    big_h = np.fft.rfft2(psf)
    lam = max((float(noise_nm) / (float(img.std()) or 1.0)) ** 2, WIENER_MIN_REGULARISATION)
    restored = np.fft.irfft2(np.conj(big_h) * np.fft.rfft2(padded) / (np.abs(big_h) ** 2 + lam), s=(ph, pw))
    surface = restored[k : k + h, k : k + w]
    return surface - surface.mean() + float(erode(img, p).mean())


def _wiener(image: np.ndarray, tip_size: int, true_tip: np.ndarray | None, pixel_nm: float) -> MethodOutput:
    from ..classical.btr import blind_tip

    result = blind_tip(image, tip_size)
    return MethodOutput(surface=wiener_surface(image, result.tip, result.noise_nm), tip=result.tip)


#: what ``se3afm lab bench`` runs unless told otherwise
DEFAULT_METHODS = ("identity", "true-tip-erosion", "btr", "dbtr", "wiener")
#: Monte-Carlo dropout samples of the model in the benchmark
MODEL_BENCH_SAMPLES = 8


def bench_reconstruction(
    image: np.ndarray, pixel_nm: float, *, model: str | None = None, consistency: str | None = None, device="auto"
):
    """The model on a SimTip scan as the benchmark runs it: no levelling (the truth is in the scan's
    own heights), :data:`MODEL_BENCH_SAMPLES` samples; the default model and consistency unless given."""
    from ..nn.consistency import DEFAULT_CONSISTENCY
    from ..nn.registry import DEFAULT_MODEL
    from ..pipeline import reconstruct

    return reconstruct(
        image,
        pixel_nm,
        method="model",
        model=model or DEFAULT_MODEL,
        mc_samples=MODEL_BENCH_SAMPLES,
        levelling=(),
        device=device,
        consistency=consistency or DEFAULT_CONSISTENCY,
    )


def _model(
    image: np.ndarray,
    tip_size: int,
    true_tip: np.ndarray | None,
    pixel_nm: float,
    *,
    model: str | None = None,
    consistency: str | None = None,
) -> MethodOutput:
    r = bench_reconstruction(image, pixel_nm, model=model, consistency=consistency)
    if r.tip.shape[0] != tip_size:
        raise ParameterError(f"the model's tip window is {r.tip.shape[0]} px, the split's {tip_size} px")
    return MethodOutput(surface=r.surface, tip=r.tip, surface_std=r.surface_std, tip_std=r.tip_std)


#: every method takes (image in nm, tip window in px, true tip or None, pixel size in nm)
BASELINES: dict[str, Callable[[np.ndarray, int, np.ndarray | None, float], MethodOutput]] = {
    "identity": _identity,
    "true-tip-erosion": _true_tip_erosion,
    "needle": _needle,
    "btr": _btr,
    "gwyddion-btr": _gwyddion_btr,
    "dbtr": _dbtr,
    "wiener": _wiener,
    "model": _model,
}


def run_method(
    name: str,
    image: np.ndarray,
    tip_size: int,
    true_tip: np.ndarray | None = None,
    pixel_nm: float = 1.0,
    *,
    model: str | None = None,
    consistency: str | None = None,
) -> MethodOutput:
    """Run the named method on one image; unknown names raise :class:`ParameterError` listing choices.

    Only the model and Gwyddion's BTR use ``pixel_nm`` (morphology works in pixels), ``model``
    (a name or weights file; default the default model) and ``consistency`` (default the pipeline's).
    """
    if name not in BASELINES:
        raise ParameterError(f"unknown method {name!r}; choose from {', '.join(BASELINES)}")
    options = {"model": model, "consistency": consistency} if name == "model" else {}
    return BASELINES[name](np.asarray(image, dtype=np.float64), int(tip_size), true_tip, float(pixel_nm), **options)
