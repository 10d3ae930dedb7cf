"""Reading a tip the user already has — characterised on a tip-check sample, a session tip, one
exported by Gwyddion — as the height map ``P`` with its pixel size.

A tip is read from a height map only: an ``.npz`` with a ``tip`` array (a reconstruction's, or a tip
exported as ``.npz``) or a Gwyddion ``.gwy`` (its channel titled *Tip*, else its only channel;
Gwyddion's tip fields are ``P`` up to an offset, apex highest). A tip volume or mesh is resampled
on export and would not give back the tip pixel for pixel; those are refused with what to give
instead. Reading never imports torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AfmFileError, ParameterError
from ..tip.descriptors import validate_tip
from .arrays import SCAN_ARRAY_KEYS

__all__ = ["TIP_HEIGHT_MAP_SUFFIXES", "holds_only_a_tip", "read_tip"]

#: the files a tip height map is read from
TIP_HEIGHT_MAP_SUFFIXES = (".npz", ".gwy")


def read_tip(path: str | Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    """The tip ``P`` in a file (nm, apex 0 at the centre, values ≤ 0) and its pixel size ``(dy, dx)``
    in nm where the file records one."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TIP_HEIGHT_MAP_SUFFIXES:
        raise ParameterError(
            f"{path.name}: a tip is read from its height map, an .npz (a reconstruction's, or a tip exported "
            "as .npz) or a .gwy; a volume or mesh is resampled and would not give the tip back pixel for pixel"
        )
    if not path.is_file():
        raise AfmFileError(path, "no such file")
    tip, pixel = _from_npz(path) if suffix == ".npz" else _from_gwy(path)
    if tip.ndim != 2 or tip.shape[0] != tip.shape[1] or tip.shape[0] % 2 == 0 or tip.shape[0] < 3:
        raise AfmFileError(path, f"a tip is an odd square height map of 3 px or more, this one is {tip.shape}")
    if not np.isfinite(tip).all():
        raise AfmFileError(path, "the tip holds NaN or infinite heights")
    c = tip.shape[0] // 2
    tip = tip - tip[c, c]
    tolerance = 1e-6 * max(1.0, float(np.ptp(tip)))
    if tip.max() > tolerance:
        raise AfmFileError(
            path, f"the tip's apex (its highest point) is not at its centre: {tip.max():.3g} nm above the centre"
        )
    return validate_tip(np.minimum(tip, 0.0)), pixel


def holds_only_a_tip(path: str | Path) -> bool:
    """An ``.npz`` with a ``tip`` array and no image: a tip exported as a height map. Never raises."""
    if Path(path).suffix.lower() != ".npz":
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            return "tip" in data.files and not set(SCAN_ARRAY_KEYS) & set(data.files)
    except Exception:  # any doubt means "not a tip"
        return False


def _from_npz(path: Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "tip" not in data:
                raise AfmFileError(path, f"holds no 'tip' array (it holds {', '.join(data.files) or 'nothing'})")
            tip = np.asarray(data["tip"], dtype=np.float64)
            if "pixel_nm_yx" in data:
                dy, dx = (float(v) for v in data["pixel_nm_yx"])
                return tip, (dy, dx)
            if "pixel_nm" in data and np.ndim(data["pixel_nm"]) == 0:
                return tip, (float(data["pixel_nm"]),) * 2
            return tip, None
    except AfmFileError:
        raise
    except Exception as exc:  # a damaged or foreign file: said, never a traceback
        raise AfmFileError(path, f"not a readable .npz ({exc})") from None


def _from_gwy(path: Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    from . import read_scan

    scan = read_scan(path)
    tips = [c for c in scan.channels if c.name.strip().casefold() == "tip"]
    if not tips and len(scan.channels) == 1:
        tips = scan.channels
    if len(tips) != 1:
        titles = ", ".join(c.label for c in scan.channels)
        raise AfmFileError(path, f"no channel titled 'Tip' and more than one channel ({titles})")
    if tips[0].unit != "nm":
        raise AfmFileError(path, f"the tip's heights are in {tips[0].unit or 'no unit'}, not a length")
    return np.asarray(tips[0].data, dtype=np.float64), scan.pixel_nm
