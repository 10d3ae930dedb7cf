"""Physical units as files write them, and their conversion to nm."""

from __future__ import annotations

_LENGTH_TO_NM = {
    "m": 1e9, "mm": 1e6, "um": 1e3, "µm": 1e3, "μm": 1e3, "~m": 1e3, "nm": 1.0, "pm": 1e-3, "a": 0.1, "å": 0.1,
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
