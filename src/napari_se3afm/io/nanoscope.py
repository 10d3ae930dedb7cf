"""Bruker/Veeco Nanoscope ``.spm`` and ``.000``–``.999`` files (versions 5 to 9), written here.

Why our own parser: AFMReader needs the exact channel label and pySPM is not a dependency we want;
the format is a plain text header followed by integer data, which is short to read correctly.

* Header: lines ``\\Key: value`` up to ``\\*File list end``; sections start with ``\\*``; one
  ``\\*Ciao image list`` section per channel. Keys are matched without regard to case (versions
  write ``Scan size`` and ``Scan Size``); lengths in any unit Gwyddion accepts (``~m`` is how
  Nanoscope writes µm).
* Data: little-endian signed integers of ``Bytes/pixel`` (1, 2 or 4) at ``Data offset``.
* Height in nm = raw / 2^(8·bytes) × (Z scale soft value, in V) × (sensitivity, in nm/V), where the
  sensitivity key is the one named in brackets on the ``Z scale`` line (``Sens. Zscan`` in v5.31,
  ``Sens. Zsens`` in v5.12, ``Sens. ZsensSens`` in v9 ...). The hard value in parentheses (V/LSB) is
  *not* used: on ``kpg20080408.007`` it gives 3398 nm instead of 18.67 nm.
* Orientation: the file stores the bottom line first; rows are flipped so row 0 is the top row, as
  Gwyddion shows it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import AfmFileError
from ..scan import Channel, Scan
from .units import length_factor_to_nm, normalise_unit, physical_channel

MAGIC = b"\\*File list"
_END = b"\\*File list end"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
#: sections holding one image each (names as Nanoscope versions write them, in lower case)
IMAGE_SECTIONS = ("ciao image list", "afm image list", "ncafm image list")
_KEY = re.compile(r"^\\(@?(?:\d+:)?[^:]+):(.*)$")  # \Key: value  or  \@2:Key: value


def is_nanoscope(head: bytes) -> bool:
    """True when the file starts like a Nanoscope image file."""
    return head.startswith(MAGIC)


def _parse_header(text: str) -> list[tuple[str, dict[str, str]]]:
    sections: list[tuple[str, dict[str, str]]] = []
    current: dict[str, str] = {}
    sections.append(("", current))
    for raw in text.replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line.startswith("\\"):
            continue
        if line.startswith("\\*"):
            current = {}
            sections.append((line[2:].strip().lower(), current))
            continue
        m = _KEY.match(line)
        if m:
            current.setdefault(" ".join(m.group(1).lower().split()), m.group(2).strip())
    return sections


def _find(sections: list[tuple[str, dict[str, str]]], key: str) -> str | None:
    """The first value of ``key`` (lower case) in any section, with or without the ``@`` prefix."""
    key = " ".join(key.lower().split())
    for _, values in sections:
        for candidate in (key, f"@{key}"):
            if candidate in values:
                return values[candidate]
    return None


def _first_number(text: str, path: Path, what: str) -> float:
    m = re.search(_NUMBER, text or "")
    if not m:
        raise AfmFileError(path, f"header value {what!r} has no number: {text!r}")
    return float(m.group())


def _scale_of(value: str, sections, path: Path, bits: int) -> tuple[float, str]:
    """Return (factor per raw count, unit) from a ``Z scale`` value."""
    m = re.match(rf"\s*\w+\s*\[([^\]]+)\]\s*(?:\(([^)]*)\))?\s*({_NUMBER})\s*(.*)$", value)
    if not m:
        # old style without a sensitivity reference: "V 2.41 V" or a bare soft value
        soft = _first_number(value, path, "Z scale")
        unit = value.split()[-1] if value.split() else ""
        return soft / 2**bits, normalise_unit(unit)
    sens_key, _hard, soft_text, soft_unit = m.groups()
    soft = float(soft_text)
    sens_value = _find(sections, sens_key)
    if sens_value is None:  # as Gwyddion does: the soft value alone, in its own unit (phase in degrees)
        return soft / 2**bits, normalise_unit(soft_unit)
    parts = sens_value.split()
    sens = _first_number(sens_value, path, sens_key)
    sens_unit = parts[2] if len(parts) >= 3 else ""
    unit = sens_unit.split("/")[0] if "/" in sens_unit else normalise_unit(soft_unit)
    return soft * sens / 2**bits, normalise_unit(unit)


def _scan_size(section: dict[str, str], sections, samps: int, lines: int, path: Path) -> tuple[float, float]:
    text = section.get("scan size") or _find(sections, "scan size") or ""
    numbers = re.findall(_NUMBER, text)
    unit = text.split()[-1] if text.split() else "nm"
    factor = length_factor_to_nm(unit)
    if not numbers or factor is None:
        raise AfmFileError(path, f"cannot read the scan size from {text!r}")
    x = float(numbers[0]) * factor
    if len(numbers) >= 2:
        y = float(numbers[1]) * factor
    else:
        aspect = section.get("aspect ratio") or _find(sections, "aspect ratio") or "1:1"
        a, _, b = aspect.partition(":")
        try:
            y = x * float(b) / float(a)
        except ValueError:
            y = x * lines / samps
    return y / lines, x / samps


def read_nanoscope(path: Path) -> Scan:
    """Read every image channel of a Nanoscope file; heights in nm."""
    blob = path.read_bytes()
    if not is_nanoscope(blob[:16]):
        raise AfmFileError(path, "is not a Nanoscope image file (no '\\*File list' header)")
    end = blob.find(_END)
    if end < 0:
        raise AfmFileError(path, "Nanoscope header has no end marker (truncated or not a Nanoscope file)")
    sections = _parse_header(blob[:end].decode("latin-1"))
    images = [values for name, values in sections if name in IMAGE_SECTIONS]
    if not images:
        raise AfmFileError(path, "Nanoscope file holds no image (force curves are not supported)")
    channels: list[Channel] = []
    pixel: tuple[float, float] | None = None
    for index, section in enumerate(images):
        try:
            offset = int(section["data offset"])
            length = int(section["data length"])
            samps = int(section.get("samps/line", "0").split()[0])
            lines = int(section.get("number of lines", "0").split()[0])
        except (KeyError, ValueError) as exc:
            raise AfmFileError(path, f"image {index + 1} has a broken header ({exc})") from None
        if samps <= 0 or lines <= 0:
            raise AfmFileError(path, f"image {index + 1} has no size (Samps/line {samps}, lines {lines})")
        bpp = int(section.get("bytes/pixel", str(length // (samps * lines) if samps * lines else 2)))
        if bpp not in (1, 2, 4):
            raise AfmFileError(path, f"image {index + 1} has {bpp} bytes per pixel; 1, 2 or 4 expected")
        count = samps * lines
        if offset < 0 or offset + count * bpp > len(blob):
            raise AfmFileError(
                path,
                f"image {index + 1} needs bytes {offset}..{offset + count * bpp} "
                f"but the file has {len(blob)} (truncated)",
            )
        raw = np.frombuffer(blob, dtype=f"<i{bpp}", count=count, offset=offset)
        image_data = next((v for k, v in section.items() if k.endswith("image data")), "")
        quoted = re.search(r'"([^"]*)"', image_data)
        name = (
            quoted.group(1) if quoted else (re.search(r"\[([^\]]+)\]", image_data) or [None, f"Channel {index + 1}"])[1]
        )
        z_scale = next((v for k, v in section.items() if re.fullmatch(r"@?(\d+:)?z scale", k)), None)
        if z_scale is None:
            raise AfmFileError(path, f"channel {name!r} has no Z scale in its header")
        factor, unit = _scale_of(z_scale, sections, path, 8 * bpp)
        data = np.flipud(raw.reshape(lines, samps).astype(np.float64) * factor)
        direction = section.get("line direction", "").strip().lower() or None
        channels.append(physical_channel(name, data, unit, direction=direction))
        if pixel is None:
            pixel = _scan_size(section, sections, samps, lines, path)
    meta = {
        "instrument": _instrument(_find(sections, "description"), _find(sections, "microscope")),
        "version": _find(sections, "version"),
        "date": _find(sections, "date"),
        "scan_rate_hz": _maybe_float(_find(sections, "scan rate")),
    }
    setpoints = {k: v for _, values in sections for k, v in values.items() if "setpoint" in k.lower()}
    if setpoints:
        meta["setpoint"] = setpoints
    return Scan(channels=channels, pixel_nm=pixel, source=str(path), format="nanoscope", metadata=meta)  # type: ignore[arg-type]


def _instrument(description: str | None, microscope: str | None) -> str | None:
    if description and microscope and microscope in description:
        return description
    return " ".join(filter(None, [description, microscope])) or None


def _maybe_float(text: str | None) -> float | None:
    m = re.search(_NUMBER, text or "")
    return float(m.group()) if m else None
