"""``reconstruct``: one AFM image in, surface + tip + certainty + tip volume out, by any method.

Methods
-------
``btr``       classical Villarrubia blind tip estimate on sharp local maxima (partial; fast)
``btr-full``  the same on every interior image point (slower, sometimes tighter)
``dbtr``      differentiable BTR: the classical estimate refined by descent on the opening residual
``model``     the SE(3)-equivariant joint model (tip and surface, with Monte-Carlo-dropout σ maps),
              optionally fine-tuned on the scan first
``known-tip`` a tip given beforehand (``tip=``: characterised, a session tip), used as it is

For the classical methods the surface is the erosion of the image by the estimated tip (its
tightest upper bound); the model lowers that bound where the tip never touched, and its output is
then held to the image (:mod:`napari_se3afm.nn.consistency`). The certainty map marks where the
erosion bound is exact.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import ParameterError, reject_unknown_settings
from .image.levelling import level
from .io.limits import MAX_HEIGHT_NM
from .options import (
    KNOWN_TIP,
    SETTINGS,
    ClassicalOptions,
    KnownTipOptions,
    ModelOptions,
    ReconstructOptions,
    check_tip_window,
    reconstruct_options,
)
from .progress import Progress, ProgressGenerator, run_to_completion
from .resources import check_memory
from .results import Reconstruction
from .scan import Scan
from .tip.shapes import in_tip_convention, pixel_pair

__all__ = ["choose_tip_size", "iter_reconstruct", "reconstruct"]

#: heights that span more than this (1 mm, what a file may hold: io.limits) are no AFM scan
MAX_HEIGHT_SPAN_NM = MAX_HEIGHT_NM
#: Monte-Carlo dropout samples run at once (bounds memory on large scans)
MC_CHUNK = 4
#: Default tip window when neither --tip-px nor --tip-nm is given (capped by the image size).
DEFAULT_TIP_PX = 31


def choose_tip_size(
    image_shape: tuple[int, int],
    pixel_nm: tuple[float, float],
    tip_px: int | None = None,
    tip_nm: float | None = None,
) -> int:
    """Return the odd tip window in pixels from ``tip_px`` or ``tip_nm``, checked against the image.

    Blind estimation needs the image to be at least twice the tip window in each direction.
    """
    check_tip_window(tip_px, tip_nm)
    limit = min(image_shape) // 2
    limit -= 1 - limit % 2  # largest odd size that fits
    if tip_nm is not None:
        widest = limit * min(pixel_nm)
        if tip_nm > widest + min(pixel_nm):
            raise ParameterError(
                f"a {tip_nm:g} nm tip window does not fit this {image_shape[0]}x{image_shape[1]} px image "
                f"(at most {widest:.4g} nm: half the image)"
            )
        k = round(tip_nm / min(pixel_nm))
        k += 1 - k % 2
    elif tip_px is not None:
        k = int(tip_px)
    else:
        k = min(DEFAULT_TIP_PX, limit)
    if k < 3:
        raise ParameterError(f"image of {image_shape[0]}x{image_shape[1]} px is too small for a tip window")
    if k > limit:
        raise ParameterError(
            f"a {k} px tip needs an image of at least {2 * k}x{2 * k} px; "
            f"this image is {image_shape[0]}x{image_shape[1]} px (largest tip: {limit} px)"
        )
    return k


def iter_reconstruct(
    image: np.ndarray,
    pixel_nm: float | tuple[float, float],
    options: ReconstructOptions | None = None,
    **settings,
) -> ProgressGenerator[Reconstruction]:
    """Reconstruct tip and surface from one image, yielding :class:`Progress`.

    The options are a :class:`~napari_se3afm.options.ReconstructOptions` (checked once, e.g. by
    the command line before it reads its files) or the keyword settings below, from which
    :func:`~napari_se3afm.options.reconstruct_options` makes one.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        AFM height image in nm (levelled).
    pixel_nm : float or (dy, dx)
        Pixel size in nm.
    method : {"auto", "model", "btr", "btr-full", "dbtr", "known-tip"}
        Reconstruction method (see the module docstring); ``"auto"`` (the default) is the model when
        its weights are installed and no BTR-only option is given (:func:`choose_method`), and
        ``"known-tip"`` when a ``tip`` is given.
    tip, tip_pixel_nm : optional
        A tip known beforehand (``P``: apex 0 at the centre, values ≤ 0; e.g. from
        :func:`~napari_se3afm.io.tip_files.read_tip`) and its pixel size, which must be the image's:
        the surface is the image eroded by it, nothing is estimated.
    tip_px, tip_nm : optional
        Tip window, in odd pixels or in nm (rounded to odd pixels); default 31 px or what fits.
    threshold_nm : float, optional
        BTR noise threshold; default from the estimated image noise.
    steps : int
        Optimiser steps for ``dbtr``.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"`` for the morphology and ``dbtr``.
    volume_shape : (nz, ny, nx)
        Voxel grid of the tip volume.
    levelling : sequence of str or None
        Levelling steps applied first (see :func:`napari_se3afm.image.levelling.level`; default: robust
        plane, scan-line scars filled, minimum to 0); ``None`` or ``()`` to use the image as it is.
        Recorded in ``info["levelling"]`` (and the scars filled in ``info["scar_lines"]``, the
        lines, and ``info["scar_pixels"]``).
    model, mc_samples, finetune_steps, finetune_options
        For ``method="model"``: the model name or ``.safetensors`` path, the Monte-Carlo dropout
        samples for the σ maps, optional fine-tuning steps on this scan first, and further
        arguments of :func:`napari_se3afm.nn.finetune.iter_finetune` (learning rate, prior strength).
    calibrated_sigma : bool
        For ``method="model"``: apply the model's fitted σ model (default); ``False`` returns the raw
        Monte-Carlo spread, which is what the σ model is fitted on (:mod:`napari_se3afm.lab.calibration`).
    consistency : {"none", "tip", "image", "tight"}
        For ``method="model"``: clip the network's tips to the blind (BTR) upper bound (``"tip"``), and
        also raise the surface until, dilated by the tip, it reproduces the image within the image's
        noise wherever the tip can (``"image"``, the default); ``"none"`` keeps the network's output as it is
        (:mod:`napari_se3afm.nn.consistency`). The classical methods are consistent by construction.
    """
    from .device import resolve_device, threads_for_free_cores

    if options is None:
        reject_unknown_settings(settings, SETTINGS, "reconstruction")
        options = reconstruct_options(**settings)
    elif settings:
        raise ParameterError(f"give options or settings, not both (got {', '.join(sorted(settings))})")
    z = np.asarray(image, dtype=np.float64)
    if z.ndim != 2:
        raise ParameterError(f"image must be 2-D, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ParameterError("image contains NaN or infinite values")
    with np.errstate(over="ignore"):
        span = float(np.ptp(z)) if z.size else 0.0
    if not span <= MAX_HEIGHT_SPAN_NM:
        raise ParameterError(
            f"the heights span {span:.3g} nm, which no AFM scan does (a damaged file, or heights not in nm?)"
        )
    px = pixel_pair(pixel_nm)
    dev = resolve_device(options.device)
    if dev.type == "cpu":  # refused at once, not killed minutes later
        model = isinstance(options.method, ModelOptions)
        check_memory(z.shape, options.name, options.method.mc_samples if model else 0)
    with threads_for_free_cores(dev) as threads:
        found: dict = {}  # what levelling found to mend (scan-line scars)
        z, applied = level(z, options.levelling, found)
        if isinstance(options.method, ModelOptions):
            result = yield from _iter_model(z, px, dev, options.method, options.volume_shape, applied)
        elif isinstance(options.method, KnownTipOptions):
            result = yield from _iter_known_tip(z, px, dev, options.method, options.volume_shape, applied)
        else:
            result = yield from _iter_classical(z, px, dev, options.method, options.volume_shape, applied)
    result.info["threads"] = threads if dev.type == "cpu" else None
    result.info.update(found)
    return result


def _iter_classical(
    z: np.ndarray, px, dev, opts: ClassicalOptions, volume_shape, applied: list
) -> ProgressGenerator[Reconstruction]:
    """The classical branch of :func:`iter_reconstruct`: a blind tip estimate, then the erosion and certainty."""
    from .classical.btr import iter_blind_tip
    from .classical.dbtr import iter_differentiable_tip

    method, threshold_nm, steps = opts.method, opts.threshold_nm, opts.steps
    k = choose_tip_size(z.shape, px, opts.tip_px, opts.tip_nm)
    info: dict = {"tip_px": k, "device": str(dev), "levelling": applied}
    if method in ("btr", "btr-full"):
        blind = yield from iter_blind_tip(
            z, k, threshold_nm=threshold_nm, mode="full" if method == "btr-full" else "partial"
        )
        tip = blind.tip
        info.update(noise_nm=blind.noise_nm, threshold_nm=blind.threshold_nm, iterations=blind.iterations)
    else:
        fitted = yield from iter_differentiable_tip(z, k, steps=steps, device=str(dev))
        tip = fitted.tip
        info.update(steps=steps, final_loss=fitted.losses[-1] if fitted.losses else None)
    yield Progress(1, 1, "eroding the image and mapping certainty")
    return _eroded(z, tip, px, dev, method, volume_shape, info)


def _iter_known_tip(
    z: np.ndarray, px, dev, opts: KnownTipOptions, volume_shape, applied: list
) -> ProgressGenerator[Reconstruction]:
    """A tip given beforehand: checked against the scan (pixel size, window), then the erosion and certainty."""
    k = opts.tip.shape[0]
    if opts.tip_pixel_nm is not None and not np.allclose(opts.tip_pixel_nm, px, rtol=1e-2):
        raise ParameterError(
            f"the tip's pixels are {opts.tip_pixel_nm[1]:.4g} x {opts.tip_pixel_nm[0]:.4g} nm and the scan's "
            f"{px[1]:.4g} x {px[0]:.4g} nm (x, y): a tip is applied pixel by pixel, so they must be the same"
        )
    choose_tip_size(z.shape, px, tip_px=k)  # the image must hold twice the tip's window
    yield Progress(0, 1, "eroding the image by the tip given and mapping certainty")
    info: dict = {"tip_px": k, "device": str(dev), "levelling": applied}
    result = _eroded(z, opts.tip, px, dev, KNOWN_TIP, volume_shape, info)
    yield Progress(1, 1, "done")
    return result


def _eroded(z: np.ndarray, tip: np.ndarray, px, dev, method: str, volume_shape, info: dict) -> Reconstruction:
    """The reconstruction of a tip without σ: the image eroded by it, and where that is exact."""
    import torch

    from .image.morphology import certainty_map, erode
    from .tip.geometry import tip_to_volume

    img = torch.tensor(z, device=dev)
    p = torch.tensor(tip, device=dev)
    surface = erode(img, p)
    certainty = certainty_map(img, p, surface)
    return Reconstruction(
        image=z,
        surface=surface.cpu().numpy(),
        tip=tip,
        certainty=certainty.cpu().numpy(),
        tip_volume=tip_to_volume(tip, px, shape=volume_shape),
        pixel_nm=px,
        method=method,
        info=info,
    )


def _iter_model(
    z: np.ndarray, px, dev, opts: ModelOptions, volume_shape, applied: list
) -> ProgressGenerator[Reconstruction]:
    """The model branch of :func:`iter_reconstruct`: the tip bound, (fine-tuning,) Monte-Carlo
    dropout samples within the bound, the surface held to the image, the σ maps."""
    from .image.noise import estimate_noise
    from .nn import consistency
    from .nn.finetune import iter_finetune
    from .nn.registry import open_model
    from .tip.geometry import tip_to_volume
    from .tip.uncertainty import descriptor_sigmas

    samples, finetune_steps = int(opts.mc_samples), int(opts.finetune_steps)
    net, weights, meta = open_model(opts.model, str(dev))
    k = net.config.tip_px
    if min(z.shape) < 2 * k:
        raise ParameterError(
            f"image of {z.shape[0]}x{z.shape[1]} px is too small for the model's {k} px tip "
            f"(it needs at least {2 * k}x{2 * k} px)"
        )
    pixel = float(np.sqrt(px[0] * px[1]))  # the model works on square pixels
    sigma_model = meta["sigma"] if opts.calibrated_sigma else None
    steps = consistency.STEPS[opts.consistency]
    info: dict = {
        "tip_px": k,
        "device": str(dev),
        "levelling": applied,
        "model": str(weights),
        "mc_samples": samples,
        "finetune_steps": finetune_steps,
        "sigma_calibrated": sigma_model is not None,
        "consistency": opts.consistency,
        "noise_nm": estimate_noise(z),
        "tip_bound": steps.bound,
    }
    bound_nm = (yield from consistency.iter_tip_bound(z, k, mode=steps.bound)) if steps.bound else None
    if finetune_steps:
        tuned = yield from iter_finetune(net, z, pixel, steps=finetune_steps, tip_bound=bound_nm, **opts.finetune)
        net = tuned.model
        info["finetune_losses"] = tuned.losses
    maxima: dict = {}  # the scan's maxima, found once for every batch of samples
    tip_samples, surface_samples = yield from _iter_samples(net, z, pixel, dev, samples, bound_nm, maxima)
    tip = _mean_tip(tip_samples)
    if steps.bound == "partial" and consistency.bound_is_the_answer(tip, bound_nm, info["noise_nm"]):
        yield Progress(0, samples, "the tip lies on the blind bound: tightening the bound")
        tighter = yield from consistency.iter_tightened_bound(z, k, bound_nm, info["noise_nm"])
        if tighter is not None:
            bound_nm, info["tip_bound"] = tighter, "residual"
            tip_samples, surface_samples = yield from _iter_samples(net, z, pixel, dev, samples, bound_nm, maxima)
            tip = _mean_tip(tip_samples)
    if steps.raise_surface:
        yield Progress(samples, samples, "raising the surface to reproduce the image")
    surface, bound, certainty = _held_to_image(z, tip, surface_samples.mean(0).numpy(), steps, info)
    surface_std, tip_std = _sigma_maps(
        z, surface, tip, bound, samples=(tip_samples, surface_samples), pixel=pixel, sigma_model=sigma_model, info=info
    )
    info["tip_descriptors_std"] = descriptor_sigmas(tip_samples.numpy(), tip, tip_std, px, bound_nm)
    return Reconstruction(
        image=z,
        surface=surface,
        tip=tip,
        certainty=certainty,
        tip_volume=tip_to_volume(tip, px, shape=volume_shape),
        pixel_nm=px,
        method="model",
        surface_std=surface_std,
        tip_std=tip_std,
        tip_bound=bound_nm,
        info=info,
    )


def _held_to_image(z: np.ndarray, tip: np.ndarray, surface: np.ndarray, steps, info: dict) -> tuple:
    """The network's mean surface raised to reproduce the image and without the pits it does not
    show, as ``steps`` (:class:`~napari_se3afm.nn.consistency.Steps`) ask; with the erosion bound and
    the certainty map it came with."""
    from .image.morphology import certainty_map, erode
    from .nn import consistency

    bound = erode(z, tip)
    if steps.raise_surface:
        tolerance = consistency.FIT_NOISE_FACTOR * info["noise_nm"]
        surface, info["raised_pixels"] = consistency.raise_to_image(z, tip, surface, tolerance, bound=bound)
    if steps.bound:
        surface = consistency.without_pits(surface, bound)
    return surface, bound, certainty_map(z, tip, bound)


def _sigma_maps(z, surface, tip, bound, *, samples: tuple, pixel: float, sigma_model, info: dict) -> tuple:
    """The surface and tip σ maps from the Monte-Carlo ``samples`` (tips, surfaces): the model's σ
    model (calibrated) on their spread and the physical terms, or the raw spread where
    ``sigma_model`` is None; no σ at the apex."""
    tip_samples, surface_samples = samples
    from .nn.sigma import apply_sigma_model, mc_spread, sigma_inputs

    s_feats, t_feats, stats = sigma_inputs(
        z,
        surface,
        tip,
        bound,
        surface_std_mc=mc_spread(surface_samples.numpy()),
        tip_std_mc=tip_samples.std(0).numpy(),
        noise_nm=info["noise_nm"],
        pixel_nm=pixel,
    )
    surface_std = apply_sigma_model(sigma_model and sigma_model.surface, s_feats, stats)
    tip_std = apply_sigma_model(sigma_model and sigma_model.tip, t_feats, stats)
    k = tip.shape[0]
    tip_std[k // 2, k // 2] = 0.0  # the apex is fixed by convention
    return surface_std, tip_std


def _iter_samples(
    net, z: np.ndarray, pixel: float, dev, samples: int, bound_nm: np.ndarray | None, maxima: dict
) -> ProgressGenerator[tuple]:
    """Monte-Carlo dropout tips (M, K, K) and surfaces (M, H, W), float64 on the CPU, tips held to
    ``bound_nm`` when given; in chunks that bound the memory of large scans. The scan's maxima are
    kept in ``maxima`` (:func:`~napari_se3afm.nn.points.maxima_remembered`) across chunks and calls."""
    import torch

    from .nn.model import dropout_samples
    from .nn.points import maxima_remembered

    img = torch.tensor(z, dtype=torch.float32, device=dev)[None]
    p = torch.tensor([pixel], dtype=torch.float32, device=dev)
    tip_bound = None if bound_nm is None else torch.tensor(bound_nm, dtype=torch.float32, device=dev)
    tips, surfaces = [], []
    for start in range(0, samples, MC_CHUNK):
        n = min(MC_CHUNK, samples - start)
        with maxima_remembered(img[0], maxima):
            t, s = dropout_samples(net, img, p, n, seed=start, tip_bound=tip_bound)
        tips.append(t[:, 0].double().cpu())
        surfaces.append(s[:, 0].double().cpu())
        yield Progress(start + n, samples, "Monte-Carlo dropout samples")
    return torch.cat(tips), torch.cat(surfaces)


def _mean_tip(samples) -> np.ndarray:
    """The mean of the Monte-Carlo tips in the tip convention (values ≤ 0, apex 0)."""
    return in_tip_convention(samples.mean(0).numpy())


def reconstruct(
    image: np.ndarray | Scan | str | os.PathLike,
    pixel_nm: float | tuple[float, float] | None = None,
    options: ReconstructOptions | None = None,
    *,
    channel: str | None = None,
    **settings,
) -> Reconstruction:
    """Reconstruct tip and surface from a file, a :class:`~napari_se3afm.scan.Scan` or an array;
    see :func:`iter_reconstruct` for the options.

    From a file or a scan the channel is ``channel`` (default: the height channel, found
    automatically); ``pixel_nm`` supplies the pixel size where the data record none (an array) and
    otherwise overrides it.
    """
    if isinstance(image, (str, os.PathLike, Scan)):
        from .io import read_height_map

        data = read_height_map(Path(image), channel) if not isinstance(image, Scan) else None
        z = data.height if data is not None else image.channel(channel).data
        recorded = data.pixel_nm if data is not None else image.pixel_nm
        px = pixel_nm if pixel_nm is not None else recorded
        if px is None:
            raise ParameterError(f"{image if data is not None else 'the scan'} records no pixel size; pass pixel_nm")
    else:
        z, px = image, pixel_nm
        if px is None:
            raise ParameterError("pixel_nm is required when reconstructing an array")
    return run_to_completion(iter_reconstruct(z, px, options, **settings))
