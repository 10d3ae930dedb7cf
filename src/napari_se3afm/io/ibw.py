"""Asylum Research Igor binary wave ``.ibw`` (version 5), written here.

Why our own parser: igor2 would add a dependency for a 64 + 320 byte header. Layout: BinHeader5
(64 bytes: version, checksum, wave/formula/note/units/label sizes), WaveHeader5 (320 bytes: point
count, type, dimensions ``nDim``, scaling ``sfA``/``sfB``), the data (Igor order: the first dimension
varies fastest), then formula, note (``Key: value`` lines: scan size, rate, set point, date) and the
dimension labels (32 bytes each; for dimension 2 they name the layers: ``HeightRetrace``...).
The pixel size is the wave's own x/y scaling ``sfA`` (as Gwyddion 2.62 reads it). Asylum stores no
per-layer units: layers named Phase are in degrees, all others in metres. Row 0 is the top row
(Igor draws y upwards, so the stored rows are flipped).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from ..errors import AfmFileError
from ..scan import Channel, Scan, channel_kind

_TYPES = {2: "f4", 4: "f8", 8: "i1", 0x10: "i2", 0x20: "i4", 0x48: "u1", 0x50: "u2", 0x60: "u4"}
_BIN, _WAVE = 64, 320


def is_ibw(head: bytes) -> bool:
    """True for an Igor binary wave of version 5 (either byte order)."""
    return len(head) >= 2 and (struct.unpack("<h", head[:2])[0] == 5 or struct.unpack(">h", head[:2])[0] == 5)


def read_ibw(path: Path) -> Scan:
    """Read every layer of an Asylum ``.ibw`` image; heights in nm."""
    blob = path.read_bytes()
    if len(blob) < _BIN + _WAVE or not is_ibw(blob[:2]):
        raise AfmFileError(path, "is not an Igor binary wave of version 5 (or is truncated)")
    e = "<" if struct.unpack("<h", blob[:2])[0] == 5 else ">"
    fields = struct.unpack_from(e + "hhiiii4i4i", blob, 0)
    wfm_size, formula_size, note_size, data_units_size = fields[2:6]
    dim_units_size, dim_labels_size = fields[6:10], fields[10:14]
    npnts, wtype = struct.unpack_from(e + "ih", blob, _BIN + 12)
    ndim = struct.unpack_from(e + "4i", blob, _BIN + 68)
    sfa = struct.unpack_from(e + "4d", blob, _BIN + 84)
    if wtype not in _TYPES:
        raise AfmFileError(path, f"Igor wave has unsupported data type {wtype:#x}")
    dims = [d for d in ndim if d > 0]
    if len(dims) < 2 or int(np.prod(dims)) != npnts:
        raise AfmFileError(path, f"Igor wave is not an image stack (dimensions {ndim}, {npnts} points)")
    dtype = np.dtype(e + _TYPES[wtype])
    start = _BIN + _WAVE
    end = start + npnts * dtype.itemsize
    if end > len(blob):
        raise AfmFileError(path, f"Igor wave data need {end} bytes, the file has {len(blob)} (truncated)")
    nx, ny = dims[0], dims[1]
    layers = dims[2] if len(dims) > 2 else 1
    data = np.frombuffer(blob, dtype=dtype, count=npnts, offset=start).reshape(layers, ny, nx)
    note_start = start + (wfm_size - _WAVE) + formula_size
    note = blob[note_start : note_start + note_size].decode("latin-1", errors="replace")
    # after the note: extended data units, extended units of each dimension, then each dimension's labels
    labels_start = note_start + note_size + data_units_size + sum(dim_units_size)
    if labels_start + sum(dim_labels_size) > len(blob):  # the note and the layer names are part of the file
        raise AfmFileError(
            path,
            f"Igor wave's note and labels need {labels_start + sum(dim_labels_size)} bytes, "
            f"the file has {len(blob)} (truncated)",
        )
    labels = _layer_labels(blob, labels_start + dim_labels_size[0] + dim_labels_size[1], dim_labels_size[2], layers)
    if not (sfa[0] > 0 and sfa[1] > 0 and np.isfinite(sfa[:2]).all()):
        raise AfmFileError(path, f"Igor wave has no valid x/y scaling ({sfa[:2]})")
    channels = []
    for i in range(layers):
        name = labels[i] if i < len(labels) and labels[i] else f"Layer {i}"
        img = np.flipud(data[i].astype(np.float64))
        if "phase" in name.lower():
            unit, values = "deg", img
        else:
            unit, values = "nm", img * 1e9
        kind = channel_kind(name)
        channels.append(Channel(name=name, data=values, unit=unit, kind=kind))
    meta = _note_metadata(note)
    return Scan(channels=channels, pixel_nm=(sfa[1] * 1e9, sfa[0] * 1e9), source=str(path), format="ibw", metadata=meta)


def _layer_labels(blob: bytes, offset: int, size: int, layers: int) -> list[str]:
    """Labels of dimension 2, 32 bytes each; the first names the dimension itself."""
    raw = blob[offset : offset + size]
    labels = [raw[j : j + 32].split(b"\x00")[0].decode("latin-1") for j in range(0, len(raw), 32)]
    return labels[1 : layers + 1] if len(labels) > layers else labels[:layers]


def _note_metadata(note: str) -> dict:
    values = {}
    for line in note.replace("\r", "\n").split("\n"):
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()

    def number(k: str) -> float | None:
        m = re.search(r"[-+]?[\d.]+(?:[eE][-+]?\d+)?", values.get(k, ""))
        return float(m.group()) if m else None

    return {
        "instrument": values.get("MicroscopeModel") or "Asylum Research",
        "date": " ".join(filter(None, [values.get("Date"), values.get("Time")])) or None,
        "scan_rate_hz": number("ScanRate"),
        "setpoint": number("SetPoint"),
        "scan_size_m": number("ScanSize"),
    }
