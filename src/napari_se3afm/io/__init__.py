"""Reading AFM files into a :class:`~napari_se3afm.scan.Scan` and writing results; no torch here.

Formats are recognised by their content first (magic bytes), then by suffix, so a mislabelled file is
read for what it is. Every failure — missing, empty, truncated, corrupted, unsupported, too large —
is an :class:`~napari_se3afm.errors.AfmFileError` naming the file and the problem; no parser's own
exception escapes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import AfmFileError, ParameterError, Se3afmError
from ..scan import Scan
from ..tip.shapes import pixel_size_problem
from .limits import values_problem
from .scan_data import HeightMap

__all__ = [
    "SUFFIXES",
    "HeightMap",
    "detect_format",
    "find_scans",
    "read_height_map",
    "read_scan",
    "scan_name",
    "write_reconstruction",
]

SUFFIXES = (".gwy", ".spm", ".000…999", ".ibw", ".jpk", ".sxm", ".tif", ".tiff", ".npy", ".npz")
#: Files larger than this are refused before reading (AFM scans are MBs; a GB file is a mistake).
MAX_FILE_BYTES = 2 * 1024**3


def _sniff(path: Path, head: bytes) -> str:
    from . import gwy, ibw, nanoscope, sxm

    suffix = path.suffix.lower()
    if gwy.is_gwy(head):
        return "gwy"
    if nanoscope.is_nanoscope(head):
        return "nanoscope"
    if sxm.is_sxm(head):
        return "sxm"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04") and suffix == ".npz":
        return "npz"
    if suffix == ".ibw" and ibw.is_ibw(head):
        return "ibw"
    if suffix in (".gwy", ".ibw", ".jpk", ".sxm", ".tif", ".tiff", ".npy", ".npz"):
        raise AfmFileError(path, f"content does not match its {suffix} suffix (corrupted or mislabelled)")
    return "gwyddion"  # no native reader claims it (other vendors use .spm and numbered suffixes too)


def _is_afm_tiff(path: Path) -> bool:
    """A Park or JPK TIFF, or a stack/height map written by napari-se3afm (not any picture)."""
    import tifffile

    from . import jpk, park

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        codes = {tag.code for tag in page.tags.values()}
        if {park.DATA_TAG, park.HEADER_TAG} <= codes or all(t in codes for t in jpk.GEOMETRY_TAGS):
            return True
        return str(page.description or "").lstrip().startswith('{"') and "pixel_nm" in page.description


@contextlib.contextmanager
def _quiet_parsers():
    """Keep parsers' own complaints (tifffile logs every odd tag; numpy warns on overflow in damaged
    data) off the user's terminal: what matters reaches them as the one error or the checks after."""
    logger = logging.getLogger("tifffile")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with np.errstate(all="ignore"):
                yield
    finally:
        logger.setLevel(level)


def detect_format(path: str | Path) -> str | None:
    """Return the format of an AFM file this package reads, or None; never raises (for napari).

    Plain ``.npy`` arrays and TIFF pictures are declined: they carry no physical scale, and napari
    opens them itself. ``.npz`` files are accepted when they hold an ``image`` or ``height`` array.
    """
    try:
        p = Path(path)
        if not p.is_file() or p.stat().st_size == 0 or p.stat().st_size > MAX_FILE_BYTES:
            return None
        with open(p, "rb") as fh:
            head = fh.read(64)
        with _quiet_parsers():
            return _detect(p, head)
    except Exception:  # any doubt means "not ours": napari then asks another reader
        return None


def _detect(p: Path, head: bytes) -> str | None:
    """:func:`detect_format` once the file is known to exist; raises on any doubt."""
    kind = _sniff(p, head)
    if kind == "npy":
        return None
    if kind == "tiff" and not _is_afm_tiff(p):
        return None
    if kind == "gwyddion":
        from .via_gwyddion import GWYDDION_SUFFIXES, read_via_gwyddion

        if p.suffix.lower() not in GWYDDION_SUFFIXES:
            return None
        read_via_gwyddion(p)  # raises when Gwyddion cannot read it either; cached for the read
    if kind == "npz":
        with np.load(p, allow_pickle=False) as npz:
            if not {"image", "height"} & set(npz.files):
                return None
    return kind


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
        with _quiet_parsers():
            return _check(_read(path, _sniff(path, head)), path)
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


def scan_name(path: str | Path) -> str:
    """The name a scan's results and layers carry: the file name without its suffix, except where the
    suffix is the scan's number in a session (Nanoscope ``scan.000``–``scan.999``), which it keeps, so
    that ``scan.002`` and ``scan.004`` never share a result file or a layer name."""
    p = Path(path)
    return p.name if re.fullmatch(r"\.\d{3}", p.suffix) else p.stem


def find_scans(inputs: list[str | Path]) -> list[Path]:
    """The scan files named by files, folders (every file in them that is a scan) and glob patterns,
    in the order given, each once.

    Raises
    ------
    ParameterError
        A name that is no file, a folder without scans, a pattern that matches nothing.
    """
    import glob

    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = [p for p in sorted(path.iterdir()) if p.is_file() and detect_format(p)]
            if not found:
                raise ParameterError(f"{path}: no AFM scan in this folder")
            files += found
        elif path.exists():
            files.append(path)
        elif glob.has_magic(str(item)):
            found = [Path(p) for p in sorted(glob.glob(str(item))) if Path(p).is_file()]
            if not found:
                raise ParameterError(f"{item}: no file matches")
            files += found
        else:
            raise ParameterError(f"{path}: no such file")
    return list(dict.fromkeys(files))


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
