"""npe2 reader: every AFM format of :mod:`napari_se3afm.io`, one layer per channel, height first, nm scale.

``get_reader`` never raises and declines what is not an AFM file (plain pictures and ``.npy`` arrays
are left to napari). A tip exported as ``.npz`` (``tip`` without an image) opens as a tip layer,
which the Tip panel shows and the Reconstruct panel can use as it is. The returned function raises
:class:`~napari_se3afm.errors.AfmFileError` with the file and the reason, which napari shows as a
notification. Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path


def get_reader(path):
    """Return :func:`read_afm` if every path is an AFM file this plugin reads, else None."""
    from ..io import detect_format
    from ..io.tip_files import holds_only_a_tip

    paths = path if isinstance(path, (list, tuple)) else [path]
    if not paths or not all(isinstance(p, (str, Path)) for p in paths):
        return None
    if not all(detect_format(p) or holds_only_a_tip(p) for p in paths):
        return None
    return read_afm


def read_afm(path) -> list[tuple]:
    """Read one or more AFM files into napari layer data (a layer per channel, heights in nm)."""
    from ..io import read_scan, scan_name
    from ..io.tip_files import holds_only_a_tip, read_tip
    from .layers import scan_layers, tip_layer

    paths = path if isinstance(path, (list, tuple)) else [path]
    layers: list[tuple] = []
    for p in paths:
        if holds_only_a_tip(p):
            tip, pixel = read_tip(p)
            if pixel is None:
                from ..errors import AfmFileError

                raise AfmFileError(p, "the tip records no pixel size")
            layers.append(tip_layer(tip, pixel, scan_name(p)))
            continue
        scan = read_scan(p)
        layers += scan_layers(scan, scan_name(p))
    return layers
