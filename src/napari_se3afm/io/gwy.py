"""Gwyddion ``.gwy`` files: every data field, its title, x/y/z SI units, masks.

Heights are converted to nm by their z unit (Gwyddion stores SI base units, metres); lateral sizes by
the x/y unit — never the z values by the lateral unit, a mistake some readers make. The file is
parsed here from Gwyddion's published serialisation format, in one buffer whose arrays are viewed,
not copied: reading takes the file's size and the converted heights, no more.
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
    data size (uint32, little-endian), then that many bytes.
    """
    end = blob.find(b"\0", len(MAGIC), len(MAGIC) + 256)
    if end < 0 or len(blob) < end + 5:
        raise AfmFileError(path, "corrupted Gwyddion file (no top-level object after the magic)")
    size = int.from_bytes(blob[end + 1 : end + 5], "little")
    expected = end + 5 + size
    if expected != len(blob):
        what = "truncated" if expected > len(blob) else "has trailing data"
        raise AfmFileError(path, f"corrupted Gwyddion file: {what} ({len(blob)} bytes, its header says {expected})")


_ARRAY_TYPES = {"C": np.dtype("i1"), "I": np.dtype("<i4"), "Q": np.dtype("<i8"), "D": np.dtype("<f8")}
_SCALAR_TYPES = {"b": "<?", "c": "<c", "i": "<i4", "q": "<i8", "d": "<f8"}
#: deeper nesting than any Gwyddion file has: a damaged or hostile file
_MAX_DEPTH = 32


class _Corrupt(Exception):
    """The serialised data break the format's rules (the reason is its message)."""


class _Parser:
    """Gwyddion's serialisation format (a typed tree of named components), read from one buffer.

    Numeric arrays come back as read-only views into the buffer, so a data field costs nothing
    until it is converted; every size is checked against the buffer before it is used.
    """

    def __init__(self, blob: bytes):
        self.blob = blob
        self.view = memoryview(blob)

    def _name(self, pos: int, end: int) -> tuple[str, int]:
        stop = self.blob.find(b"\0", pos, end)
        if stop < 0:
            raise _Corrupt("a name runs past its object")
        return self.blob[pos:stop].decode("utf-8", "replace"), stop + 1

    def _count(self, pos: int, end: int) -> tuple[int, int]:
        if pos + 4 > end:
            raise _Corrupt("an array's length runs past its object")
        return int.from_bytes(self.blob[pos : pos + 4], "little"), pos + 4

    def object(self, pos: int, end: int, depth: int = 0) -> tuple[dict, int]:
        """The object at ``pos`` as ``{"__type__": name, component: value, ...}`` and where it ends."""
        if depth > _MAX_DEPTH:
            raise _Corrupt("objects nested too deep")
        name, pos = self._name(pos, end)
        size, pos = self._count(pos, end)
        stop = pos + size
        if stop > end:
            raise _Corrupt(f"object {name!r} runs past its parent")
        components: dict = {"__type__": name}
        while pos < stop:
            key, pos = self._name(pos, stop)
            if pos >= stop:
                raise _Corrupt(f"component {key!r} has no type")
            code = chr(self.blob[pos])
            components[key], pos = self._value(code, pos + 1, stop, depth)
        return components, stop

    def _value(self, code: str, pos: int, end: int, depth: int):
        if code in _SCALAR_TYPES:
            dtype = np.dtype(_SCALAR_TYPES[code])
            if pos + dtype.itemsize > end:
                raise _Corrupt("a number runs past its object")
            return np.frombuffer(self.view[pos : pos + dtype.itemsize], dtype)[0].item(), pos + dtype.itemsize
        if code == "s":
            return self._name(pos, end)
        if code == "o":
            return self.object(pos, end, depth + 1)
        count, pos = self._count(pos, end)
        if code in _ARRAY_TYPES:
            dtype = _ARRAY_TYPES[code]
            stop = pos + count * dtype.itemsize
            if stop > end:
                raise _Corrupt(f"an array of {count:,} values runs past its object")
            return np.frombuffer(self.view[pos:stop], dtype), stop
        if code in "SO":
            items = []
            for _ in range(count):
                item, pos = self._name(pos, end) if code == "S" else self.object(pos, end, depth + 1)
                items.append(item)
            return items, pos
        raise _Corrupt(f"unknown component type {code!r}")


def _unit(field, key: str) -> str:
    unit = field.get(key)
    if unit is None:
        return ""
    return normalise_unit(str(unit.get("unitstr", "") or "") if isinstance(unit, dict) else "")


def read_gwy(path: Path) -> Scan:
    """Read every data field of a ``.gwy`` file; heights in nm."""
    blob = Path(path).read_bytes()
    if not is_gwy(blob[:4]):
        raise AfmFileError(path, "is not a Gwyddion file (no 'GWYP' magic)")
    _check_size(path, blob)
    try:
        container, _ = _Parser(blob).object(len(MAGIC), len(blob))
    except _Corrupt as exc:
        raise AfmFileError(path, f"corrupted Gwyddion file ({exc})") from None
    if container["__type__"] != "GwyContainer":
        raise AfmFileError(path, f"is a serialised {container['__type__']}, not a Gwyddion container of images")
    keys = list(container)
    ids = sorted({int(m.group(1)) for k in keys if (m := re.fullmatch(r"/(\d+)/data", k))})
    if not ids:
        raise AfmFileError(path, "Gwyddion file holds no image data field")
    channels: list[Channel] = []
    pixel = None
    try:
        for i in ids:
            field = container[f"/{i}/data"]
            ny, nx = int(field["yres"]), int(field["xres"])
            data = np.asarray(field["data"], dtype=np.float64)
            if data.size != ny * nx:
                raise AfmFileError(path, f"data field {i} holds {data.size:,} values, not its {ny} x {nx}")
            data = data.reshape(ny, nx)
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
