"""Park Systems ``.tiff``: real heights from private tags, not the 8-bit preview on page 0.

Tag 50434 holds the float32 data (little-endian), tag 50435 a binary header (little-endian, UTF-16
strings) with the sizes in µm and the scaling; height = data × data gain × z scale + z offset, in the
header's z unit. Our own parse: tifffile reads the tags but not this header. Rows are flipped so row 0
is the top row (the data are stored bottom line first).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..errors import AfmFileError
from ..scan import Channel, Scan, channel_kind
from .units import length_factor_to_nm, normalise_unit

DATA_TAG, HEADER_TAG = 50434, 50435


def _utf16(raw: bytes) -> str:
    return raw.decode("utf-16-le", errors="replace").split("\x00")[0].strip()


def read_park(path: Path, tags: dict) -> Scan:
    """Read the height channel of a Park Systems TIFF whose private tags are in ``tags``."""
    header, payload = tags[HEADER_TAG], tags[DATA_TAG]
    if not isinstance(header, bytes) or len(header) < 276 or not isinstance(payload, bytes):
        raise AfmFileError(path, "Park Systems header or data tag is truncated")
    try:
        source = _utf16(header[4:68])
        mode = _utf16(header[68:84])
        nx, ny = struct.unpack_from("<ii", header, 100)
        xreal, yreal = struct.unpack_from("<dd", header, 140)
        scan_rate, set_point = struct.unpack_from("<dd", header, 172)
        set_point_unit = _utf16(header[188:204])
        data_gain, z_scale, z_offset = struct.unpack_from("<ddd", header, 220)
        z_unit = _utf16(header[244:260])
    except struct.error as exc:
        raise AfmFileError(path, f"Park Systems header is truncated ({exc})") from None
    if nx <= 0 or ny <= 0 or len(payload) < 4 * nx * ny:
        raise AfmFileError(path, f"Park Systems data hold {len(payload)} bytes, {nx}x{ny} float32 expected")
    if not all(np.isfinite([xreal, yreal, data_gain, z_scale, z_offset])) or xreal <= 0 or yreal <= 0:
        raise AfmFileError(path, "Park Systems header has invalid scan size or scaling")
    raw = np.frombuffer(payload, dtype="<f4", count=nx * ny).reshape(ny, nx).astype(np.float64)
    data = np.flipud(raw * data_gain * z_scale + z_offset)
    factor = length_factor_to_nm(z_unit)
    unit = "nm" if factor is not None else normalise_unit(z_unit)
    name = source or "Topography"
    kind = channel_kind(name) if unit == "nm" else "other"
    if unit == "nm" and kind == "other":
        kind = "height"  # Park names its height channel "Topography" or "Z Height"
    channel = Channel(name=name, data=data * (factor or 1.0), unit=unit, kind=kind)
    meta = {
        "instrument": "Park Systems",
        "mode": mode,
        "scan_rate_hz": scan_rate,
        "setpoint": f"{set_point:g} {set_point_unit}".strip(),
    }
    return Scan(
        channels=[channel],
        pixel_nm=(yreal * 1e3 / ny, xreal * 1e3 / nx),
        source=str(path),
        format="park",
        metadata=meta,
    )
