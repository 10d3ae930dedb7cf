"""What a reconstruction is asked to do: one options object, checked once, in the core.

The command line, the napari panels and Python callers all describe a reconstruction by the same
keyword settings; :func:`reconstruct_options` turns them into a :class:`ReconstructOptions` — the
method's own options (:class:`ClassicalOptions` or :class:`ModelOptions`) plus what every method
shares — and refuses a bad value with a clear :class:`~napari_se3afm.errors.ParameterError` before
any work starts. ``"auto"`` is resolved here, once (:func:`choose_method`).
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
from dataclasses import dataclass, field

import numpy as np

from .errors import ParameterError, Se3afmError
from .image.levelling import DEFAULT_STEPS, check_steps
from .nn.consistency import CONSISTENCY, DEFAULT_CONSISTENCY
from .nn.registry import DEFAULT_MODEL, find_model

__all__ = [
    "CLASSICAL_METHODS",
    "KNOWN_TIP",
    "METHODS",
    "SETTINGS",
    "ClassicalOptions",
    "KnownTipOptions",
    "ModelOptions",
    "ReconstructOptions",
    "check_tip_window",
    "choose_method",
    "reconstruct_options",
]

#: the classical blind reconstructions: Villarrubia's on sharp maxima, on every point, and by descent
CLASSICAL_METHODS = ("btr", "btr-full", "dbtr")
METHODS = (*CLASSICAL_METHODS, "model")
#: the method of a reconstruction with a tip given beforehand (:class:`KnownTipOptions`)
KNOWN_TIP = "known-tip"

#: the default Monte-Carlo dropout samples of the σ maps, and the most a run takes (σ settles by 64)
MC_SAMPLES = 16
MAX_MC_SAMPLES = 1024
#: the most optimiser steps of differentiable BTR, and of fine-tuning on a scan
MAX_STEPS = 100_000
MAX_FINETUNE_STEPS = 100_000

_DEVICE_NAME = re.compile(r"(auto|cpu|cuda(:\d+)?)")


def _check_count(value, name: str, low: int, high: int, why: str = "") -> None:
    """Refuse a count that is not a whole number within ``[low, high]``, naming the option."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or int(value) != value
        or not low <= value <= high
    ):
        raise ParameterError(f"{name} must be a whole number from {low} to {high:,}{why}, got {value!r}")


def choose_method(
    method: str = "auto",
    *,
    model: str = DEFAULT_MODEL,
    tip_px: int | None = None,
    tip_nm: float | None = None,
    threshold_nm: float | None = None,
) -> str:
    """The method to run: ``"auto"`` is the model when its weights are installed and no option that
    only classical BTR takes (a tip size, a threshold) is given, else classical BTR (a model named
    other than the default must exist); any other
    method is returned as it is, once the options are checked to fit it."""
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
        if model != DEFAULT_MODEL:  # a model the user named is never silently replaced by BTR
            raise
        return "btr"
    return "model"


def check_tip_window(tip_px: int | None, tip_nm: float | None) -> None:
    """Refuse a tip window given both ways, an even or tiny one in pixels, or a non-positive one in nm
    (whether it fits the image is :func:`napari_se3afm.pipeline.choose_tip_size`'s to say)."""
    if tip_px is not None and tip_nm is not None:
        raise ParameterError("give the tip size in pixels or in nm, not both")
    if tip_px is not None and (isinstance(tip_px, bool) or int(tip_px) != tip_px or tip_px < 3 or tip_px % 2 == 0):
        raise ParameterError(f"tip size must be an odd number of pixels >= 3, got {tip_px!r}")
    if tip_nm is not None and not (math.isfinite(tip_nm) and tip_nm > 0):
        raise ParameterError(f"tip size must be a finite number > 0 nm, got {tip_nm!r}")


def _check_consistency(name: str) -> None:
    if name not in CONSISTENCY:
        raise ParameterError(f"unknown consistency {name!r}: choose one of {', '.join(CONSISTENCY)}")


@dataclass(frozen=True)
class ClassicalOptions:
    """A classical blind reconstruction: the tip window (odd pixels, or nm rounded to odd pixels;
    default 31 px or what fits), BTR's noise threshold (default from the image's noise) and the
    optimiser steps of differentiable BTR."""

    method: str = "btr"
    tip_px: int | None = None
    tip_nm: float | None = None
    threshold_nm: float | None = None
    steps: int = 200

    def __post_init__(self) -> None:
        if self.method not in CLASSICAL_METHODS:
            choices = ", ".join(CLASSICAL_METHODS)
            raise ParameterError(f"unknown classical method {self.method!r}: choose one of {choices}")
        check_tip_window(self.tip_px, self.tip_nm)
        if self.threshold_nm is not None:
            if not (math.isfinite(self.threshold_nm) and self.threshold_nm >= 0):
                raise ParameterError(f"threshold must be a finite number >= 0 nm, got {self.threshold_nm!r}")
            if self.method == "dbtr":
                raise ParameterError("--threshold-nm applies to the btr methods only")
        _check_count(self.steps, "--steps", 0, MAX_STEPS)


@dataclass(frozen=True)
class ModelOptions:
    """The SE(3) model: which weights, how many Monte-Carlo dropout samples for the σ maps, how the
    output is held to the image, optional fine-tuning on the scan first (and its settings), and
    whether σ is the calibrated one or the raw Monte-Carlo spread."""

    model: str = DEFAULT_MODEL
    mc_samples: int = MC_SAMPLES
    consistency: str = DEFAULT_CONSISTENCY
    finetune_steps: int = 0
    finetune: dict = field(default_factory=dict)
    calibrated_sigma: bool = True

    def __post_init__(self) -> None:
        _check_count(self.mc_samples, "--mc-samples", 2, MAX_MC_SAMPLES, " (two at least, for a standard deviation)")
        _check_consistency(self.consistency)
        _check_count(self.finetune_steps, "--finetune-steps", 0, MAX_FINETUNE_STEPS)
        if self.finetune:
            from .errors import reject_unknown_settings
            from .nn.finetune import FINETUNE_OPTIONS

            reject_unknown_settings(self.finetune, FINETUNE_OPTIONS, "fine-tuning")


@dataclass(frozen=True)
class KnownTipOptions:
    """A tip known beforehand (characterised on a tip-check sample, a session tip): nothing is
    estimated, the surface is the image eroded by it, exact where the certainty map says so. Its
    pixel size ``tip_pixel_nm`` (where known) must be the scan's: a tip is applied pixel by pixel."""

    tip: np.ndarray
    tip_pixel_nm: tuple[float, float] | None = None
    method: str = KNOWN_TIP

    def __post_init__(self) -> None:
        from .tip.descriptors import validate_tip
        from .tip.shapes import pixel_pair

        object.__setattr__(self, "tip", validate_tip(self.tip))
        if self.tip_pixel_nm is not None:
            object.__setattr__(self, "tip_pixel_nm", pixel_pair(self.tip_pixel_nm))


@dataclass(frozen=True)
class ReconstructOptions:
    """One reconstruction's options: the method's own, the levelling steps applied first (``()``:
    none), the device (``"auto"``, ``"cpu"``, ``"cuda[:n]"``) and the voxel grid of the tip volume."""

    method: ClassicalOptions | ModelOptions | KnownTipOptions
    levelling: tuple[str, ...] = DEFAULT_STEPS
    device: str = "auto"
    volume_shape: tuple[int, int, int] = (32, 32, 32)

    def __post_init__(self) -> None:
        if self.device is not None and not _DEVICE_NAME.fullmatch(str(self.device).strip().lower()):
            raise ParameterError(f"unknown device {self.device!r}: choose 'auto', 'cpu', 'cuda' or 'cuda:N'")
        object.__setattr__(self, "levelling", tuple(self.levelling or ()))
        check_steps(self.levelling)  # unknown steps are named now, not after the work
        shape = tuple(self.volume_shape)
        if len(shape) != 3 or any(int(n) != n or not 2 <= n <= 512 for n in shape):
            raise ParameterError(f"the tip volume needs three sizes from 2 to 512, got {self.volume_shape!r}")

    @property
    def name(self) -> str:
        """The method's name: ``"model"``, one of :data:`CLASSICAL_METHODS` or :data:`KNOWN_TIP`."""
        return "model" if isinstance(self.method, ModelOptions) else self.method.method


def reconstruct_options(
    method: str = "auto",
    *,
    tip_px: int | None = None,
    tip_nm: float | None = None,
    threshold_nm: float | None = None,
    steps: int = 200,
    device: str = "auto",
    volume_shape: tuple[int, int, int] = (32, 32, 32),
    levelling: tuple[str, ...] | list[str] | None = DEFAULT_STEPS,
    model: str = DEFAULT_MODEL,
    mc_samples: int = MC_SAMPLES,
    finetune_steps: int = 0,
    finetune_options: dict | None = None,
    calibrated_sigma: bool = True,
    consistency: str = DEFAULT_CONSISTENCY,
    tip: np.ndarray | None = None,
    tip_pixel_nm: float | tuple[float, float] | None = None,
) -> ReconstructOptions:
    """The checked options of a reconstruction from keyword settings (see
    :func:`napari_se3afm.pipeline.iter_reconstruct` for each); settings of the methods not chosen
    are ignored. A ``tip`` given is used as it is (:class:`KnownTipOptions`)."""
    if tip is not None:
        if method not in ("auto", KNOWN_TIP):
            raise ParameterError(f"a tip given is used as it is: it replaces method {method!r}'s estimate")
        own = (("tip_px", tip_px), ("tip_nm", tip_nm), ("threshold_nm", threshold_nm))
        window = [n for n, v in own if v is not None]
        if window:
            raise ParameterError(f"{', '.join(window)} do not apply to a tip given (it has its own window)")
        return ReconstructOptions(
            method=KnownTipOptions(tip=tip, tip_pixel_nm=tip_pixel_nm),
            levelling=tuple(levelling or ()),
            device=device,
            volume_shape=tuple(volume_shape),
        )
    if method == KNOWN_TIP:
        raise ParameterError(f"method {KNOWN_TIP!r} needs the tip (--tip FILE)")
    chosen = choose_method(method, model=model, tip_px=tip_px, tip_nm=tip_nm, threshold_nm=threshold_nm)
    if chosen == "model":
        own: ClassicalOptions | ModelOptions = ModelOptions(
            model=model,
            mc_samples=mc_samples,
            consistency=consistency,
            finetune_steps=finetune_steps,
            finetune=dict(finetune_options or {}),
            calibrated_sigma=calibrated_sigma,
        )
    else:
        _check_consistency(consistency)  # a wrong name is a mistake even where the method ignores it
        own = ClassicalOptions(method=chosen, tip_px=tip_px, tip_nm=tip_nm, threshold_nm=threshold_nm, steps=steps)
    return ReconstructOptions(
        method=own, levelling=tuple(levelling or ()), device=device, volume_shape=tuple(volume_shape)
    )


#: the keyword settings :func:`reconstruct_options` (and so ``reconstruct``) takes
SETTINGS = tuple(inspect.signature(reconstruct_options).parameters)
