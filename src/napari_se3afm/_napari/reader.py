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

    paths = path if isinstance(path, (list, tuple)) else [path]
    if not paths or not all(isinstance(p, (str, Path)) for p in paths):
        return None
    if not all(detect_format(p) or _holds_only_a_tip(p) for p in paths):
        return None
    return read_afm


def read_afm(path) -> list[tuple]:
    """Read one or more AFM files into napari layer data (a layer per channel, heights in nm)."""
    from ..io import read_scan, scan_name
    from .layers import scan_layers, tip_layer

    paths = path if isinstance(path, (list, tuple)) else [path]
    layers: list[tuple] = []
    for p in paths:
        if _holds_only_a_tip(p):
            from ..io.tip_files import read_tip

            tip, pixel = read_tip(p)
            if pixel is None:
                from ..errors import AfmFileError

                raise AfmFileError(p, "the tip records no pixel size")
            layers.append(tip_layer(tip, pixel, scan_name(p)))
            continue
        scan = read_scan(p)
        layers += scan_layers(scan, scan_name(p))
    return layers


def _holds_only_a_tip(path) -> bool:
    """An ``.npz`` with a ``tip`` array and no image: a tip exported as a height map."""
    import numpy as np

    if Path(path).suffix.lower() != ".npz":
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            return "tip" in data.files and not {"image", "height", "surface"} & set(data.files)
    except Exception:  # any doubt means "not a tip": napari then asks another reader
        return False
