"""SimTip parameters: every range of the generator in one validated, JSON-serialisable configuration.

Ranges are ``(low, high)`` pairs drawn uniformly unless the name says ``log`` (log-uniform). Lengths
and heights are in nm, angles in degrees. Defaults follow the paper's §4.1.1 (tip families, surface
families, imaging artefacts); :func:`config_from_dict` accepts a partial nested dictionary (the JSON
file of ``se3afm lab simulate --config``) and rejects unknown keys by name.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import ParameterError, reject_unknown_settings

#: stream seeds of the fixed splits: no training stream (seed 0 upwards from the training run's own) reaches them
SPLIT_SEEDS = {"validation": 1_000_001, "test": 2_000_002}

__all__ = [
    "SURFACE_TYPES",
    "TIP_TYPES",
    "ImagingConfig",
    "SimTipConfig",
    "SurfaceConfig",
    "TipConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
]

TIP_TYPES = ("pyramidal", "conical", "spherical", "damaged")
#: "real": real scans (lab/simtip/real_surfaces.py), off unless weighted (configs/simtip/real.json)
SURFACE_TYPES = ("roughness", "particles", "steps", "periodic", "real")

Range = tuple[float, float]


@dataclass(frozen=True)
class TipConfig:
    """Tip families and their parameter ranges."""

    #: relative frequency of each family in ``TIP_TYPES`` order
    weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    pyramid_half_angle_deg: Range = (30.0, 40.0)
    pyramid_apex_radius_nm: Range = (5.0, 20.0)
    #: chance that a pyramid is three-sided (asymmetric under v -> -v) instead of four-sided
    pyramid_three_sided: float = 0.25
    cone_half_angle_deg: Range = (10.0, 20.0)
    cone_apex_radius_nm: Range = (2.0, 10.0)
    sphere_radius_nm: Range = (10.0, 50.0)
    sphere_stick_half_angle_deg: Range = (5.0, 15.0)
    #: stretch of the x extent against y at equal height (pyramids and cones); 1 = round
    anisotropy: Range = (0.8, 1.25)
    #: damaged tips: a worn or chipped pyramid/cone with these defects
    damaged_apex_radius_nm: Range = (8.0, 30.0)
    wear_depth_nm: Range = (1.0, 6.0)
    wear_tilt_deg: Range = (5.0, 30.0)
    asperities: tuple[int, int] = (0, 3)
    asperity_depth_nm: Range = (0.5, 4.0)
    double_tip_probability: float = 0.3
    double_tip_depth_nm: Range = (0.0, 3.0)
    double_tip_distance_nm: Range = (5.0, 20.0)


@dataclass(frozen=True)
class SurfaceConfig:
    """Surface families and their parameter ranges."""

    weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 0.0)
    roughness_rms_nm: Range = (0.5, 5.0)
    roughness_correlation_nm: Range = (3.0, 30.0)
    particle_diameter_nm: Range = (5.0, 50.0)
    #: relative spread of particle diameters within one scan
    particle_size_spread: float = 0.15
    #: centre spacing in diameters: random arrays (sparse) and packed (hexagonal) arrays
    particle_spacing_random: Range = (1.3, 3.0)
    particle_spacing_packed: Range = (1.0, 1.15)
    particle_coverage_random: Range = (0.3, 0.8)
    particle_packed_probability: float = 0.5
    step_height_nm: Range = (0.3, 2.0)
    terrace_width_nm: Range = (15.0, 80.0)
    step_meander_nm: Range = (0.0, 8.0)
    period_nm: Range = (10.0, 100.0)
    pattern_height_nm: Range = (2.0, 20.0)
    pattern_duty: Range = (0.3, 0.7)
    spike_half_angle_deg: Range = (8.0, 20.0)
    #: small substrate roughness under particles, steps and patterns
    substrate_rms_nm: Range = (0.0, 0.2)
    #: folder of the real scans of the "real" family ("": ../shared/data/real beside the repository)
    real_scans: str = ""
    #: the real scan's recording tip, scaled with it, is at most this fraction of the apex radius of
    #: the tip that images it: every feature of a "real" surface is sharper than the new tip
    real_bluntness: float = 0.5

    def __post_init__(self) -> None:
        if len(self.weights) == len(SURFACE_TYPES) - 1:  # written before the "real" family existed
            object.__setattr__(self, "weights", (*self.weights, 0.0))


@dataclass(frozen=True)
class ImagingConfig:
    """Imaging artefacts applied after the exact dilation; each can be switched off."""

    noise: bool = True
    noise_nm: Range = (0.02, 0.3)
    #: the noise's power falls as ``f^-β`` with β drawn from this range: (0, 0) is white noise (and
    #: draws nothing); 1 is flicker noise, 2 a random walk in both directions
    noise_exponent: Range = (0.0, 0.0)
    line_offsets: bool = True
    line_offset_nm: Range = (0.0, 0.15)
    drift: bool = True
    #: total lateral drift over the scan, in pixels (slow axis and fast axis)
    drift_px: Range = (0.0, 2.0)
    creep: bool = True
    #: slow-axis lag at the first line, in pixels, decaying over ``creep_fraction`` of the scan
    creep_px: Range = (0.0, 3.0)
    creep_fraction: Range = (0.05, 0.2)
    bow: bool = True
    #: height of the scanner bow at the image corners, nm
    bow_nm: Range = (0.0, 0.5)
    #: scars, runs of 1–3 scan lines the feedback lost, each shifted as a whole by ± an offset from
    #: ``scar_nm``: how many per scan ((0, 0), the default, draws nothing, so the noise drawn after
    #: it is what it was without the option), and how often the first run opens the scan
    scars: tuple[int, int] = (0, 0)
    scar_nm: Range = (5.0, 40.0)
    scar_at_start: float = 0.5


@dataclass(frozen=True)
class SimTipConfig:
    """Everything that defines a SimTip triplet distribution."""

    image_px: int = 128
    tip_px: int = 31
    #: the tip must reach this depth inside its window; the pixel size is chosen from the tip to make it
    #: so. A (low, high) pair draws it log-uniformly per tip: deeper fits give coarser pixels and wider
    #: fields of view, as on many real scans
    tip_fit_depth_nm: float | Range = 10.0
    pixel_nm: Range = (0.25, 4.0)
    tips: TipConfig = field(default_factory=TipConfig)
    surfaces: SurfaceConfig = field(default_factory=SurfaceConfig)
    imaging: ImagingConfig = field(default_factory=ImagingConfig)

    def __post_init__(self) -> None:
        _check(self)


def choose_family(rng, names: tuple[str, ...], weights) -> str:
    """Draw one family name with the configured relative weights (one draw from ``rng``)."""
    import numpy as np

    w = np.asarray(weights, dtype=float)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def _check_range(name: str, value: Any, positive: bool = False) -> None:
    if not (isinstance(value, tuple) and len(value) == 2):
        raise ParameterError(f"{name} must be a (low, high) pair, got {value!r}")
    low, high = value
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ParameterError(f"{name} must satisfy low <= high, got {value!r}")
    if positive and not low > 0:
        raise ParameterError(f"{name} must be positive, got {value!r}")
    if low < 0:
        raise ParameterError(f"{name} must not be negative, got {value!r}")


def _check(cfg: SimTipConfig) -> None:
    if int(cfg.image_px) != cfg.image_px or cfg.image_px < 16:
        raise ParameterError(f"image_px must be an integer >= 16, got {cfg.image_px!r}")
    if int(cfg.tip_px) != cfg.tip_px or cfg.tip_px < 3 or cfg.tip_px % 2 == 0:
        raise ParameterError(f"tip_px must be an odd integer >= 3, got {cfg.tip_px!r}")
    if cfg.tip_px * 2 > cfg.image_px:
        raise ParameterError(f"tip_px {cfg.tip_px} must be at most half of image_px {cfg.image_px}")
    if isinstance(cfg.tip_fit_depth_nm, tuple):
        _check_range("tip_fit_depth_nm", cfg.tip_fit_depth_nm, positive=True)
    elif not cfg.tip_fit_depth_nm > 0:
        raise ParameterError(f"tip_fit_depth_nm must be > 0, got {cfg.tip_fit_depth_nm!r}")
    _check_range("pixel_nm", cfg.pixel_nm, positive=True)
    for section, names in (("tips", TIP_TYPES), ("surfaces", SURFACE_TYPES)):
        sub = getattr(cfg, section)
        if len(sub.weights) != len(names) or any(w < 0 for w in sub.weights) or sum(sub.weights) <= 0:
            raise ParameterError(
                f"{section}.weights needs {len(names)} non-negative weights ({', '.join(names)}) "
                f"with a positive sum, got {sub.weights!r}"
            )
        for f in dataclasses.fields(sub):
            value = getattr(sub, f.name)
            if f.name != "weights" and isinstance(value, tuple):
                _check_range(f"{section}.{f.name}", value)
    for f in dataclasses.fields(cfg.imaging):
        value = getattr(cfg.imaging, f.name)
        if isinstance(value, tuple):
            _check_range(f"imaging.{f.name}", value)
    for name in ("pyramid_half_angle_deg", "cone_half_angle_deg", "sphere_stick_half_angle_deg"):
        low, high = getattr(cfg.tips, name)
        if not (0 < low and high < 90):
            raise ParameterError(f"tips.{name} must lie inside (0, 90) degrees, got {(low, high)!r}")
    for name in (
        "pyramid_apex_radius_nm",
        "cone_apex_radius_nm",
        "sphere_radius_nm",
        "anisotropy",
        "damaged_apex_radius_nm",
    ):
        _check_range(f"tips.{name}", getattr(cfg.tips, name), positive=True)
    for name in ("roughness_correlation_nm", "particle_diameter_nm", "terrace_width_nm", "period_nm"):
        _check_range(f"surfaces.{name}", getattr(cfg.surfaces, name), positive=True)
    for section, name in (
        ("tips", "pyramid_three_sided"),
        ("tips", "double_tip_probability"),
        ("surfaces", "particle_packed_probability"),
        ("imaging", "scar_at_start"),
    ):
        value = getattr(getattr(cfg, section), name)
        if not 0 <= value <= 1:
            raise ParameterError(f"{section}.{name} is a probability in [0, 1], got {value!r}")
    if any(int(n) != n for n in cfg.imaging.scars):
        raise ParameterError(f"imaging.scars is a (fewest, most) pair of whole numbers, got {cfg.imaging.scars!r}")
    if not 0 < cfg.surfaces.real_bluntness <= 1:
        raise ParameterError(f"surfaces.real_bluntness must lie in (0, 1], got {cfg.surfaces.real_bluntness!r}")


def _build(cls: type, data: dict, where: str) -> Any:
    if not isinstance(data, dict):
        raise ParameterError(f"{where or 'config'} must be a mapping, got {type(data).__name__}")
    reject_unknown_settings(data, cls, "SimTip", prefix=where)
    kwargs = {}
    for name, value in data.items():
        default = getattr(cls(), name) if cls is not SimTipConfig else getattr(_DEFAULT, name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{where}{name}.")
        elif isinstance(default, tuple):
            if not isinstance(value, (list, tuple)):
                raise ParameterError(f"{where}{name} must be a list, got {value!r}")
            kwargs[name] = tuple(value)
        else:  # a scalar setting; some (tip_fit_depth_nm) also take a (low, high) range
            kwargs[name] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ParameterError(f"bad SimTip setting in {where or 'config'}: {exc}") from None


_DEFAULT = SimTipConfig()


def config_from_dict(data: dict) -> SimTipConfig:
    """Build a configuration from a (partial, nested) dictionary; missing keys keep their defaults."""
    return _build(SimTipConfig, data, "")


def config_to_dict(cfg: SimTipConfig) -> dict:
    """Return the whole configuration as a JSON-ready nested dictionary."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def read_json_file(path: str | Path, what: str) -> dict:
    """Read a JSON object from ``path``; unreadable or invalid files raise one clear ParameterError."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ParameterError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{what} {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{what} {path} must hold a JSON object, not {type(data).__name__}")
    return data


def load_config(path: str | Path) -> SimTipConfig:
    """Read a JSON configuration file (partial settings allowed)."""
    return config_from_dict(read_json_file(path, "SimTip config"))
