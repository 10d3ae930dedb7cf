"""JPK ``.jpk`` images (a TIFF container), written here on top of tifffile's tag reading.

Page 0 holds the scan geometry (tags 32834/32835: scan lengths u, v in m; 32838/32839: pixels) and
a thumbnail; each further page is one channel (32848 name, 32849 retrace flag) of raw integers with
linear calibrations ("slots", tags from 32912 in steps of 48: name, type, parent, ..., unit at +18,
multiplier at +20, offset at +21). The default slot (32897) scales the raw counts. Rows are flipped
so row 0 is the top row (JPK stores the first line at the bottom).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AfmFileError
from ..scan import Scan
from .units import physical_channel

GEOMETRY_TAGS = (32834, 32835, 32838, 32839)


def _slots(tags: dict) -> dict[str, dict]:
    count = int(tags.get(32896, 0) or 0)
    slots = {}
    for i in range(count):
        base = 32912 + 48 * i
        name = tags.get(base)
        if name is None:
            continue
        slots[str(name)] = {
            "parent": tags.get(base + 2),
            "unit": str(tags.get(base + 18, "") or ""),
            "multiplier": float(tags.get(base + 20, 1.0) or 1.0),
            "offset": float(tags.get(base + 21, 0.0) or 0.0),
        }
    return slots


def _calibrate(raw: np.ndarray, tags: dict, path: Path) -> tuple[np.ndarray, str]:
    """Apply the default slot's linear scaling to the raw integers.

    Each slot's multiplier and offset map the *raw* counts straight to that slot's unit (checked on
    ``file.jpk``: 50,407,819 counts × 1.1577e-15 m = 58.36 nm, the z range independent readers give;
    chaining through the parents instead gives nonsense).
    """
    slots = _slots(tags)
    name = str(tags.get(32897, ""))
    if name not in slots:
        raise AfmFileError(path, f"JPK channel's default calibration {name!r} is not defined")
    slot = slots[name]
    return raw.astype(np.float64) * slot["multiplier"] + slot["offset"], slot["unit"]


def read_jpk(path: Path, pages: list[tuple[np.ndarray | None, dict]]) -> Scan:
    """Read every channel of a JPK image; ``pages`` are (data, tags) from tifffile."""
    geometry = pages[0][1]
    if not all(t in geometry for t in GEOMETRY_TAGS):
        raise AfmFileError(path, "JPK file lacks its scan geometry tags")
    ulen, vlen = float(geometry[32834]), float(geometry[32835])
    nx, ny = int(geometry[32838]), int(geometry[32839])
    if nx <= 0 or ny <= 0 or not ulen > 0 or not vlen > 0:
        raise AfmFileError(path, f"JPK geometry is invalid ({nx}x{ny} px, {ulen}x{vlen} m)")
    channels = []
    for data, tags in pages[1:]:
        if data is None or 32848 not in tags:
            continue
        name = str(tags[32848])
        values, unit = _calibrate(np.asarray(data), tags, path)
        direction = "retrace" if str(tags.get(32849, "0")).strip() in ("1", "True", "true") else "trace"
        channels.append(physical_channel(name, np.flipud(values), unit, direction=direction))
    if not channels:
        raise AfmFileError(path, "JPK file holds no image channel")
    meta = {"instrument": "JPK", "date": str(geometry.get(32771, "")) or None}
    return Scan(
        channels=channels, pixel_nm=(vlen * 1e9 / ny, ulen * 1e9 / nx), source=str(path), format="jpk", metadata=meta
    )
