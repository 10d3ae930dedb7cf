"""Gwyddion's own blind tip estimation, called in its library: an independent reference for ours.

Gwyddion (GPL) is not part of napari-se3afm; where its libraries are installed (the Debian package
``gwyddion``), :func:`gwyddion_blind_tip` runs ``gwy_tip_estimate_partial`` of ``libgwyprocess2``
through ``ctypes`` on a height map, so that the benchmark and the tests can set classical BTR beside
Gwyddion's on the same scans (its speed, its tip). Gwyddion's tip field is the project's ``P``
(apex the highest point, same orientation), less its apex height. Nothing of Gwyddion's code is in
this package: only its published C API is called.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

import numpy as np

from ..classical.btr import DEFAULT_THRESHOLD_FACTOR
from ..errors import ParameterError
from ..image.noise import estimate_noise
from ..tip.shapes import in_tip_convention

__all__ = ["gwyddion_available", "gwyddion_blind_tip"]

#: the libraries, in load order (the processing library needs the base library's symbols)
LIBRARIES = ("libgwyddion2.so.0", "libgwyprocess2.so.0")
#: Gwyddion works in SI units: metres
NM = 1e-9


@lru_cache(maxsize=1)
def _library():
    """libgwyprocess2 with the signatures used here, or None where Gwyddion is not installed."""
    try:
        base, process = (ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL) for name in LIBRARIES)
    except OSError:
        return None
    base.gwy_type_init()
    process.gwy_data_field_new.restype = ctypes.c_void_p
    process.gwy_data_field_new.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_double, ctypes.c_double, ctypes.c_int]
    process.gwy_data_field_get_data.restype = ctypes.POINTER(ctypes.c_double)
    process.gwy_data_field_get_data.argtypes = [ctypes.c_void_p]
    process.gwy_tip_estimate_partial.restype = ctypes.c_void_p
    process.gwy_tip_estimate_partial.argtypes = [
        ctypes.c_void_p,  # the tip field, refined in place
        ctypes.c_void_p,  # the image
        ctypes.c_double,  # threshold (m)
        ctypes.c_int,  # use the image's edges
        ctypes.POINTER(ctypes.c_int),  # out: the count of refined points
        ctypes.c_void_p,  # progress callbacks: none
        ctypes.c_void_p,
    ]
    gobject = ctypes.CDLL(ctypes.util.find_library("gobject-2.0"))
    gobject.g_object_unref.argtypes = [ctypes.c_void_p]
    process.unref = gobject.g_object_unref
    return process


def gwyddion_available() -> bool:
    """True where Gwyddion's processing library can be loaded."""
    return _library() is not None


def _field(lib, values: np.ndarray, pixel_nm: float) -> tuple[int, np.ndarray]:
    ny, nx = values.shape
    field = lib.gwy_data_field_new(nx, ny, nx * pixel_nm * NM, ny * pixel_nm * NM, 1)
    data = np.ctypeslib.as_array(lib.gwy_data_field_get_data(field), shape=(ny, nx))
    data[:] = values * NM
    return field, data


def gwyddion_blind_tip(
    image: np.ndarray, tip_px: int, pixel_nm: float, threshold_nm: float | None = None
) -> np.ndarray:
    """Gwyddion's partial blind tip estimate (its "Blind estimation", sharp maxima only) of a
    ``tip_px`` tip from ``image`` (nm) at ``threshold_nm`` (default: one σ of classical BTR's noise
    estimate, the threshold classical BTR starts from), as the project's ``P``."""
    lib = _library()
    if lib is None:
        raise ParameterError("Gwyddion's libraries are not installed (Debian: apt install gwyddion)")
    if tip_px < 3 or tip_px % 2 == 0:
        raise ParameterError(f"tip window must be an odd number of pixels >= 3, got {tip_px}")
    image = np.asarray(image, dtype=np.float64)
    if threshold_nm is None:
        threshold_nm = DEFAULT_THRESHOLD_FACTOR * estimate_noise(image)
    surface, _ = _field(lib, image, pixel_nm)
    tip, data = _field(lib, np.zeros((tip_px, tip_px)), pixel_nm)
    try:
        count = ctypes.c_int(-1)
        if not lib.gwy_tip_estimate_partial(tip, surface, threshold_nm * NM, 1, ctypes.byref(count), None, None):
            raise ParameterError("Gwyddion's blind estimation stopped without a tip")
        estimate = data / NM
    finally:
        lib.unref(tip)
        lib.unref(surface)
    c = tip_px // 2
    return in_tip_convention(estimate - estimate[c, c])
