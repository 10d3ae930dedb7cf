"""σ of a tip's descriptors, carried from its σ map: what the apex radius, half-angle, asymmetry and
broadening of a reconstructed tip are worth.

A descriptor's σ is the spread over tips drawn from the tip's σ map
(:func:`~napari_se3afm.nn.sigma.drawn_tips`) and the spread over the Monte-Carlo tips of the scan,
added in quadrature. The Monte-Carlo spread alone is far below the error (0.0 nm on a real scan whose
radius two halves put 6 nm apart).
"""

from __future__ import annotations

import numpy as np

from .broadening import BROADENING_KEYS, tip_broadening
from .descriptors import describe_tip
from .shapes import in_tip_convention

__all__ = ["DESCRIPTOR_NAMES", "apex_volume", "descriptor_sigmas", "descriptor_values"]

#: the descriptors whose σ is reported: :func:`~napari_se3afm.tip.describe_tip`'s and the broadening
#: of features 1–10 nm high (:data:`~napari_se3afm.tip.broadening.BROADENING_KEYS`)
DESCRIPTOR_NAMES = ("apex_radius_nm", "half_angle_deg", "depth_nm", "asymmetry", *BROADENING_KEYS)


def descriptor_values(tip: np.ndarray, pixel_nm: tuple[float, float], described=None) -> dict[str, float]:
    """The :data:`DESCRIPTOR_NAMES` of one tip (in the tip convention), in that order; ``described``:
    its :func:`~napari_se3afm.tip.describe_tip` where the caller has it already."""
    d = described or describe_tip(tip, pixel_nm)
    return {
        "apex_radius_nm": d.apex_radius_nm,
        "half_angle_deg": d.half_angle_deg,
        "depth_nm": d.depth_nm,
        "asymmetry": d.asymmetry,
        **tip_broadening(tip, pixel_nm),
    }


def _descriptors(tips: np.ndarray, pixel_nm: tuple[float, float]) -> np.ndarray:
    """The :data:`DESCRIPTOR_NAMES` of each tip (M, K, K), brought into the tip convention."""
    return np.asarray([list(descriptor_values(in_tip_convention(t), pixel_nm).values()) for t in tips])


def descriptor_sigmas(
    samples: np.ndarray | None,
    tip: np.ndarray,
    tip_std: np.ndarray,
    pixel_nm: tuple[float, float],
    bound: np.ndarray | None,
) -> dict[str, float]:
    """σ of each of :data:`DESCRIPTOR_NAMES`: the spread over the sample tips ``samples`` (M, K, K; None:
    none) and over tips drawn from ``tip``'s σ map ``tip_std``, each half its 16–84 % range, in quadrature.
    Where most drawn tips leave a descriptor unmeasurable (a σ that lifts the window's edge to the
    apex: no flank to fit), the same draws held to the blind ``bound`` — no tip above it imaged the
    scan — give its spread; NaN (σ unknown) where even they do."""
    from ..nn.sigma import drawn_tips, robust_spread

    spread = 0.0 if samples is None else robust_spread(_descriptors(samples, pixel_nm))
    carried = robust_spread(_descriptors(drawn_tips(tip, tip_std), pixel_nm))
    if bound is not None and np.isnan(carried).any():
        held = robust_spread(_descriptors(drawn_tips(tip, tip_std, bound), pixel_nm))
        carried = np.where(np.isnan(carried), held, carried)
    return {name: float(v) for name, v in zip(DESCRIPTOR_NAMES, np.hypot(spread, carried), strict=True)}


def apex_volume(tip: np.ndarray, tip_std: np.ndarray, pixel_nm: tuple[float, float], depth_nm: float):
    """Volume (nm³) of the tip within ``depth_nm`` of its apex, and its σ: the spread of the volume over
    tips drawn from the σ map with smooth, correlated deviations
    (:func:`~napari_se3afm.nn.sigma.drawn_tips`), as the other descriptors' σ. Neighbouring pixels err
    together: adding their σ in quadrature, as if they did not, gives a σ several times too small to
    judge a change by."""
    from ..nn.sigma import drawn_tips, robust_spread

    area = float(pixel_nm[0] * pixel_nm[1])

    def volume(p: np.ndarray) -> float:
        inside = p > -depth_nm
        return float(np.sum(p[inside] + depth_nm) * area)

    drawn = np.array([volume(in_tip_convention(p)) for p in drawn_tips(tip, tip_std)])
    return volume(tip), float(robust_spread(drawn[:, None])[0])
