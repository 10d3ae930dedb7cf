"""Reading AFM files into a :class:`~napari_se3afm.scan.Scan` and writing results; no torch here.

Each file goes to its reader by its content (:mod:`.detect`), and what the reader returns is checked
before anyone sees it. Every failure — missing, empty, truncated, corrupted, unsupported, too large —
is an :class:`~napari_se3afm.errors.AfmFileError` naming the file and the problem; no parser's own
exception escapes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import AfmFileError, ParameterError, Se3afmError
from ..scan import HeightMap, Scan
from ..tip.shapes import pixel_size_problem
from .detect import MAX_FILE_BYTES, SUFFIXES, detect_format, quiet_parsers, sniff
from .files import find_scans, result_names, scan_name
from .limits import values_problem

__all__ = [
    "SUFFIXES",
    "HeightMap",
    "detect_format",
    "find_scans",
    "read_height_map",
    "read_scan",
    "result_names",
    "scan_name",
    "write_reconstruction",
]


def _read(path: Path, kind: str) -> Scan:
    from . import arrays, gwy, ibw, nanoscope, sxm, tiff

    if kind == "gwyddion":
        from .via_gwyddion import read_via_gwyddion

        return read_via_gwyddion(path)
    if kind == "gwy":
        return gwy.read_gwy(path)
    if kind == "nanoscope":
        return nanoscope.read_nanoscope(path)
    if kind == "sxm":
        return sxm.read_sxm(path)
    if kind == "ibw":
        return ibw.read_ibw(path)
    if kind == "tiff":
        scan = tiff.read_tiff_family(path)
        if scan is not None:
            return scan
    return arrays.read_array_scan(path)


def _check(scan: Scan, path: Path) -> Scan:
    if not scan.channels:
        raise AfmFileError(path, "holds no image channel")
    for ch in scan.channels:
        if ch.data.ndim != 2 or min(ch.data.shape) < 1:
            raise AfmFileError(path, f"channel {ch.label!r} is not a 2-D image (shape {ch.data.shape})")
        problem = values_problem(ch)
        if problem:
            raise AfmFileError(path, f"channel {ch.label!r} {problem}")
    if scan.pixel_nm is not None:
        problem = pixel_size_problem(*scan.pixel_nm)
        if problem:
            raise AfmFileError(path, problem)
    return scan


def read_scan(path: str | Path) -> Scan:
    """Read every channel of an AFM file (heights in nm, row 0 at the top as Gwyddion shows it).

    Supported: Gwyddion ``.gwy``; Bruker/Veeco Nanoscope ``.spm``/``.000``–``.999``; Asylum ``.ibw``;
    JPK ``.jpk``; Nanonis ``.sxm``; Park Systems ``.tiff``; plain ``.tif``/``.npy``/``.npz`` in nm.
    Any other file is converted by Gwyddion where it is installed (:mod:`.via_gwyddion`).

    Raises
    ------
    AfmFileError
        For every file that cannot be read, with the file's path and the reason.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"read_scan takes a file path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise AfmFileError(path, "no such file")
    if path.is_dir():
        raise AfmFileError(path, "is a folder, not a file")
    if not path.is_file():
        raise AfmFileError(path, "is not a regular file (a device, a pipe or a socket)")
    size = path.stat().st_size
    if size == 0:
        raise AfmFileError(path, "is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise AfmFileError(path, f"is {size / 1024**3:.1f} GiB, far larger than any AFM scan this tool reads")
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
        with quiet_parsers():
            return _check(_read(path, sniff(path, head)), path)
    except AfmFileError as exc:
        if exc.path != str(path):  # said of the file as the user named it, not a copy or a resolved path
            raise type(exc)(path, exc.problem) from None
        raise
    except Se3afmError:
        raise
    except MemoryError:
        raise AfmFileError(path, "does not fit in memory") from None
    except Exception as exc:  # no parser's traceback reaches the user
        raise AfmFileError(path, f"corrupted or unreadable ({type(exc).__name__}: {exc})") from None


def read_height_map(path: str | Path, channel: str | None = None) -> HeightMap:
    """Read one height channel (default: found automatically) in nm, checked to be usable.

    Raises
    ------
    AfmFileError
        Unreadable file; channel missing (listing those present); NaN-only or constant heights.
    """
    path = Path(path)
    scan = read_scan(path)
    ch = scan.channel(channel)
    z = ch.data
    finite = np.isfinite(z)
    if not finite.any():
        raise AfmFileError(path, f"channel {ch.label!r} holds no finite values (all NaN or infinite)")
    if not finite.all():
        raise AfmFileError(path, f"channel {ch.label!r} has {int((~finite).sum())} NaN or infinite pixels")
    if np.ptp(z) == 0:
        raise AfmFileError(path, f"channel {ch.label!r} is constant: there is nothing to reconstruct")
    meta = {**scan.metadata, "channel": ch.label, "unit": ch.unit, "format": scan.format}
    return HeightMap(height=z, pixel_nm=scan.pixel_nm, source=str(path), metadata=meta)


def write_reconstruction(result, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a reconstruction to ``.npz``, ``.gwy`` or ``.tif`` by the path's suffix (see :mod:`.writers`)."""
    from .writers import write_reconstruction as _write

    return _write(result, path, overwrite=overwrite)
