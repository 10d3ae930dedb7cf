"""Writers: reconstructions to ``.npz``, ``.gwy`` and float32 ``.tif``; the tip as a height map, volume or mesh.

Every write is atomic (a temporary file beside the target, then a rename) and refuses to replace an
existing file unless ``overwrite=True``. Heights are written back in the file format's own units: SI
metres in ``.gwy``, nm (stated in the description) in ``.tif`` and ``.npz``.
"""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..tip.geometry import TipVolume, tip_to_mesh, volume_to_tip
from .atomic import atomic_write

__all__ = [
    "RECONSTRUCTION_SUFFIXES",
    "TIP_SUFFIXES",
    "read_tip_volume",
    "write_gwy_channels",
    "write_reconstruction",
    "write_tif_channels",
    "write_tip",
]

RECONSTRUCTION_SUFFIXES = (".npz", ".gwy", ".tif", ".tiff")
TIP_SUFFIXES = (".npz", ".tif", ".tiff", ".npy", ".vti", ".vtk", ".stl", ".ply", ".obj")
#: tip files written and read through pyvista, the optional ``mesh`` extra
VTK_SUFFIXES = (".vti", ".vtk", ".stl", ".ply", ".obj")


def tip_suffix_problem(suffix: str) -> str | None:
    """Why a tip cannot be written as ``suffix`` here (unknown, or pyvista missing), or None."""
    suffix = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
    if suffix not in TIP_SUFFIXES:
        return f"cannot export a tip as {suffix!r}; choose one of {', '.join(TIP_SUFFIXES)}"
    if suffix in VTK_SUFFIXES and find_spec("pyvista") is None:
        return (
            f"a {suffix} tip needs pyvista: pip install 'napari-se3afm[mesh]' "
            "(or write the tip as .tif or .npy, which need nothing more)"
        )
    return None


def _pyvista(suffix: str):
    """pyvista, or a ParameterError that says how to install it."""
    problem = tip_suffix_problem(suffix)
    if problem:
        raise ParameterError(problem)
    import pyvista

    return pyvista


def _result_channels(result) -> list[tuple[str, np.ndarray, str, tuple[float, float]]]:
    """(title, data, unit, pixel_nm) for every map of a reconstruction, in writing order."""
    px = result.pixel_nm
    out = [
        ("Surface", result.surface, "nm", px),
        ("Image (levelled)", result.image, "nm", px),
        ("Certainty", result.certainty.astype(np.float64), "", px),
    ]
    if result.surface_std is not None:
        out.append(("Surface uncertainty σ", result.surface_std, "nm", px))
    out.append(("Tip", result.tip, "nm", px))
    if result.tip_std is not None:
        out.append(("Tip uncertainty σ", result.tip_std, "nm", px))
    return out


def write_gwy_channels(channels, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``(title, data, unit, (dy, dx))`` channels as a Gwyddion file (lengths in metres)."""
    from gwyfile.objects import GwyContainer, GwyDataField, GwySIUnit

    container = GwyContainer()
    for i, (title, data, unit, (dy, dx)) in enumerate(channels):
        z = np.ascontiguousarray(data, dtype=np.float64)
        scale = 1e-9 if unit == "nm" else 1.0
        field = GwyDataField(
            z * scale,
            xreal=z.shape[1] * dx * 1e-9,
            yreal=z.shape[0] * dy * 1e-9,
            si_unit_xy=GwySIUnit(unitstr="m"),
            si_unit_z=GwySIUnit(unitstr="m" if unit == "nm" else unit),
        )
        container[f"/{i}/data"] = field
        container[f"/{i}/data/title"] = title

    def write(tmp: Path) -> None:
        container.tofile(str(tmp))

    return atomic_write(Path(path), write, overwrite=overwrite)


def _write_npz(result, path: Path, overwrite: bool) -> Path:
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
    if result.tip_bound is not None:
        arrays["tip_bound"] = result.tip_bound
    payload = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    payload["pixel_nm"] = np.float64(dy) if dy == dx else np.float64(np.sqrt(dy * dx))
    payload["pixel_nm_yx"] = np.array([dy, dx], dtype=np.float64)
    payload["tip_voxel_nm"] = np.array(result.tip_volume.voxel_nm, dtype=np.float64)
    payload["info"] = np.array(json.dumps({"method": result.method, **result.info}, default=str))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)

    return atomic_write(path, write, overwrite=overwrite)


def write_tif_channels(channels, path: str | Path, *, overwrite: bool = False, **info) -> Path:
    """Write ``(title, data, unit, (dy, dx))`` channels of one size as a float32 TIFF stack.

    The pixel size goes into the resolution tags and, with the channel titles, into a JSON
    description that :func:`napari_se3afm.io.read_scan` reads back.
    """
    import tifffile

    shapes = {np.shape(c[1]) for c in channels}
    if len(shapes) != 1:
        raise ParameterError(f"a TIFF stack needs channels of one size, got {sorted(shapes)}")
    stack = np.stack([c[1] for c in channels]).astype(np.float32)
    dy, dx = channels[0][3]
    desc = json.dumps({"pixel_nm": [dy, dx], "unit": "nm", "channels": [c[0] for c in channels], **info})

    def write(tmp: Path) -> None:
        tifffile.imwrite(
            tmp,
            stack,
            photometric="minisblack",
            description=desc,
            resolution=(1e7 / dx, 1e7 / dy),
            resolutionunit="CENTIMETER",
            metadata=None,
        )

    return atomic_write(Path(path), write, overwrite=overwrite)


def write_reconstruction(result, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a :class:`~napari_se3afm.results.Reconstruction` by suffix.

    ``.npz``: float64 arrays ``image``, ``surface``, ``tip``, ``certainty``, ``tip_volume`` (and
    ``surface_std``, ``tip_std``, ``tip_bound``), ``pixel_nm`` (scalar), ``pixel_nm_yx``, ``tip_voxel_nm`` and a JSON
    ``info`` (method, levelling, noise...). ``.gwy``: one channel each for the surface, the levelled
    image, the certainty, the uncertainty and the tip, titled, in metres. ``.tif``: a float32 stack of
    the maps (nm), the pixel size in the resolution tags and a JSON description.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _write_npz(result, path, overwrite)
    if suffix == ".gwy":
        return write_gwy_channels(_result_channels(result), path, overwrite=overwrite)
    if suffix in (".tif", ".tiff"):
        maps = [c for c in _result_channels(result) if c[0] != "Tip" and not c[0].startswith("Tip ")]
        return write_tif_channels(maps, path, overwrite=overwrite, method=result.method)
    raise ParameterError(
        f"cannot write a reconstruction as {suffix!r}; choose one of {', '.join(RECONSTRUCTION_SUFFIXES)}"
    )


def write_tip(
    tip: np.ndarray,
    pixel_nm: float | tuple[float, float],
    path: str | Path,
    *,
    volume: TipVolume | None = None,
    tip_std: np.ndarray | None = None,
    overwrite: bool = False,
) -> Path:
    """Export the tip: its height map ``.npz`` (``tip``, ``pixel_nm_yx``, ``tip_std`` where given: exact,
    and what ``se3afm reconstruct --tip`` reads back), voxels ``.tif``/``.npy``, volume
    ``.vti``/``.vtk``, mesh ``.stl``/``.ply``/``.obj``.

    Volumes hold the filled fraction of each voxel, axes ``(z, y, x)``, z = 0 at the apex; their voxel
    size in nm is in the ``.tif`` description, beside a ``.npy`` as ``<name>.json``, and in the
    ``.vti``'s spacing. Meshes are closed, in nm, apex at the origin.
    """
    from ..tip.geometry import tip_to_volume
    from ..tip.shapes import pixel_pair

    path = Path(path)
    suffix = path.suffix.lower()
    problem = tip_suffix_problem(suffix)
    if problem:
        raise ParameterError(problem)
    if suffix == ".npz":
        maps = {"tip": tip} if tip_std is None else {"tip": tip, "tip_std": tip_std}
        payload = {k: np.asarray(v, dtype=np.float64) for k, v in maps.items()}
        payload["pixel_nm_yx"] = np.array(pixel_pair(pixel_nm), dtype=np.float64)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **payload)

        return atomic_write(path, write, overwrite=overwrite)
    vol = volume if volume is not None else tip_to_volume(tip, pixel_nm)
    if suffix in (".stl", ".ply", ".obj"):
        pv = _pyvista(suffix)
        mesh = tip_to_mesh(tip, pixel_nm)
        faces = np.hstack([np.full((len(mesh.faces), 1), 3), mesh.faces]).ravel()
        poly = pv.PolyData(mesh.vertices, faces)
        return atomic_write(path, lambda tmp: poly.save(str(tmp)), overwrite=overwrite)  # tmp ends in the suffix
    if suffix in (".vti", ".vtk"):
        pv = _pyvista(suffix)
        grid = pv.ImageData(dimensions=vol.data.shape[::-1], spacing=vol.voxel_nm[::-1])
        grid.point_data["tip"] = np.asarray(vol.data, dtype=np.float32).ravel(order="C")
        return atomic_write(path, lambda tmp: grid.save(str(tmp)), overwrite=overwrite)
    meta = {"voxel_nm_zyx": list(vol.voxel_nm), "axes": "zyx", "z0": "apex", "values": "filled fraction"}
    if suffix == ".npy":
        sidecar = path.with_suffix(".json")
        written = atomic_write(path, lambda tmp: np.save(tmp, np.asarray(vol.data, np.float32)), overwrite=overwrite)
        atomic_write(sidecar, lambda tmp: tmp.write_text(json.dumps(meta)), overwrite=True)
        return written
    import tifffile

    return atomic_write(
        path,
        lambda tmp: tifffile.imwrite(
            tmp, np.asarray(vol.data, np.float32), photometric="minisblack", description=json.dumps(meta), metadata=None
        ),
        overwrite=overwrite,
    )


def read_tip_volume(path: str | Path) -> TipVolume:
    """Read a tip volume written by :func:`write_tip` (``.tif``, ``.npy`` + ``.json``, ``.vti``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            data = tif.asarray()
            meta = json.loads(tif.pages[0].description)
    elif suffix == ".npy":
        data = np.load(path, allow_pickle=False)
        meta = json.loads(path.with_suffix(".json").read_text())
    elif suffix in (".vti", ".vtk"):
        grid = _pyvista(suffix).read(str(path))
        data = np.asarray(grid.point_data["tip"]).reshape(tuple(grid.dimensions)[::-1])
        meta = {"voxel_nm_zyx": list(grid.spacing)[::-1]}
    else:
        raise ParameterError(f"cannot read a tip volume from {suffix!r}")
    return TipVolume(data=np.asarray(data), voxel_nm=tuple(float(v) for v in meta["voxel_nm_zyx"]))


def tip_from_volume_file(path: str | Path, size_px: int | None = None) -> np.ndarray:
    """Read a tip volume file back into the image tip ``P``."""
    return volume_to_tip(read_tip_volume(path), size_px)
