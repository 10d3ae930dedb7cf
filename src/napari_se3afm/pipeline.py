"""``reconstruct``: one AFM image in, surface + tip + certainty + tip volume out, by any method.

Methods
-------
``btr``       classical Villarrubia blind tip estimate on sharp local maxima (partial; fast)
``btr-full``  the same on every interior image point (slower, sometimes tighter)
``dbtr``      differentiable BTR: the classical estimate refined by descent on the opening residual
``model``     the SE(3)-equivariant joint model (tip and surface, with Monte-Carlo-dropout σ maps),
              optionally fine-tuned on the scan first

For the classical methods the surface is the erosion of the image by the estimated tip (its
tightest upper bound); the model lowers that bound where the tip never touched, and its output is
then held to the image (:mod:`napari_se3afm.consistency`). The certainty map marks where the
erosion bound is exact.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .consistency import CONSISTENCY, DEFAULT_CONSISTENCY
from .errors import ParameterError, reject_unknown_settings
from .levelling import DEFAULT_STEPS, level
from .progress import Progress, ProgressGenerator, run_to_completion
from .registry import DEFAULT_MODEL
from .results import Reconstruction
from .tip.shapes import pixel_pair

__all__ = ["METHODS", "choose_method", "choose_tip_size", "iter_reconstruct", "reconstruct"]

METHODS = ("btr", "btr-full", "dbtr", "model")
#: Monte-Carlo dropout samples run at once (bounds memory on large scans)
MC_CHUNK = 4
#: Default tip window when neither --tip-px nor --tip-nm is given (capped by the image size).
DEFAULT_TIP_PX = 31


def choose_method(
    method: str = "auto",
    *,
    model: str = DEFAULT_MODEL,
    tip_px: int | None = None,
    tip_nm: float | None = None,
    threshold_nm: float | None = None,
) -> str:
    """The method to run: ``"auto"`` is the model when its weights are installed and no option that
    only classical BTR takes (a tip size, a threshold) is given, else classical BTR; any other
    method is returned as it is, once the options are checked to fit it."""
    from .errors import Se3afmError
    from .registry import find_model

    if method != "auto" and method not in METHODS:
        raise ParameterError(f"unknown method {method!r}: choose auto or one of {', '.join(METHODS)}")
    btr_only = [n for n, v in (("tip_px", tip_px), ("tip_nm", tip_nm), ("threshold_nm", threshold_nm)) if v is not None]
    if method == "model" and btr_only:
        raise ParameterError(f"{', '.join(btr_only)} do not apply to the model (its tip window is fixed)")
    if method != "auto":
        return method
    if btr_only:
        return "btr"
    try:
        find_model(model)
    except Se3afmError:
        return "btr"
    return "model"


def choose_tip_size(
    image_shape: tuple[int, int],
    pixel_nm: tuple[float, float],
    tip_px: int | None = None,
    tip_nm: float | None = None,
) -> int:
    """Return the odd tip window in pixels from ``tip_px`` or ``tip_nm``, checked against the image.

    Blind estimation needs the image to be at least twice the tip window in each direction.
    """
    if tip_px is not None and tip_nm is not None:
        raise ParameterError("give the tip size in pixels or in nm, not both")
    limit = min(image_shape) // 2
    limit -= 1 - limit % 2  # largest odd size that fits
    if tip_nm is not None:
        if not tip_nm > 0:
            raise ParameterError(f"tip size must be > 0 nm, got {tip_nm!r}")
        k = round(tip_nm / min(pixel_nm))
        k += 1 - k % 2
    elif tip_px is not None:
        k = int(tip_px)
        if k != tip_px or k < 3 or k % 2 == 0:
            raise ParameterError(f"tip size must be an odd number of pixels >= 3, got {tip_px!r}")
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
    *,
    method: str = "auto",
    tip_px: int | None = None,
    tip_nm: float | None = None,
    threshold_nm: float | None = None,
    steps: int = 200,
    device: str = "auto",
    volume_shape: tuple[int, int, int] = (32, 32, 32),
    levelling: tuple[str, ...] | list[str] | None = DEFAULT_STEPS,
    model: str = DEFAULT_MODEL,
    mc_samples: int = 16,
    finetune_steps: int = 0,
    finetune_options: dict | None = None,
    calibrated_sigma: bool = True,
    consistency: str = DEFAULT_CONSISTENCY,
) -> ProgressGenerator[Reconstruction]:
    """Reconstruct tip and surface from one image, yielding :class:`Progress`.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        AFM height image in nm (levelled).
    pixel_nm : float or (dy, dx)
        Pixel size in nm.
    method : {"auto", "model", "btr", "btr-full", "dbtr"}
        Reconstruction method (see the module docstring); ``"auto"`` (the default) is the model when
        its weights are installed and no BTR-only option is given (:func:`choose_method`).
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
        Levelling steps applied first (see :func:`napari_se3afm.levelling.level`; default: robust
        plane, minimum to 0); ``None`` or ``()`` to use the image as it is. Recorded in
        ``info["levelling"]``.
    model, mc_samples, finetune_steps, finetune_options
        For ``method="model"``: the model name or ``.safetensors`` path, the Monte-Carlo dropout
        samples for the σ maps, optional fine-tuning steps on this scan first, and further
        arguments of :func:`napari_se3afm.finetune.iter_finetune` (learning rate, prior strength).
    calibrated_sigma : bool
        For ``method="model"``: apply the model's fitted σ model (default); ``False`` returns the raw
        Monte-Carlo spread, which is what the σ model is fitted on (:mod:`napari_se3afm.lab.calibration`).
    consistency : {"none", "tip", "image", "tight"}
        For ``method="model"``: clip the network's tips to the blind (BTR) upper bound (``"tip"``), and
        also raise the surface until, dilated by the tip, it reproduces the image within the image's
        noise wherever the tip can (``"image"``, the default); ``"none"`` keeps the network's output as it is
        (:mod:`napari_se3afm.consistency`). The classical methods are consistent by construction.
    """
    from .device import resolve_device, threads_for_free_cores

    method = choose_method(method, model=model, tip_px=tip_px, tip_nm=tip_nm, threshold_nm=threshold_nm)
    if consistency not in CONSISTENCY:
        raise ParameterError(f"unknown consistency {consistency!r}: choose one of {', '.join(CONSISTENCY)}")
    z = np.asarray(image, dtype=np.float64)
    if z.ndim != 2:
        raise ParameterError(f"image must be 2-D, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ParameterError("image contains NaN or infinite values")
    px = pixel_pair(pixel_nm)
    dev = resolve_device(device)
    with threads_for_free_cores(dev) as threads:
        if method == "model":
            z, applied = level(z, levelling or ())
            result = yield from _iter_model(
                z, px, dev, model, mc_samples, finetune_steps, volume_shape, applied, finetune_options or {},
                calibrated_sigma, consistency,
            )  # fmt: skip
        else:
            result = yield from _iter_classical(
                z, px, dev, method, tip_px, tip_nm, threshold_nm, steps, volume_shape, levelling
            )
    result.info["threads"] = threads if dev.type == "cpu" else None
    return result


def _iter_classical(
    z, px, dev, method, tip_px, tip_nm, threshold_nm, steps, volume_shape, levelling
) -> ProgressGenerator[Reconstruction]:
    """The classical branch of :func:`iter_reconstruct`: a blind tip estimate, then the erosion and certainty."""
    from .btr import iter_blind_tip
    from .dbtr import iter_differentiable_tip
    from .morphology import certainty_map, erode
    from .tip.geometry import tip_to_volume

    k = choose_tip_size(z.shape, px, tip_px, tip_nm)
    z, applied = level(z, levelling or ())
    info: dict = {"tip_px": k, "device": str(dev), "levelling": applied}
    if method in ("btr", "btr-full"):
        blind = yield from iter_blind_tip(
            z, k, threshold_nm=threshold_nm, mode="full" if method == "btr-full" else "partial"
        )
        tip = blind.tip
        info.update(noise_nm=blind.noise_nm, threshold_nm=blind.threshold_nm, iterations=blind.iterations)
    else:
        if threshold_nm is not None:
            raise ParameterError("--threshold-nm applies to the btr methods only")
        fitted = yield from iter_differentiable_tip(z, k, steps=steps, device=str(dev))
        tip = fitted.tip
        info.update(steps=steps, final_loss=fitted.losses[-1] if fitted.losses else None)
    yield Progress(1, 1, "eroding the image and mapping certainty")
    import torch

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
    z,
    px,
    dev,
    name,
    samples,
    finetune_steps,
    volume_shape,
    applied,
    finetune_options: dict,
    calibrated_sigma: bool,
    consistency: str,
) -> ProgressGenerator[Reconstruction]:
    """The model branch of :func:`iter_reconstruct`: (fine-tune,) MC-dropout samples, consistency, certainty, volume."""
    from . import consistency as physics
    from .finetune import FINETUNE_OPTIONS, iter_finetune
    from .morphology import certainty_map, erode
    from .noise import estimate_noise
    from .registry import open_model
    from .sigma import apply_sigma_model, sigma_inputs
    from .tip.geometry import tip_to_volume

    if int(samples) < 2:
        raise ParameterError(f"--mc-samples must be >= 2 to estimate a standard deviation, got {samples!r}")
    if int(finetune_steps) < 0:
        raise ParameterError(f"--finetune-steps must be >= 0, got {finetune_steps!r}")
    reject_unknown_settings(finetune_options, FINETUNE_OPTIONS, "fine-tuning")
    net, weights, meta = open_model(name, str(dev))
    k = net.config.tip_px
    if min(z.shape) < 2 * k:
        raise ParameterError(
            f"image of {z.shape[0]}x{z.shape[1]} px is too small for the model's {k} px tip "
            f"(it needs at least {2 * k}x{2 * k} px)"
        )
    pixel = float(np.sqrt(px[0] * px[1]))  # the model works on square pixels
    sigma_model = meta.get("sigma_model") if calibrated_sigma else None
    info: dict = {
        "tip_px": k,
        "device": str(dev),
        "levelling": applied,
        "model": str(weights),
        "mc_samples": int(samples),
        "finetune_steps": int(finetune_steps),
        "sigma_calibrated": sigma_model is not None,
        "consistency": consistency,
    }
    bound_mode, lift = physics.STEPS[consistency]
    bound_nm = (yield from physics.iter_tip_bound(z, k, mode=bound_mode)) if bound_mode else None
    if finetune_steps:
        tuned = yield from iter_finetune(
            net, z, pixel, steps=int(finetune_steps), tip_bound=bound_nm, **finetune_options
        )
        net = tuned.model
        info["finetune_losses"] = tuned.losses
    tip_samples, surface_samples = yield from _iter_samples(net, z, pixel, dev, int(samples), bound_nm)
    tip = _mean_tip(tip_samples)
    info["tip_descriptors_std"] = _descriptor_spread(tip_samples.numpy(), px)
    surface = surface_samples.mean(0).numpy()
    bound = erode(z, tip)
    info["noise_nm"] = estimate_noise(z)
    if lift:
        yield Progress(int(samples), int(samples), "raising the surface to reproduce the image")
        tolerance = physics.FIT_NOISE_FACTOR * info["noise_nm"]
        surface, info["raised_pixels"] = physics.raise_to_image(z, tip, surface, tolerance, bound=bound)
    certainty = certainty_map(z, tip, bound)
    s_feats, t_feats, stats = sigma_inputs(
        z, surface, tip, bound, surface_samples.std(0).numpy(), tip_samples.std(0).numpy(), info["noise_nm"], pixel
    )
    surface_std = apply_sigma_model(sigma_model and sigma_model["surface"], s_feats, stats)
    tip_std = apply_sigma_model(sigma_model and sigma_model["tip"], t_feats, stats)
    tip_std[k // 2, k // 2] = 0.0  # the apex is fixed by convention
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
        info=info,
    )


def _iter_samples(
    net, z: np.ndarray, pixel: float, dev, samples: int, bound_nm: np.ndarray | None
) -> ProgressGenerator[tuple]:
    """Monte-Carlo dropout tips (M, K, K) and surfaces (M, H, W), float64 on the CPU, tips held to
    ``bound_nm`` when given; in chunks that bound the memory of large scans."""
    import torch

    from .nn.model import dropout_samples

    img = torch.tensor(z, dtype=torch.float32, device=dev)[None]
    p = torch.tensor([pixel], dtype=torch.float32, device=dev)
    tip_bound = None if bound_nm is None else torch.tensor(bound_nm, dtype=torch.float32, device=dev)
    tips, surfaces = [], []
    for start in range(0, samples, MC_CHUNK):
        n = min(MC_CHUNK, samples - start)
        t, s = dropout_samples(net, img, p, n, seed=start, tip_bound=tip_bound)
        tips.append(t[:, 0].double().cpu())
        surfaces.append(s[:, 0].double().cpu())
        yield Progress(start + n, samples, "Monte-Carlo dropout samples")
    return torch.cat(tips), torch.cat(surfaces)


def _mean_tip(samples) -> np.ndarray:
    """The mean of the Monte-Carlo tips in the tip convention (values ≤ 0, apex 0)."""
    tip = np.minimum(samples.mean(0).numpy(), 0.0)
    c = tip.shape[0] // 2
    tip[c, c] = 0.0
    return tip


def _descriptor_spread(tips: np.ndarray, px: tuple[float, float]) -> dict[str, float]:
    """Standard deviation of the apex radius, half-angle and depth over the Monte-Carlo tips (M, K, K)."""
    from .tip import describe_tip

    c = tips.shape[-1] // 2
    rows = []
    for sample in tips:
        p = np.minimum(sample, 0.0)
        p[c, c] = 0.0
        d = describe_tip(p, px)
        rows.append((d.apex_radius_nm, d.half_angle_deg, d.depth_nm))
    spread = np.std(np.asarray(rows), axis=0, ddof=1)
    return {name: float(v) for name, v in zip(("apex_radius_nm", "half_angle_deg", "depth_nm"), spread, strict=True)}


def reconstruct(
    image: np.ndarray | str | os.PathLike,
    pixel_nm: float | tuple[float, float] | None = None,
    **options,
) -> Reconstruction:
    """Reconstruct tip and surface from an array or a file; see :func:`iter_reconstruct`.

    A file is read with :func:`napari_se3afm.io.read_height_map` (height channel found automatically,
    or ``channel=``); ``pixel_nm`` overrides or supplies the pixel size (required for arrays and for
    files that do not record one).
    """
    channel = options.pop("channel", None)
    if isinstance(image, (str, os.PathLike)):
        from .io import read_height_map

        data = read_height_map(Path(image), channel)
        z, px = data.height, pixel_nm if pixel_nm is not None else data.pixel_nm
        if px is None:
            raise ParameterError(f"{image}: the file records no pixel size; pass pixel_nm")
    else:
        z, px = image, pixel_nm
        if px is None:
            raise ParameterError("pixel_nm is required when reconstructing an array")
    return run_to_completion(iter_reconstruct(z, px, **options))
