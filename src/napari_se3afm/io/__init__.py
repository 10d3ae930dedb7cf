"""Reading height maps and writing results; numpy only (no torch), so napari's reader stays light.

Readers return heights in nm; writers are atomic and refuse to overwrite unless asked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import AfmFileError
from .arrays import SUFFIXES, read_array_file
from .atomic import atomic_write
from .scan_data import HeightMap

__all__ = ["SUFFIXES", "HeightMap", "read_height_map", "write_reconstruction"]


def read_height_map(path: str | Path) -> HeightMap:
    """Read the height channel of a file, in nm, checking it is usable.

    Raises
    ------
    AfmFileError
        Missing, empty, unreadable or unsupported file; not a 2-D map; NaN-only or constant heights.
    """
    path = Path(path)
    if not path.exists():
        raise AfmFileError(path, "no such file")
    if path.is_dir():
        raise AfmFileError(path, "is a folder, not a file")
    if path.stat().st_size == 0:
        raise AfmFileError(path, "is empty (0 bytes)")
    if path.suffix.lower() not in SUFFIXES:
        raise AfmFileError(
            path, f"unsupported format {path.suffix or '(no suffix)'}; supported: {', '.join(SUFFIXES)}"
        )
    data = read_array_file(path)
    z = data.height
    finite = np.isfinite(z)
    if not finite.any():
        raise AfmFileError(path, "height channel holds no finite values (all NaN or infinite)")
    if not finite.all():
        raise AfmFileError(path, f"height channel has {int((~finite).sum())} NaN or infinite pixels")
    if np.ptp(z) == 0:
        raise AfmFileError(path, "height channel is constant: there is nothing to reconstruct")
    return data


def write_reconstruction(result, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a :class:`~napari_se3afm.results.Reconstruction` as ``.npz`` (float64 arrays, nm).

    Arrays: ``image``, ``surface``, ``tip``, ``certainty``, ``tip_volume`` (and ``surface_std``,
    ``tip_std`` when present), scalars ``pixel_nm`` (dy == dx) or pair ``pixel_nm_yx``,
    ``tip_voxel_nm`` (dz, dy, dx) and a JSON ``info`` string.
    """
    path = Path(path)
    dy, dx = result.pixel_nm
    arrays = {
        "image": result.image,
        "surface": result.surface,
        "tip": result.tip,
        "certainty": result.certainty,
        "tip_volume": result.tip_volume.data,
    }
    if result.surface_std is not None:
        arrays["surface_std"] = result.surface_std
    if result.tip_std is not None:
        arrays["tip_std"] = result.tip_std
    payload = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    payload["pixel_nm"] = np.float64(dy) if dy == dx else np.float64(np.sqrt(dy * dx))
    payload["pixel_nm_yx"] = np.array([dy, dx], dtype=np.float64)
    payload["tip_voxel_nm"] = np.array(result.tip_volume.voxel_nm, dtype=np.float64)
    payload["info"] = np.array(json.dumps({"method": result.method, **result.info}, default=str))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)

    return atomic_write(path, write, overwrite=overwrite)
