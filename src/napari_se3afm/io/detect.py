"""Which format a file is: by its content first (magic bytes), then by its suffix, so that a
mislabelled file is read for what it is; what napari's reader may claim."""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import numpy as np

from ..errors import AfmFileError

__all__ = ["MAX_FILE_BYTES", "SUFFIXES", "detect_format", "quiet_parsers", "sniff"]

SUFFIXES = (".gwy", ".spm", ".000…999", ".ibw", ".jpk", ".sxm", ".tif", ".tiff", ".npy", ".npz")
#: Files larger than this are refused before reading (AFM scans are MBs; a GB file is a mistake).
MAX_FILE_BYTES = 2 * 1024**3


def sniff(path: Path, head: bytes) -> str:
    """The reader for a file from its first bytes ``head`` and its suffix: a native format's name, or
    ``"gwyddion"`` where no native reader claims it; a content that contradicts its suffix is refused."""
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
def quiet_parsers():
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
        with quiet_parsers():
            return _detect(p, head)
    except Exception:  # any doubt means "not ours": napari then asks another reader
        return None


def _detect(p: Path, head: bytes) -> str | None:
    """:func:`detect_format` once the file is known to exist; raises on any doubt."""
    kind = sniff(p, head)
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
