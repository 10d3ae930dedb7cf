"""Scans and reconstructions as napari layer data (pure: numpy in, ``(data, kwargs, type)`` tuples out).

Every layer carries its physical scale in nm (``scale=(dy, dx)`` and ``units``) and its unit and
provenance in ``metadata``. Names follow ``"<scan> <what>"`` so a repeated run can replace its layers
instead of adding copies. The surface shares colormap and contrast with its scan; the certainty map
is an overlay that tints in cyan (the complement of afmhot's orange) where the tip never touched and
leaves the rest clear; the tip is a height map (its 3-D view is the Tip panel's own, so the scan's
viewer keeps only 2-D layers and no slider), and on request also a 3-D volume rendered as an
iso-surface at its physical voxel size.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHANNEL_COLORMAPS", "reconstruction_layers", "robust_limits", "scan_layers", "tip_layer"]

CHANNEL_COLORMAPS = {"height": "afmhot", "phase": "twilight_shifted", "amplitude": "magma"}
#: certainty 0 (the tip never touched: the surface is only bounded) a light cyan tint, 1 clear
UNTOUCHED_TINT = {"name": "cyan where the tip never touched", "colors": [[0.0, 0.85, 1.0, 0.3], [0.0, 0.85, 1.0, 0.0]]}
#: colour bar of a σ map: tall enough for several tick labels, under its title (see colorbar_title)
COLORBAR_SIZE = (20, 260)


#: contrast limits are read from at most about this many pixels of each map (every pixel up to 512²)
_LIMIT_SAMPLES = 2**18


def _sampled(a: np.ndarray) -> np.ndarray:
    """A regular subgrid of a map with at most about :data:`_LIMIT_SAMPLES` pixels (a view)."""
    a = np.asarray(a)
    step = int(np.ceil(np.sqrt(a.size / _LIMIT_SAMPLES))) if a.size > _LIMIT_SAMPLES else 1
    return a[::step, ::step] if a.ndim == 2 else a.ravel()[:: step * step]


def robust_limits(*arrays: np.ndarray) -> tuple[float, float]:
    """Contrast limits from the 0.5th to the 99.5th percentile of the finite values of all arrays
    (of a regular subgrid of a map larger than 512²: limits need no more, and stay cheap)."""
    finite = [(s := np.asarray(_sampled(a), dtype=np.float64))[np.isfinite(s)] for a in arrays]
    values = finite[0] if len(finite) == 1 else np.concatenate(finite)  # a copy either way
    if values.size == 0:
        return (0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(values, [0.5, 99.5], overwrite_input=True))
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def scan_layers(scan, name: str) -> list[tuple]:
    """One image layer per channel of a :class:`~napari_se3afm.scan.Scan`, the height channel first.

    Height channels are shown levelled by a plane (the median slopes of
    :func:`~napari_se3afm.image.levelling.subtract_plane`), as microscopists expect to see a scan: a raw
    scan's tilt hides its features. The step is recorded in ``metadata["levelling"]``; it is the
    first step of the reconstruction's own levelling, and repeating it changes nothing, so results
    are the same as from the file."""
    from ..image.levelling import subtract_plane

    try:
        height = scan.height_channel()
    except Exception:  # a scan without a height channel still shows every channel
        height = None
    channels = ([height] if height is not None else []) + [c for c in scan.channels if c is not height]
    known = scan.pixel_nm is not None
    scale = tuple(float(v) for v in scan.pixel_nm) if known else (1.0, 1.0)
    units = ("nm", "nm") if known else ("pixel", "pixel")
    layers = []
    for ch in channels:
        data, steps = (subtract_plane(ch.data, np.float32), ["plane"]) if ch.kind == "height" else (ch.data, [])
        meta = {
            "unit": ch.unit,
            "kind": ch.kind,
            "levelling": steps,
            "channel": ch.label,
            "source": scan.source,
            "format": scan.format,
            "pixel_nm": scale if known else None,
            "scan_metadata": dict(scan.metadata),
        }
        kwargs = {
            "name": f"{name} {ch.label}",
            "scale": scale,
            "units": units,
            "metadata": meta,
            "colormap": CHANNEL_COLORMAPS.get(ch.kind, "gray"),
            "contrast_limits": robust_limits(data),
            "visible": ch is channels[0],
        }
        layers.append((np.asarray(data, dtype=np.float32), kwargs, "image"))
    return layers


def reconstruction_layers(
    result, name: str, contrast_limits: tuple[float, float] | None = None, *, tip_volume: bool = False
) -> list[tuple]:
    """Layers of a :class:`~napari_se3afm.results.Reconstruction`: surface, maps, tip (and, with
    ``tip_volume``, the tip as a 3-D volume).

    The surface takes ``contrast_limits`` (the scan's) when the scan was used as it is; when it was
    levelled first, a ``"<name> levelled"`` layer is added and shares the surface's contrast instead.
    """
    scale = tuple(float(v) for v in result.pixel_nm)
    levelled = bool(result.info.get("levelling"))
    # after levelling the scan's own contrast no longer fits: the levelled image is shown beside the surface
    limits = robust_limits(result.image, result.surface) if levelled or contrast_limits is None else contrast_limits
    base = {"method": result.method, "info": dict(result.info), "pixel_nm": scale}
    layers = []
    if levelled:
        meta = {**base, "unit": "nm", "kind": "height", "levelling": list(result.info["levelling"])}
        layers.append(
            _map(
                result.image, f"{name} levelled", scale, meta, colormap="afmhot", contrast_limits=limits, visible=False
            )
        )
    layers.append(
        _map(
            result.surface,
            f"{name} surface",
            scale,
            {**base, "unit": "nm", "kind": "height"},
            colormap="afmhot",
            contrast_limits=limits,
        )
    )
    layers.append(
        _map(
            result.certainty,
            f"{name} certainty",
            scale,
            {**base, "unit": "", "kind": "certainty"},
            colormap=UNTOUCHED_TINT,
            contrast_limits=(0.0, 1.0),
            blending="translucent",
        )
    )
    if result.surface_std is not None:
        layers.append(
            _map(
                result.surface_std,
                f"{name} uncertainty σ",
                scale,
                {**base, "unit": "nm", "kind": "uncertainty"},
                colormap="magma",
                contrast_limits=robust_limits(result.surface_std),
                visible=False,
            )
        )
    tip = tip_layer(
        result.tip,
        scale,
        f"{name} tip",
        base=base,
        tip_std=result.tip_std,
        tip_bound=result.tip_bound,
        spread=result.info.get("tip_descriptors_std"),
    )
    layers.append(tip)
    tip_meta = tip[1]["metadata"]
    if not tip_volume:
        return layers
    vol = result.tip_volume
    layers.append(
        (
            np.asarray(vol.data, dtype=np.float32),
            {
                "name": f"{name} tip 3D",
                "scale": tuple(float(v) for v in vol.voxel_nm),
                "units": ("nm",) * 3,
                "rendering": "iso",
                "iso_threshold": 0.5,
                "colormap": "bone",
                "visible": False,
                "metadata": {**tip_meta, "kind": "tip volume", "voxel_nm": tuple(vol.voxel_nm)},
            },
            "image",
        )
    )
    return layers


def tip_layer(
    tip: np.ndarray,
    pixel_nm: tuple[float, float],
    name: str,
    *,
    base: dict | None = None,
    tip_std: np.ndarray | None = None,
    tip_bound: np.ndarray | None = None,
    spread: dict | None = None,
) -> tuple:
    """A tip height map as a (hidden) layer whose metadata the Tip panel shows in 3-D: the tip, its σ
    and bound where known, its descriptors (broadening included) and their σ."""
    from ..tip.broadening import tip_broadening
    from ..tip.descriptors import describe_tip

    try:
        descriptors = {**describe_tip(tip, pixel_nm).as_dict(), **tip_broadening(tip, pixel_nm)}
    except Exception:  # descriptors are a courtesy; a degenerate tip still shows
        descriptors = {}
    meta = {
        **(base or {"pixel_nm": tuple(pixel_nm)}),
        "unit": "nm",
        "kind": "tip",
        "tip": np.asarray(tip),
        "tip_std": tip_std,
        "tip_bound": tip_bound,
        "descriptors": descriptors,
        "descriptors_std": dict(spread or {}),
    }
    return _map(tip, name, tuple(pixel_nm), meta, colormap="viridis", visible=False)


def _map(data: np.ndarray, name: str, scale: tuple[float, float], metadata: dict, **style) -> tuple:
    """One 2-D map in nm as layer data: its name, physical scale and metadata, and how it looks."""
    kwargs = {"name": name, "scale": scale, "units": ("nm", "nm"), "metadata": metadata, **style}
    return (np.asarray(data, dtype=np.float32), kwargs, "image")
