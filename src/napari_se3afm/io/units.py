"""Physical units as files write them, and their conversion to nm."""

from __future__ import annotations

import numpy as np

_LENGTH_TO_NM = {
    "m": 1e9,
    "mm": 1e6,
    "um": 1e3,
    "µm": 1e3,
    "μm": 1e3,
    "~m": 1e3,
    "nm": 1.0,
    "pm": 1e-3,
    "a": 0.1,
    "å": 0.1,
    "Å": 0.1,
    "\u212b": 0.1,  # the ångström sign
}


def length_factor_to_nm(unit: str) -> float | None:
    """Factor turning a value in ``unit`` into nm, or None when ``unit`` is not a length."""
    return _LENGTH_TO_NM.get(unit.strip().replace("\u00b5", "µ"), None) if unit else None


def normalise_unit(unit: str) -> str:
    """Tidy a unit string: the degree sign in any encoding becomes "deg"."""
    u = (unit or "").strip()
    if u in ("º", "°", "\u00ba", "deg", "degree", "degrees"):
        return "deg"
    return u


def physical_channel(name: str, data: np.ndarray, unit: str, **extra):
    """A :class:`~napari_se3afm.scan.Channel` in physical units: lengths in nm, other units tidied.

    The kind comes from the name; a "height" whose unit is not a length (a mislabelled channel)
    is kept as "other", so it is never taken for the height map.
    """
    from ..scan import Channel, channel_kind

    factor = length_factor_to_nm(unit)
    unit = "nm" if factor is not None else normalise_unit(unit)
    kind = channel_kind(name)
    if kind == "height" and unit != "nm":
        kind = "other"
    return Channel(name=name, data=data * (factor or 1.0), unit=unit, kind=kind, **extra)
