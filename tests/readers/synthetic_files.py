"""Small synthetic files written from their formats' rules: Nanoscope header variants and a Gwyddion
Simple Field file (a format read only through Gwyddion).

Each Nanoscope variant states the heights and pixel size the header implies (computed here by hand from the
header's numbers), so a reader is checked against that arithmetic and, where Gwyddion is installed,
against Gwyddion's own reading of the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEADER_BYTES = 8192


@dataclass(frozen=True)
class Image:
    """One ``\\*Ciao image list`` section: its header lines (offset and length are added) and raw data."""

    lines: tuple[str, ...]
    raw: np.ndarray  # (lines, samps) as stored (bottom line first)
    bytes_per_pixel: int = 2


@dataclass(frozen=True)
class Variant:
    """A header variant and what it means: heights in nm per raw count, pixel (dy, dx) in nm."""

    version: str
    scan_list: tuple[str, ...]
    images: tuple[Image, ...]
    nm_per_count: tuple[float, ...]  # per image
    pixel_nm: tuple[float, float]
    newline: str = "\r\n"
    #: Gwyddion 2.62 reads it (it refuses 1-byte data: "expected data size ... 512 bytes")
    gwyddion_reads: bool = True


def write_nanoscope(path: Path, variant: Variant) -> Path:
    """Write ``variant`` as a binary Nanoscope file: text header padded to 8192 bytes, then the data."""
    offsets, position = [], HEADER_BYTES
    for image in variant.images:
        offsets.append(position)
        position += image.raw.size * image.bytes_per_pixel
    header = [
        "\\*File list",
        f"\\Version: {variant.version}",
        "\\Date: 02:30:31 PM Tue Jan 08 2008",
        f"\\Data length: {HEADER_BYTES}",
        *variant.scan_list,
    ]
    for image, offset in zip(variant.images, offsets, strict=True):
        header += [
            "\\*Ciao image list",
            f"\\Data offset: {offset}",
            f"\\Data length: {image.raw.size * image.bytes_per_pixel}",
            f"\\Bytes/pixel: {image.bytes_per_pixel}",
            *image.lines,
        ]
    header.append("\\*File list end")
    text = (variant.newline.join(header) + variant.newline).encode("latin-1")
    blob = bytearray(text + b"\x1a" + b"\0" * (HEADER_BYTES - len(text) - 1))
    for image in variant.images:
        blob += image.raw.astype({1: "<i1", 2: "<i2", 4: "<i4"}[image.bytes_per_pixel]).tobytes()
    Path(path).write_bytes(bytes(blob))
    return Path(path)


def _raw(rows: int, cols: int, bytes_per_pixel: int, seed: int) -> np.ndarray:
    top = {1: 100, 2: 30000, 4: 2_000_000_000}[bytes_per_pixel]
    return np.random.default_rng(seed).integers(-top, top, size=(rows, cols))


def variants() -> dict[str, Variant]:
    """The header variants by name."""
    v = {}
    # v5.12 (MultiMode V): keys in title case, '~m' for micrometres, the height scale refers to Sens. Zsens
    v["v5.12-title-case-tilde-m"] = Variant(
        version="0x05120005",
        scan_list=("\\*Ciao scan list", "\\Scan Size: 10000 nm", "\\@Sens. Zsens: V 20.50000 nm/V"),
        images=(
            Image(
                (
                    "\\Samps/line: 16",
                    "\\Number of lines: 16",
                    "\\Scan Size: 10 10 ~m",
                    '\\@2:Image Data: S [Height] "Height"',
                    "\\@2:Z scale: V [Sens. Zsens] (0.0003750000 V/LSB) 2.000000 V",
                    "\\Line Direction: Retrace",
                ),
                _raw(16, 16, 2, 1),
            ),
            Image(
                (
                    "\\Samps/line: 16",
                    "\\Number of lines: 16",
                    "\\Scan Size: 10 10 ~m",
                    '\\@2:Image Data: S [Phase] "Phase"',
                    "\\@2:Z scale: V [Sens. Phase] (0.006713867 V/LSB) 70.00000 º",
                ),
                _raw(16, 16, 2, 2),
            ),
        ),
        nm_per_count=(2.0 * 20.5 / 2**16, 70.0 / 2**16),
        pixel_nm=(10000 / 16, 10000 / 16),
    )
    # v5.31 as the real files: lower-case keys, nm, Sens. Zscan
    v["v5.31-zscan-nm"] = Variant(
        version="0x05310001",
        scan_list=("\\*Scanner list", "\\@Sens. Zscan: V 9.300000 nm/V", "\\*Ciao scan list", "\\Scan size: 500 nm"),
        images=(
            Image(
                (
                    "\\Samps/line: 24",
                    "\\Number of lines: 24",
                    "\\Scan size: 500 500 nm",
                    '\\@2:Image Data: S [Height] "Height"',
                    "\\@2:Z scale: V [Sens. Zscan] (0.006713867 V/LSB) 1.500000 V",
                ),
                _raw(24, 24, 2, 3),
            ),
        ),
        nm_per_count=(1.5 * 9.3 / 2**16,),
        pixel_nm=(500 / 24, 500 / 24),
    )
    # v9 (Icon, FastScan): 32-bit data, micrometres written 'um', Sens. ZsensSens
    v["v9-32bit-um"] = Variant(
        version="0x09200000",
        scan_list=("\\*Ciao scan list", "\\@Sens. ZsensSens: V 145.0000 nm/V", "\\Scan Size: 2 um"),
        images=(
            Image(
                (
                    "\\Samps/line: 32",
                    "\\Number of lines: 32",
                    "\\Scan Size: 2 2 um",
                    '\\@2:Image Data: S [ZSensor] "Height Sensor"',
                    "\\@2:Z scale: V [Sens. ZsensSens] (0.0000000009 V/LSB) 4.000000 V",
                ),
                _raw(32, 32, 4, 4),
                4,
            ),
        ),
        nm_per_count=(4.0 * 145.0 / 2**32,),
        pixel_nm=(2000 / 32, 2000 / 32),
    )
    # a rectangular field (half as many lines, half the height)
    v["rectangular"] = Variant(
        version="0x05300001",
        scan_list=("\\*Ciao scan list", "\\@Sens. Zscan: V 12.00000 nm/V"),
        images=(
            Image(
                (
                    "\\Samps/line: 32",
                    "\\Number of lines: 16",
                    "\\Scan Size: 640 320 nm",
                    '\\@2:Image Data: S [Height] "Height"',
                    "\\@2:Z scale: V [Sens. Zscan] (0.006713867 V/LSB) 3.000000 V",
                ),
                _raw(16, 32, 2, 5),
            ),
        ),
        nm_per_count=(3.0 * 12.0 / 2**16,),
        pixel_nm=(320 / 16, 640 / 32),
    )
    # 8-bit data and one scan size with an aspect ratio (older files); Gwyddion refuses 1-byte data
    v["8-bit-aspect-ratio"] = Variant(
        version="0x04230000",
        scan_list=("\\*Ciao scan list", "\\@Sens. Zscan: V 9.300000 nm/V"),
        images=(
            Image(
                (
                    "\\Samps/line: 16",
                    "\\Number of lines: 16",
                    "\\Scan size: 800 nm",
                    "\\Aspect ratio: 1:1",
                    '\\@2:Image Data: S [Height] "Height"',
                    "\\@2:Z scale: V [Sens. Zscan] (0.006713867 V/LSB) 1.500000 V",
                ),
                _raw(16, 16, 1, 6),
                1,
            ),
        ),
        nm_per_count=(1.5 * 9.3 / 2**8,),
        pixel_nm=(50.0, 50.0),
        gwyddion_reads=False,
    )
    return v


def write_gsf(path: Path, z_nm: np.ndarray, pixel_nm: float) -> Path:
    """A Gwyddion Simple Field file (a format with no native reader here), heights in metres."""
    ny, nx = z_nm.shape
    header = (
        "Gwyddion Simple Field 1.0\n"
        f"XRes = {nx}\nYRes = {ny}\nXReal = {nx * pixel_nm * 1e-9!r}\nYReal = {ny * pixel_nm * 1e-9!r}\n"
        "XYUnits = m\nZUnits = m\nTitle = Topography\n"
    ).encode()
    header += b"\0" * (4 - len(header) % 4)
    path.write_bytes(header + (z_nm * 1e-9).astype("<f4").tobytes())
    return path
