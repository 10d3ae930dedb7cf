"""npe2 writers: image layers to Gwyddion ``.gwy`` or a float32 ``.tif`` stack; a tip layer to a
volume (``.vti``/``.npy``/``.tif``) or a mesh (``.stl``/``.ply``/``.obj``).

napari's save dialog has already asked before replacing a file, so these write over an existing one
(atomically: a failed write leaves the old file intact).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError


def _channels(layer_data: list[tuple]) -> list[tuple]:
    out = []
    for data, meta, _ in layer_data:
        arr = np.asarray(data, dtype=np.float64)
        if arr.ndim != 2:
            continue  # a 3-D tip volume has its own writer
        scale = tuple(float(v) for v in meta.get("scale", (1.0, 1.0)))[-2:]
        unit = (meta.get("metadata") or {}).get("unit", "nm")
        out.append((meta.get("name", "data"), arr, unit, scale))
    if not out:
        raise ParameterError("choose at least one 2-D image layer to save")
    return out


def write_gwy(path: str, layer_data: list[tuple]) -> list[str]:
    """Save 2-D image layers as channels of one Gwyddion file (titles = layer names, SI units)."""
    from ..io.writers import write_gwy_channels

    return [str(write_gwy_channels(_channels(layer_data), path, overwrite=True))]


def write_tif(path: str, layer_data: list[tuple]) -> list[str]:
    """Save 2-D image layers of one size as a float32 TIFF stack with the pixel size in nm."""
    from ..io.writers import write_tif_channels

    return [str(write_tif_channels(_channels(layer_data), path, overwrite=True))]


def write_tip_layer(path: str, data, meta: dict) -> list[str]:
    """Save a tip layer (the height map or the 3-D volume of a reconstruction) as a volume or mesh."""
    from ..io.writers import write_tip

    info = meta.get("metadata") or {}
    if info.get("kind") not in ("tip", "tip volume") or "tip" not in info:
        raise ParameterError(
            f"layer {meta.get('name', '')!r} is not a tip; choose the 'tip' or 'tip 3D' layer of a reconstruction"
        )
    return [str(write_tip(np.asarray(info["tip"]), tuple(info["pixel_nm"]), path, overwrite=True))]
