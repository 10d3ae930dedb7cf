"""Plain height maps: ``.npy`` and ``.npz`` (numpy) and ``.tif``/``.tiff`` (tifffile), in nm.

These carry no instrument metadata. A ``.npz`` written by napari-se3afm (or any ``.npz`` with an
``image`` or ``height`` array and a ``pixel_nm`` scalar or pair) records its pixel size; a TIFF
written by :func:`napari_se3afm.io.write_reconstruction` records it in its description; other files need the
pixel size from the caller.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import AfmFileError
from ..scan import Channel, Scan
from .limits import check_samples

#: the arrays an ``.npz`` scan holds its heights in, first found first
SCAN_ARRAY_KEYS = ("image", "height", "surface")


def _pixel_from(value: object, path: Path) -> tuple[float, float] | None:
    if value is None:
        return None
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
    if arr.size not in (1, 2) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise AfmFileError(path, f"pixel_nm must be one or two positive numbers, found {arr.tolist()}")
    return (float(arr[0]), float(arr[-1]))


def _npy_shape(fh) -> tuple[int, ...]:
    """The shape an ``.npy`` stream declares in its header (the stream is left after the header)."""
    version = np.lib.format.read_magic(fh)
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return header(fh)[0]


def _stack_scan(path: Path, data: np.ndarray, names: list[str], pixel, suffix: str) -> Scan:
    """A TIFF stack written by napari-se3afm: one channel per plane, named in its description."""
    from ..scan import channel_kind

    channels = [
        Channel(name=n, data=plane.astype(np.float64), unit="" if n == "Certainty" else "nm", kind=channel_kind(n))
        for n, plane in zip(names, data, strict=True)
    ]
    return Scan(channels=channels, pixel_nm=pixel, source=str(path), format=suffix.lstrip("."))


def read_array_scan(path: Path) -> Scan:
    """Read a ``.npy``, ``.npz`` or plain ``.tif`` height map (nm) as a one-channel scan."""
    suffix = path.suffix.lower()
    pixel = None
    try:
        if suffix == ".npy":
            with open(path, "rb") as fh:
                check_samples(path, _npy_shape(fh))
            data = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                key = next((k for k in SCAN_ARRAY_KEYS if k in npz.files), None)
                if key is None and "tip" in npz.files:
                    raise AfmFileError(path, "holds a tip, not a scan: give it to se3afm reconstruct --tip")
                if key is None:
                    raise AfmFileError(path, f"no 'image' or 'height' array; it holds {sorted(npz.files)}")
                with npz.zip.open(f"{key}.npy") as member:
                    check_samples(path, _npy_shape(member))
                data = npz[key]
                pixel_key = next((k for k in ("pixel_nm_yx", "pixel_nm") if k in npz.files), None)
                pixel = _pixel_from(npz[pixel_key], path) if pixel_key else None
        else:
            from .tiff import read_plain_tiff

            data, desc = read_plain_tiff(path)
            if desc.startswith("{"):
                try:
                    described = json.loads(desc)
                except json.JSONDecodeError:
                    described = {}
                pixel = _pixel_from(described.get("pixel_nm"), path)
                names = described.get("channels")
                if isinstance(names, list) and data.ndim == 3 and len(names) == data.shape[0]:
                    return _stack_scan(path, data, [str(n) for n in names], pixel, suffix)
    except AfmFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise AfmFileError(path, f"cannot be read as {suffix} ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # third-party parsers raise anything on corrupt input
        raise AfmFileError(path, f"cannot be read as {suffix} ({type(exc).__name__}: {exc})") from None
    data = np.asarray(data)
    if data.ndim == 3 and 1 in data.shape:
        data = data.squeeze()
    if data.ndim != 2:
        raise AfmFileError(path, f"holds an array of shape {data.shape}, not a 2-D height map")
    if not np.issubdtype(data.dtype, np.number) or np.issubdtype(data.dtype, np.complexfloating):
        raise AfmFileError(path, f"holds {data.dtype} values, not real heights")
    channel = Channel(name="Height", data=data.astype(np.float64), unit="nm", kind="height")
    return Scan(channels=[channel], pixel_nm=pixel, source=str(path), format=suffix.lstrip("."))
