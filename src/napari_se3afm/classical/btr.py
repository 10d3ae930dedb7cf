"""Classical blind tip reconstruction (Villarrubia 1997), the baseline and fallback of the project.

Starting from the bluntest admissible tip (``P = 0`` everywhere), every image point ``x0`` that is used
refines the tip: if the tip touched the surface at offset ``v0`` when imaging ``x0``, then for every
offset ``v``::

    P(v) <= I(x0 - v0 + v) - I(x0) + P(v0)

and the touching offset must satisfy ``P(v0) >= I(x0) - I(x0 - v0)``. Taking the maximum over the
admissible ``v0`` gives an upper bound on the true tip that only tightens, iterated until nothing
changes. In the *partial* estimate only sharp local maxima of the image are used (fast, and what
constrains the tip most); the *full* estimate uses every interior point. The *residual* estimate
starts as the partial one and then refines at the points the tip still cannot explain, where the
image stands more than the admission margin above its opening ``dilate(erode(I, P), P)``, until no
such point is left or none changes the tip: nearly as tight as the full estimate where it matters,
at a fraction of its time.

Noise makes a single noisy maximum carve the tip too deep, and the minimum over many points
collapses it into a needle. A refinement is therefore accepted only when it lowers ``P`` by more than
a threshold, and then by the bound plus the threshold; and a contact is admitted when it misses the
admissibility test by less than twice the threshold (on a noisy spike the image maximum often sits
one pixel off the apex, and rejecting the true contact there carves the tip from a shifted spike).
Users rarely pick the threshold well, and a fixed fraction of the height range is far too small on
noisy scans, so by default it is chosen per scan from multiples of the image noise estimated by
:func:`napari_se3afm.image.noise.estimate_noise`: one noise σ, unless the bound stays flat there.
On rough scans many maxima within a tip's window stand within the admission margin of one another,
every one of them an admissible contact, and the bluntest tip survives every pass; the largest
threshold of :data:`THRESHOLD_LADDER` whose bound is not flat (:data:`FLAT_SHARE`) is then taken.
On noisy spikes, where a threshold below one σ carves the tip into a needle, the bound at one σ is
never flat and stays.

The tip follows the project convention (``P``, apex 0 at the centre, values <= 0, unmirrored): the
same ``P`` dilates the surface into the image and erodes the image into the surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..image.noise import estimate_noise
from ..progress import Progress, ProgressGenerator, run_to_completion
from ..tip.shapes import in_tip_convention

__all__ = [
    "DEFAULT_THRESHOLD_FACTOR",
    "FLAT_SHARE",
    "THRESHOLD_LADDER",
    "BlindTipResult",
    "blind_tip",
    "iter_blind_tip",
    "threshold_text",
]

#: Threshold = this many noise standard deviations (chosen by measurement, see docs/classical.md),
#: unless the bound stays near its flat start there (:data:`THRESHOLD_LADDER`).
DEFAULT_THRESHOLD_FACTOR = 1.0
#: the automatic threshold, in noise σ: the first of these whose bound is not flat
THRESHOLD_LADDER = (DEFAULT_THRESHOLD_FACTOR, 0.5, 0.25, 0.1, 0.0)
#: a bound is flat when fewer than this share of its pixels (the apex left out) lie more than the
#: admission margin below the apex. At one σ, 12-31 % of SimTip scans have a flat bound; noisy
#: spike arrays (noise up to 4 nm), where a lower threshold carves a needle, have 22 % and more of
#: their pixels that deep (docs/classical.md)
FLAT_SHARE = 0.1
#: Contacts are admitted within this many thresholds of the bound (measured best: 2).
ADMISSION_MARGIN_RATIO = 2.0
#: contacts tried before all of a point's admissible contacts (see ``_refine_at``; measured: docs/benchmarks.md)
FIRST_CONTACTS = 32
#: points whose refinement is checked at once before any is refined one by one (see ``_refine_pass``)
CHECK_BLOCK = 64


@dataclass(frozen=True)
class BlindTipResult:
    """A blind tip estimate and how it was obtained."""

    tip: np.ndarray
    threshold_nm: float
    noise_nm: float
    iterations: int
    points_used: int
    mode: str


def _check_image(image: np.ndarray, k: int) -> np.ndarray:
    z = np.asarray(image, dtype=np.float64)
    if z.ndim != 2:
        raise ParameterError(f"blind tip reconstruction needs a 2-D image, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ParameterError("image contains NaN or infinite values; fill or crop them first")
    if k < 3 or k % 2 == 0:
        raise ParameterError(f"tip size must be an odd number of pixels >= 3, got {k}")
    if min(z.shape) < 2 * k:
        raise ParameterError(
            f"a {k}x{k} px tip needs an image of at least {2 * k}x{2 * k} px, got {z.shape[0]}x{z.shape[1]}"
        )
    return z


def _local_maxima(z: np.ndarray, k: int) -> np.ndarray:
    """Interior local maxima, not on flats: (N, 2) row/col indices (Villarrubia's selection rule)."""
    delta = max(k // 10, 1)
    w = 2 * delta + 1
    padded = np.pad(z, delta, constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (w, w))
    local_max = windows.max(axis=(-2, -1))
    ties = (windows >= z[..., None, None]).sum(axis=(-2, -1))
    keep = (z >= local_max) & (ties <= (w * w) // 5)
    return np.argwhere(keep)


def _interior(points: np.ndarray, shape: tuple[int, int], c: int) -> np.ndarray:
    h, w = shape
    r, col = points[:, 0], points[:, 1]
    inside = (r >= 2 * c) & (r <= h - 1 - 2 * c) & (col >= 2 * c) & (col <= w - 1 - 2 * c)
    return points[inside]


def _reach(patches: np.ndarray, tip: np.ndarray) -> np.ndarray:
    """``reach[..., a0, b0] = I(x0 − v0) + P(v0)`` for each contact offset ``v0 = (a0 − c, b0 − c)``,
    from ``(..., 4c + 1, 4c + 1)`` image patches centred on ``x0``: how high the tip reaches at ``x0``
    when it touches the surface at ``v0``. Admissible contacts reach ``I(x0)``."""
    c = tip.shape[0] // 2
    return patches[..., c : 3 * c + 1, c : 3 * c + 1][..., ::-1, ::-1] + tip


def _refine_at(z: np.ndarray, y: int, x: int, tip: np.ndarray, threshold: float, margin: float) -> int:
    """Refine ``tip`` in place with the image point (y, x); return how many tip pixels changed.

    The admissibility test is widened by ``margin`` (noise plus a few ulps): a noisy maximum one pixel
    off the spike, or two sums of the same heights rounded differently, must never reject the true
    contact. Admitting more contacts only loosens the bound, so this is always safe.

    The bound is a maximum over the admissible contacts, so any subset of them bounds it from below:
    the :data:`FIRST_CONTACTS` likeliest (highest ``I(x0 − v0) + P(v0)``) are tried first, and when
    they already lower no tip pixel the point changes nothing (one true contact suffices where the
    tip explains the image). Only the other points pay for every contact; the result is the same.
    """
    k = tip.shape[0]
    c = k // 2
    patch = z[y - 2 * c : y + 2 * c + 1, x - 2 * c : x + 2 * c + 1]
    i0 = z[y, x]
    reach = _reach(patch, tip)
    rows, cols = np.nonzero(reach >= i0 - margin)
    windows = np.lib.stride_tricks.sliding_window_view(patch, (k, k))

    def bound_over(r: np.ndarray, q: np.ndarray) -> np.ndarray:  # max over contacts of I(x0 + v - v0) + P(v0)
        return (windows[2 * c - r, 2 * c - q] + tip[r, q][:, None, None]).max(axis=0)

    limit = tip - threshold - margin + i0
    if len(rows) > FIRST_CONTACTS:
        first = np.argpartition(-reach[rows, cols], FIRST_CONTACTS)[:FIRST_CONTACTS]
        if not (bound_over(rows[first], cols[first]) < limit).any():
            return 0
    bound = bound_over(rows, cols)
    lower = bound < limit
    n = int(lower.sum())
    if n:
        tip[lower] = bound[lower] - i0 + threshold
    return n


def iter_blind_tip(
    image: np.ndarray,
    tip_size: int,
    *,
    threshold_nm: float | None = None,
    threshold_factor: float | None = None,
    mode: str = "partial",
    max_iterations: int = 100,
    initial_tip: np.ndarray | None = None,
    residual_passes: int | None = None,
) -> ProgressGenerator[BlindTipResult]:
    """Estimate the tip blindly from one image, yielding :class:`Progress` once per pass.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Levelled AFM image in nm, H and W at least twice the tip size.
    tip_size : int
        Odd tip window size K in pixels.
    threshold_nm : float, optional
        Noise threshold in nm; default ``threshold_factor`` × the estimated image noise.
    threshold_factor : float, optional
        The threshold in estimated noise σ; default chosen per scan (:data:`THRESHOLD_LADDER`).
    mode : {"partial", "full", "residual"}
        Use only sharp local maxima (fast), every interior image point (slow, tighter), or the
        maxima and then the points the tip leaves unexplained (tight where it matters).
    max_iterations : int
        Upper limit on passes over the chosen points; iteration stops earlier when nothing changes.
    initial_tip : ndarray, optional
        Starting upper bound (default ``P = 0``, the bluntest tip).
    residual_passes : int, optional
        For ``mode="residual"``: at most this many passes over the unexplained points (default
        ``max_iterations``); any number of passes gives a valid bound, fewer a looser one.

    Returns (as the generator's value)
    -----------------------------------
    BlindTipResult
    """
    k = int(tip_size)
    z = _check_image(image, k)
    if mode not in ("partial", "full", "residual"):
        raise ParameterError(f"mode must be 'partial', 'full' or 'residual', got {mode!r}")
    tip = np.zeros((k, k)) if initial_tip is None else np.array(initial_tip, dtype=np.float64)
    if tip.shape != (k, k):
        raise ParameterError(f"initial tip has shape {tip.shape}, expected {(k, k)}")
    tip = in_tip_convention(tip)
    noise = estimate_noise(z)
    ulps = _height_ulps(z)
    points = _points(z, k, mode)
    partial: dict[float, tuple[np.ndarray, int]] = {}  # the partial estimates made choosing the threshold
    if threshold_nm is not None:
        threshold = float(threshold_nm)
        if not threshold >= 0:
            raise ParameterError(f"threshold must be >= 0 nm, got {threshold_nm!r}")
    elif threshold_factor is not None:
        if not threshold_factor >= 0:
            raise ParameterError(f"threshold factor must be >= 0, got {threshold_factor!r}")
        threshold = threshold_factor * noise
    else:
        peaks = points if mode != "full" else _points(z, k, "partial")
        threshold = yield from _automatic_threshold(z, peaks, k, noise, ulps, max_iterations, partial)
    margin = _margin(threshold, ulps)
    if mode != "full" and initial_tip is None and threshold in partial:
        tip, iterations = partial[threshold]  # the residual estimate, too, starts from the partial one
    else:
        iterations = yield from _refine_passes(z, points, tip, threshold, margin, max_iterations)
    used = len(points)
    if mode == "residual":
        extra = 0
        for extra in range(1, (max_iterations if residual_passes is None else residual_passes) + 1):
            unexplained = _unexplained(z, tip, threshold + margin)
            changed = _refine_pass(z, unexplained, tip, threshold, margin)
            used += len(unexplained)
            yield Progress(
                extra,
                max_iterations,
                f"classical tip bound: pass {extra} over what the tip leaves unexplained",
            )
            if changed == 0:
                break
        iterations += extra
    return BlindTipResult(
        tip=tip,
        threshold_nm=threshold,
        noise_nm=noise,
        iterations=iterations,
        points_used=used,
        mode=mode,
    )


def _points(z: np.ndarray, k: int, mode: str) -> np.ndarray:
    """The image points a ``mode`` estimate refines at (interior), sharpest first: they constrain the
    tip most, so later points change less."""
    c = k // 2
    if mode == "full":
        points = _interior(np.argwhere(np.ones(z.shape, dtype=bool)), z.shape, c)
    else:
        points = _interior(_local_maxima(z, k), z.shape, c)
    if len(points):
        windows = np.lib.stride_tricks.sliding_window_view(np.pad(z, c, mode="edge"), (k, k))
        sharpness = z[points[:, 0], points[:, 1]] - windows[points[:, 0], points[:, 1]].mean(axis=(-2, -1))
        points = points[np.argsort(-sharpness, kind="stable")]
    return points


def _height_ulps(z: np.ndarray) -> float:
    """A few ulps of the image's heights: two sums of the same heights rounded differently differ by
    less (found once per image: the margin of every threshold tried adds it)."""
    return 1e-12 * max(1.0, float(np.abs(z).max()))


def _margin(threshold: float, ulps: float) -> float:
    """How far below the bound a contact is still admitted: :data:`ADMISSION_MARGIN_RATIO` thresholds
    and the heights' ``ulps`` (:func:`_height_ulps`)."""
    return ADMISSION_MARGIN_RATIO * threshold + ulps


def _refine_passes(
    z: np.ndarray, points: np.ndarray, tip: np.ndarray, threshold: float, margin: float, max_iterations: int
) -> ProgressGenerator[int]:
    """Passes over ``points`` refining ``tip`` in place until nothing changes; returns how many."""
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        changed = _refine_pass(z, points, tip, threshold, margin)
        yield Progress(iterations, max_iterations, f"classical tip bound: pass {iterations} over the image's peaks")
        if changed == 0:
            break
    return iterations


def _automatic_threshold(
    z: np.ndarray, peaks: np.ndarray, k: int, noise: float, ulps: float, max_iterations: int, partial: dict
) -> ProgressGenerator[float]:
    """The automatic threshold (nm): the first of :data:`THRESHOLD_LADDER` × ``noise`` whose partial
    bound (refined at ``peaks``, the partial estimate's :func:`_points`) is not flat
    (:data:`FLAT_SHARE`). Each partial estimate made on the way is kept in ``partial`` (threshold →
    tip, passes)."""
    threshold = 0.0
    for i, factor in enumerate(THRESHOLD_LADDER):
        threshold = factor * noise
        tip = np.zeros((k, k))
        margin = _margin(threshold, ulps)
        passes = run_to_completion(_refine_passes(z, peaks, tip, threshold, margin, max_iterations))
        partial[threshold] = (tip, passes)
        moved = tip < -margin
        moved[k // 2, k // 2] = False
        if noise == 0 or moved.sum() >= FLAT_SHARE * (tip.size - 1):
            break
        yield Progress(
            i + 1, len(THRESHOLD_LADDER), "classical tip bound: the bound stays flat, lowering the threshold"
        )
    return threshold


def _refine_pass(z: np.ndarray, points: np.ndarray, tip: np.ndarray, threshold: float, margin: float) -> int:
    """Refine ``tip`` in place at each of ``points`` in turn; return how many tip pixels changed.

    Exactly the point-by-point refinement, checked a block at a time: :func:`_unchanged` proves at
    once, for every point of a block, whether it leaves the current tip alone, and only the others
    are refined, in order (:func:`_refine_at`). Once one of them changes the tip, that proof no
    longer holds and the rest of the block is refined point by point."""
    changed = 0
    size = max(1, min(CHECK_BLOCK, 2**22 // (2 * tip.shape[0] - 1) ** 2))  # ≤ 32 MB of patches at once
    for start in range(0, len(points), size):
        block = points[start : start + size]
        doubtful = ~_unchanged(z, block, tip, threshold, margin)
        for j, (y, x) in enumerate(block):
            if doubtful[j]:
                n = _refine_at(z, int(y), int(x), tip, threshold, margin)
                changed += n
                doubtful[j + 1 :] |= n > 0
    return changed


def _unchanged(z: np.ndarray, points: np.ndarray, tip: np.ndarray, threshold: float, margin: float) -> np.ndarray:
    """For each of ``points`` (interior), True where its likeliest contact alone proves that
    :func:`_refine_at` would lower no pixel of ``tip`` (False: it might). The likeliest contact, the
    highest ``I(x0 − v0) + P(v0)``, is always admissible (the apex reaches ``I(x0)``) and bounds the
    refinement's maximum from below."""
    k = tip.shape[0]
    c = k // 2
    y, x = points[:, 0], points[:, 1]
    patches = np.lib.stride_tricks.sliding_window_view(z, (4 * c + 1, 4 * c + 1))[y - 2 * c, x - 2 * c]
    a0, b0 = np.unravel_index(_reach(patches, tip).reshape(len(points), -1).argmax(axis=1), (k, k))
    windows = np.lib.stride_tricks.sliding_window_view(patches, (k, k), axis=(1, 2))
    bound = windows[np.arange(len(points)), 2 * c - a0, 2 * c - b0] + tip[a0, b0][:, None, None]
    limit = tip - threshold - margin + z[y, x][:, None, None]
    return ~(bound < limit).any(axis=(1, 2))


def _unexplained(z: np.ndarray, tip: np.ndarray, tolerance: float) -> np.ndarray:
    """Interior points where the image stands more than ``tolerance`` above its opening by ``tip``,
    largest residual first: where no surface imaged by this tip reaches the image. (Refining at the
    residual's local peaks only was measured slower on real scans: their neighbours, refined first,
    make the peaks cheap.)"""
    from ..image.morphology import opening

    residual = z - opening(z, tip)
    points = _interior(np.argwhere(residual > tolerance), z.shape, tip.shape[0] // 2)
    return points[np.argsort(-residual[points[:, 0], points[:, 1]], kind="stable")]


def threshold_text(info: dict) -> str:
    """The noise threshold a reconstruction's blind estimate used (its ``info``), for people: in nm
    and in noise σ, since the automatic one is chosen per scan; "" for methods without one."""
    threshold, noise = info.get("threshold_nm"), info.get("noise_nm") or 0.0
    if threshold is None:
        return ""
    sigmas = f" ({threshold / noise:.2g} σ)" if noise > 0 else ""
    return f"noise threshold {threshold:.3g} nm{sigmas}"


def blind_tip(image: np.ndarray, tip_size: int, **options) -> BlindTipResult:
    """Run :func:`iter_blind_tip` to completion (same arguments) and return its result."""
    return run_to_completion(iter_blind_tip(image, tip_size, **options))
