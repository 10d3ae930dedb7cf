"""npe2 reader: every AFM format of :mod:`napari_se3afm.io`, one layer per channel, height first, nm scale.

``get_reader`` never raises and declines what is not an AFM file (plain pictures and ``.npy`` arrays
are left to napari). The returned function raises :class:`~napari_se3afm.errors.AfmFileError` with
the file and the reason, which napari shows as a notification. Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path


def get_reader(path):
    """Return :func:`read_afm` if every path is an AFM file this plugin reads, else None."""
    from ..io import detect_format

    paths = path if isinstance(path, (list, tuple)) else [path]
    if not paths or not all(isinstance(p, (str, Path)) for p in paths):
        return None
    if not all(detect_format(p) for p in paths):
        return None
    return read_afm


def read_afm(path) -> list[tuple]:
    """Read one or more AFM files into napari layer data (a layer per channel, heights in nm)."""
    from ..io import read_scan, scan_name
    from .layers import scan_layers

    paths = path if isinstance(path, (list, tuple)) else [path]
    layers: list[tuple] = []
    for p in paths:
        scan = read_scan(p)
        layers += scan_layers(scan, scan_name(p))
    return layers
