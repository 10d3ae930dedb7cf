"""Gwyddion ``.gwy`` files through gwyfile: every data field, its title, x/y/z SI units, masks.

Heights are converted to nm by their z unit (Gwyddion stores SI base units, metres); lateral sizes by
the x/y unit — never the z values by the lateral unit, a mistake some readers make.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import AfmFileError
from ..scan import Channel, Scan
from .units import length_factor_to_nm, normalise_unit, physical_channel

MAGIC = b"GWYP"


def is_gwy(head: bytes) -> bool:
    """True when the file starts with Gwyddion's magic."""
    return head.startswith(MAGIC)


def _unit(field, key: str) -> str:
    unit = field.get(key)
    if unit is None:
        return ""
    return normalise_unit(str(unit.get("unitstr", "") or ""))


def read_gwy(path: Path) -> Scan:
    """Read every data field of a ``.gwy`` file; heights in nm."""
    import gwyfile

    with open(path, "rb") as fh:
        if not is_gwy(fh.read(4)):
            raise AfmFileError(path, "is not a Gwyddion file (no 'GWYP' magic)")
    try:
        container = gwyfile.load(str(path))
        keys = list(container.keys())
    except Exception as exc:  # gwyfile raises anything on corrupt input
        raise AfmFileError(path, f"corrupted Gwyddion file ({type(exc).__name__}: {exc})") from None
    ids = sorted({int(m.group(1)) for k in keys if (m := re.fullmatch(r"/(\d+)/data", k))})
    if not ids:
        raise AfmFileError(path, "Gwyddion file holds no image data field")
    channels: list[Channel] = []
    pixel = None
    try:
        for i in ids:
            field = container[f"/{i}/data"]
            ny, nx = int(field["yres"]), int(field["xres"])
            data = np.asarray(field["data"], dtype=np.float64).reshape(ny, nx)
            title = str(container.get(f"/{i}/data/title", f"Channel {i}"))
            xy_factor = length_factor_to_nm(_unit(field, "si_unit_xy") or "m")
            if xy_factor is None:
                raise AfmFileError(
                    path, f"channel {title!r} has lateral unit {_unit(field, 'si_unit_xy')!r}, not a length"
                )
            this_pixel = (float(field["yreal"]) * xy_factor / ny, float(field["xreal"]) * xy_factor / nx)
            mask = None
            if f"/{i}/mask" in keys:
                mask = np.asarray(container[f"/{i}/mask"]["data"]).reshape(ny, nx) > 0.5
            channels.append(physical_channel(title, data, _unit(field, "si_unit_z"), mask=mask))
            pixel = pixel or this_pixel
    except AfmFileError:
        raise
    except Exception as exc:
        raise AfmFileError(path, f"corrupted Gwyddion data field ({type(exc).__name__}: {exc})") from None
    return Scan(channels=channels, pixel_nm=pixel, source=str(path), format="gwy", metadata={})  # type: ignore[arg-type]
