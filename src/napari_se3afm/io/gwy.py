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


def _check_size(path: Path, blob: bytes) -> None:
    """Refuse a file whose top-level object does not end exactly at the end of the file.

    After the magic a ``.gwy`` file is one serialised object: its type name (NUL-terminated), its
    data size (uint32, little-endian), then that many bytes. gwyfile loops for ever on a file cut
    short inside that object, so the sizes are checked before it sees the file.
    """
    end = blob.find(b"\0", len(MAGIC), len(MAGIC) + 256)
    if end < 0 or len(blob) < end + 5:
        raise AfmFileError(path, "corrupted Gwyddion file (no top-level object after the magic)")
    size = int.from_bytes(blob[end + 1 : end + 5], "little")
    expected = end + 5 + size
    if expected != len(blob):
        what = "truncated" if expected > len(blob) else "has trailing data"
        raise AfmFileError(path, f"corrupted Gwyddion file: {what} ({len(blob)} bytes, its header says {expected})")


def _unit(field, key: str) -> str:
    unit = field.get(key)
    if unit is None:
        return ""
    return normalise_unit(str(unit.get("unitstr", "") or ""))


def read_gwy(path: Path) -> Scan:
    """Read every data field of a ``.gwy`` file; heights in nm."""
    import gwyfile

    blob = Path(path).read_bytes()
    if not is_gwy(blob[:4]):
        raise AfmFileError(path, "is not a Gwyddion file (no 'GWYP' magic)")
    _check_size(path, blob)
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
