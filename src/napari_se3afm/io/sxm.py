"""Nanonis ``.sxm`` files (STM/AFM), written here: text header, then big-endian float32 images.

Header keys ``:KEY:`` on their own line; ``SCAN_PIXELS`` (nx ny), ``SCAN_RANGE`` (x y, m),
``SCAN_DIR`` (up/down), ``DATA_INFO`` (channel, name, unit, direction both/forward, ...). Data start
after ``\\x1a\\x04`` following ``:SCANIT_END:``: per channel the forward image, then the backward
image (stored mirrored left-right). Scans recorded upwards store the bottom line first and are
flipped so row 0 is the top row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AfmFileError
from ..scan import Channel, Scan
from .units import physical_channel

MAGIC = b":NANONIS_VERSION:"


def is_sxm(head: bytes) -> bool:
    """True when the file starts like a Nanonis scan."""
    return head.lstrip().startswith(MAGIC)


def _header(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    key = None
    for line in text.splitlines():
        if line.startswith(":") and line.endswith(":") and len(line) > 1:
            key = line.strip(":")
            out[key] = []
        elif key is not None and line.strip():
            out[key].append(line)
    return out


def read_sxm(path: Path) -> Scan:
    """Read every channel and direction of a Nanonis scan; lengths in nm."""
    blob = path.read_bytes()
    end = blob.find(b":SCANIT_END:")
    start = blob.find(b"\x1a\x04", end) if end >= 0 else -1
    if not is_sxm(blob[:32]) or end < 0 or start < 0:
        raise AfmFileError(path, "is not a complete Nanonis .sxm file (header markers missing)")
    head = _header(blob[:end].decode("latin-1"))
    try:
        nx, ny = (int(v) for v in head["SCAN_PIXELS"][0].split()[:2])
        rx, ry = (float(v) for v in head["SCAN_RANGE"][0].split()[:2])
        rows = [line.split("\t") for line in head["DATA_INFO"][1:]]
    except (KeyError, ValueError, IndexError) as exc:
        raise AfmFileError(path, f"Nanonis header is incomplete ({exc})") from None
    if nx <= 0 or ny <= 0:
        raise AfmFileError(path, f"Nanonis header gives no image size ({nx}x{ny})")
    up = head.get("SCAN_DIR", ["down"])[0].strip().lower() == "up"
    data = np.frombuffer(blob, dtype=">f4", offset=start + 2)
    channels: list[Channel] = []
    position = 0
    for row in rows:
        cells = [c.strip() for c in row if c.strip()]
        if len(cells) < 4:
            continue
        name, unit, both = cells[1].replace("_", " "), cells[2], cells[3].lower() == "both"
        for direction in ("forward", "backward") if both else ("forward",):
            if position + nx * ny > data.size:
                raise AfmFileError(path, f"data end early at channel {name!r} ({direction}): file truncated")
            img = data[position : position + nx * ny].reshape(ny, nx).astype(np.float64)
            position += nx * ny
            if direction == "backward":
                img = img[:, ::-1]
            if up:
                img = img[::-1]
            channels.append(physical_channel(name, img, unit, direction=direction))
    if not channels:
        raise AfmFileError(path, "Nanonis file lists no channels")
    meta = {
        "date": " ".join(head.get("REC_DATE", []) + head.get("REC_TIME", [])).strip() or None,
        "comment": " ".join(head.get("COMMENT", [])).strip() or None,
        "bias_v": float(head["BIAS"][0]) if head.get("BIAS") else None,
        "z_controller": head.get("Z-CONTROLLER"),
        "instrument": "Nanonis",
    }
    return Scan(
        channels=channels, pixel_nm=(ry * 1e9 / ny, rx * 1e9 / nx), source=str(path), format="sxm", metadata=meta
    )
