"""TIFF-based files: Park Systems and JPK (private tags), and plain float TIFF height maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AfmFileError
from ..scan import Scan
from . import jpk, park
from .limits import check_samples


def read_tiff_family(path: Path) -> Scan | None:
    """Read a Park or JPK file; return None for a plain TIFF (handled as a height map)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            first = {tag.code: tag.value for tag in tif.pages[0].tags.values()}
            if park.DATA_TAG in first and park.HEADER_TAG in first:
                return park.read_park(path, first)
            if all(t in first for t in jpk.GEOMETRY_TAGS):
                pages = [(None, first)]
                for page in tif.pages[1:]:
                    check_samples(path, page.shape)
                    tags = {tag.code: tag.value for tag in page.tags.values()}
                    pages.append((page.asarray() if 32848 in tags else None, tags))
                return jpk.read_jpk(path, pages)
    except AfmFileError:
        raise
    except Exception as exc:  # tifffile raises many types on corrupt input
        raise AfmFileError(path, f"corrupted TIFF ({type(exc).__name__}: {exc})") from None
    return None


def read_plain_tiff(path: Path) -> tuple[np.ndarray, str]:
    """Return the image (all pages stacked) and the first page's description of a plain TIFF."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            check_samples(path, tif.series[0].shape)
            return tif.asarray(), tif.pages[0].description or ""
    except AfmFileError:
        raise
    except Exception as exc:
        raise AfmFileError(path, f"corrupted TIFF ({type(exc).__name__}: {exc})") from None
