"""Tip independence: the same molecules, imaged by tips from sharp to blunt, should measure the same.

Why users deconvolve at all: as a tip blunts, the molecules it images grow wider and larger, so
widths, areas and volumes from two sessions cannot be compared. This benchmark images one surface
of DNA-like strands and loops (2 nm high) or of proteins and particles (2–20 nm) with a series of
tips from sharp (apex radius 2 nm) to blunt (20 nm), with SimTip's noise and artefacts, and measures
every feature of the true surface on the raw images, on their erosion by the true tip (the
reference) and by the classical BTR tip, and on the default model's surfaces:

* features: the true surface above :data:`THRESHOLD_NM`, connected regions (scikit-image's
  ``label``); each is measured on a map (smoothed by a Gaussian of one pixel, as TopoStats filters
  first) inside its own neighbourhood, its region there being the connected part above the
  threshold that holds the true feature's highest pixel;
* per feature: height (maximum above the substrate, the map's median 10 nm or more from every feature), area
  (pixels above the threshold), width at half maximum (twice the median distance to the region's
  edge along the skeleton of its half-maximum part, less half a pixel on each side: a strip's width,
  a disc's diameter; scikit-image's ``skeletonize``, scipy's ``distance_transform_edt``) and volume
  (the height above the substrate summed over the region);
* per method: the spread of each quantity over the tip series (coefficient of variation, median
  over features), its bias against the truth (mean over the tips, relative, median of its size over
  features), and for the default model whether the truth lies within 2σ — σ from surfaces drawn
  from its σ map (smooth deviations, as for the tip descriptors), measured like the others.

Goal: the default's spread at most a third of the raw images', its bias at most half of the
erosion's, its 2σ covering the truth for at least 90 % of the features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..progress import Progress, ProgressGenerator

__all__ = [
    "METHODS",
    "QUANTITIES",
    "REPORT_FILES",
    "TIPS",
    "feature_table",
    "iter_tip_independence",
    "markdown_table",
    "measure",
    "molecule_surface",
    "per_tip_table",
    "write_report",
]

#: molecules are placed one group per cell of this size (nm), so that they stay apart
CELL_NM = 64.0
#: the tip series: (apex radius nm, half-angle °), sharp to blunt
TIPS = ((2.0, 15.0), (5.0, 20.0), (10.0, 25.0), (20.0, 35.0))
#: what is measured of each feature
QUANTITIES = ("height_nm", "area_nm2", "width_nm", "volume_nm3")
#: features are where the surface rises this far above its substrate
THRESHOLD_NM = 0.5
#: every map is smoothed by a Gaussian of this many pixels before it is measured
SMOOTHING_PX = 1.0
#: surfaces drawn from the σ map to propagate it into each quantity, and their correlation (pixels)
SIGMA_DRAWS = 16
SIGMA_CORRELATION_PX = 2.0
#: what each feature is measured on: the image, its erosion by the true tip (what knowing the tip
#: gives: the reference) and by the classical BTR tip, and the default model's surface
METHODS = ("raw", "erosion (true tip)", "erosion (BTR tip)", "default model")
#: what :func:`write_report` writes into its folder
REPORT_FILES = ("tip_independence.md", "tip_independence.json")


def molecule_surface(kind: str, size_px: int, pixel_nm: float, seed: int) -> np.ndarray:
    """A flat substrate at 0 nm with ``kind`` ``"strands"`` (DNA-like worms and loops: cylinders of
    2 nm diameter lying on it) or ``"proteins"`` (spheres 2–20 nm high), in nm."""
    rng = np.random.default_rng(seed)
    z = np.zeros((size_px, size_px))
    extent = size_px * pixel_nm
    cells = max(1, int(extent // CELL_NM))
    centres = [((i + 0.5) * extent / cells, (j + 0.5) * extent / cells) for i in range(cells) for j in range(cells)]
    if kind == "strands":  # one strand per cell: loops (minicircles) and open worms, apart from each other
        for n, centre in enumerate(centres):
            loop = n % 2 == 0
            length = rng.uniform(50, 90) if loop else rng.uniform(30, 50)
            _draw_tube(z, _strand(rng, np.asarray(centre), length, loop), 1.0, pixel_nm)
    elif kind == "proteins":  # one to three particles per cell
        for centre in centres:
            for _ in range(rng.integers(1, 4)):
                radius = rng.uniform(1.0, 10.0)
                offset = rng.uniform(-0.25, 0.25, 2) * extent / cells
                _draw_sphere(z, np.asarray(centre) + offset, radius, pixel_nm)
    else:
        raise ValueError(f"unknown molecule surface {kind!r}: strands or proteins")
    return z


def _strand(rng: np.random.Generator, centre: np.ndarray, length_nm: float, loop: bool) -> np.ndarray:
    """Points every 0.2 nm along a smooth worm-like strand (or a closed loop) of ``length_nm``."""
    n = int(length_nm / 0.2)
    t = np.linspace(0, 2 * math.pi, n, endpoint=not loop)
    if loop:  # a wobbling circle of that circumference
        r = length_nm / (2 * math.pi) * (1 + 0.15 * np.sin(2 * t + rng.uniform(0, 6.3)))
        points = np.column_stack([r * np.cos(t), r * np.sin(t)])
    else:  # a persistent random walk
        heading = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, 0.02, n))
        points = np.cumsum(0.2 * np.column_stack([np.cos(heading), np.sin(heading)]), axis=0)
        points -= points.mean(axis=0)
    return points + centre


def _draw_tube(z: np.ndarray, points: np.ndarray, radius: float, pixel_nm: float) -> None:
    """Raise ``z`` to a cylinder of ``radius`` lying along ``points``: ``r + sqrt(r² − d²)`` at distance d."""
    reach = math.ceil(radius / pixel_nm) + 1
    for py, px in points:
        i0, j0 = round(py / pixel_nm), round(px / pixel_nm)
        i = np.arange(i0 - reach, i0 + reach + 1)
        j = np.arange(j0 - reach, j0 + reach + 1)
        i, j = i[(i >= 0) & (i < z.shape[0])], j[(j >= 0) & (j < z.shape[1])]
        d2 = (i[:, None] * pixel_nm - py) ** 2 + (j[None, :] * pixel_nm - px) ** 2
        h = np.where(d2 < radius**2, radius + np.sqrt(np.clip(radius**2 - d2, 0, None)), 0.0)
        z[np.ix_(i, j)] = np.maximum(z[np.ix_(i, j)], h)


def _draw_sphere(z: np.ndarray, centre: np.ndarray, radius: float, pixel_nm: float) -> None:
    yy, xx = np.mgrid[: z.shape[0], : z.shape[1]] * pixel_nm
    d2 = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2
    np.maximum(z, np.where(d2 < radius**2, radius + np.sqrt(np.clip(radius**2 - d2, 0, None)), 0.0), out=z)


def image_with(surface: np.ndarray, tip: np.ndarray, seed: int) -> np.ndarray:
    """``surface`` imaged by ``tip`` with SimTip's artefacts (noise, line offsets, drift, creep, bow)."""
    import torch

    from .simtip.config import ImagingConfig
    from .simtip.imaging import apply_artefacts, dilate_canvas, drift_margin

    cfg = ImagingConfig()
    margin = drift_margin(cfg)
    c = tip.shape[0] // 2
    canvas = np.pad(surface, margin + c, mode="edge")
    extended = dilate_canvas(torch.from_numpy(canvas)[None], torch.from_numpy(tip)[None])
    image = apply_artefacts(extended, margin, [np.random.default_rng(seed)], cfg, [{}])
    return image[0].numpy()


@dataclass(frozen=True)
class Feature:
    """One feature of the true surface: its pixels and the neighbourhood it is measured in."""

    peak: tuple[int, int]
    window: tuple[slice, slice]


def true_features(surface: np.ndarray, pixel_nm: float, margin_nm: float = 16.0) -> list[Feature]:
    """The features of the true surface (above :data:`THRESHOLD_NM`), none touching the scan's edge."""
    from skimage.measure import label, regionprops

    m = math.ceil(margin_nm / pixel_nm)
    out = []
    for region in regionprops(label(surface > THRESHOLD_NM)):
        r0, c0, r1, c1 = region.bbox
        if r0 < m or c0 < m or r1 > surface.shape[0] - m or c1 > surface.shape[1] - m:
            continue
        coords = region.coords
        peak = tuple(int(v) for v in coords[np.argmax(surface[coords[:, 0], coords[:, 1]])])
        out.append(Feature(peak=peak, window=(slice(r0 - m, r1 + m), slice(c0 - m, c1 + m))))
    return out


def measure(
    height_map: np.ndarray, features: list[Feature], base: float, pixel_nm: float, smoothing_px: float = SMOOTHING_PX
) -> np.ndarray:
    """(features, quantities) of ``height_map`` (substrate at ``base``), first smoothed by a Gaussian of
    ``smoothing_px`` (as TopoStats filters before it measures: a noise spike must not set a feature's
    height, and with it the half maximum its width is taken at); NaN where no region holds the peak."""
    from scipy.ndimage import distance_transform_edt, gaussian_filter
    from skimage.measure import label
    from skimage.morphology import skeletonize

    smooth = np.asarray(height_map, dtype=np.float64)
    if smoothing_px > 0:
        smooth = gaussian_filter(smooth, smoothing_px, mode="nearest")
    rows = []
    for f in features:
        local = smooth[f.window] - base
        py, px = f.peak[0] - f.window[0].start, f.peak[1] - f.window[1].start
        labels = label(local > THRESHOLD_NM)
        if labels[py, px] == 0:
            rows.append([np.nan] * len(QUANTITIES))
            continue
        region = labels == labels[py, px]
        height = float(local[region].max())
        half = region & (local >= 0.5 * height)
        distance = distance_transform_edt(half)
        skeleton = skeletonize(half)
        width = (2 * float(np.median(distance[skeleton])) - 1.0) * pixel_nm if skeleton.any() else np.nan
        rows.append([height, region.sum() * pixel_nm**2, width, float(local[region].sum()) * pixel_nm**2])
    return np.asarray(rows, dtype=np.float64)


def flat_substrate(truth: np.ndarray, pixel_nm: float) -> np.ndarray:
    """Where the true surface is flat substrate: 10 nm or more from any feature (a mask, made once
    per surface; each map's substrate level is its median there)."""
    from scipy.ndimage import binary_dilation

    return ~binary_dilation(truth > THRESHOLD_NM, iterations=max(1, int(10 / pixel_nm)))


def _drawn_surfaces(surface: np.ndarray, sigma: np.ndarray, draws: int) -> np.ndarray:
    """Surfaces drawn from ``surface`` ± its σ map: smooth unit-variance deviations, a fixed seed."""
    from ..nn.sigma import smooth_deviations

    return surface[None] + sigma[None] * smooth_deviations(draws, surface.shape, SIGMA_CORRELATION_PX)


def iter_tip_independence(
    kinds: tuple[str, ...] = ("strands", "proteins"),
    size_px: int = 256,
    pixel_nm: float = 1.0,
    tips: tuple[tuple[float, float], ...] = TIPS,
    seed: int = 0,
) -> ProgressGenerator[dict]:
    """Image each surface of ``kinds`` with each of ``tips`` and measure its features by every method.

    Returns ``{kind: {"truth": (F, Q), method: (T, F, Q), "default model σ": (T, F, Q)}}``."""
    from ..image.morphology import erode
    from ..pipeline import reconstruct
    from ..tip import cone_tip

    total = len(kinds) * len(tips)
    out: dict = {}
    for n_kind, kind in enumerate(kinds):
        truth = molecule_surface(kind, size_px, pixel_nm, seed + n_kind)
        features = true_features(truth, pixel_nm)
        result = {"truth": measure(truth, features, 0.0, pixel_nm), "pixel_nm": pixel_nm, "tips": list(tips)}
        flat = flat_substrate(truth, pixel_nm)
        per = {name: [] for name in (*METHODS, "default model σ")}
        for n_tip, (apex, angle) in enumerate(tips):
            done = n_kind * len(tips) + n_tip
            yield Progress(done, total, f"{kind}: tip {n_tip + 1}/{len(tips)} (apex {apex:g} nm, {angle:g}°)")
            tip = cone_tip(31, pixel_nm, half_angle_deg=angle, apex_radius_nm=apex)
            image = image_with(truth, tip, seed=1000 * (seed + n_kind) + n_tip)
            btr = reconstruct(image, pixel_nm, method="btr", levelling=("plane",))
            model = reconstruct(image, pixel_nm, levelling=("plane",))
            maps = {
                "raw": btr.image,
                "erosion (true tip)": erode(btr.image, tip),
                "erosion (BTR tip)": btr.surface,
                "default model": model.surface,
            }
            for name, z in maps.items():
                per[name].append(measure(z, features, float(np.median(z[flat])), pixel_nm))
            base = float(np.median(model.surface[flat]))
            draws = _drawn_surfaces(model.surface, model.surface_std, SIGMA_DRAWS)
            drawn = [measure(s, features, base, pixel_nm) for s in draws]
            low, high = np.nanpercentile(np.stack(drawn), [16, 84], axis=0)
            per["default model σ"].append(0.5 * (high - low))
        result.update({name: np.stack(values) for name, values in per.items()})
        out[kind] = result
    yield Progress(total, total, "measured")
    return out


def feature_table(results: dict) -> list[dict]:
    """Rows (kind, method, quantity): spread over tips (median CV over features), bias against the
    truth (median |relative bias| over features), and for the default model the 2σ coverage."""
    rows = []
    for kind, res in results.items():
        truth = res["truth"]
        for method in METHODS:
            values = res[method]  # (tips, features, quantities)
            for q, name in enumerate(QUANTITIES):
                v = values[:, :, q]
                ok = np.isfinite(v).all(axis=0) & np.isfinite(truth[:, q]) & (truth[:, q] > 0)
                cv = np.std(v[:, ok], axis=0) / np.abs(np.mean(v[:, ok], axis=0))
                bias = np.abs(np.mean(v[:, ok], axis=0) - truth[ok, q]) / truth[ok, q]
                row = {
                    "kind": kind,
                    "method": method,
                    "quantity": name,
                    "features": int(ok.sum()),
                    "spread_cv": float(np.median(cv)) if ok.any() else float("nan"),
                    "bias": float(np.median(bias)) if ok.any() else float("nan"),
                }
                if method == "default model":
                    sigma = res["default model σ"][:, :, q]
                    inside = np.abs(v - truth[None, :, q]) <= 2 * sigma
                    good = np.isfinite(v) & np.isfinite(sigma) & np.isfinite(truth[None, :, q])
                    row["covered_2sigma"] = float(inside[good].mean()) if good.any() else float("nan")
                rows.append(row)
    return rows


def markdown_table(rows: list[dict], title: str) -> str:
    """The rows of :func:`feature_table` as a markdown table (spread and bias in %)."""
    lines = [
        f"## {title}",
        "",
        "| surface | quantity | method | features | spread over tips (CV) | bias against the truth | truth within 2σ |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["kind"], QUANTITIES.index(r["quantity"]), METHODS.index(r["method"]))):
        covered = f"{100 * r['covered_2sigma']:.0f} %" if "covered_2sigma" in r else ""
        lines.append(
            f"| {r['kind']} | {r['quantity']} | {r['method']} | {r['features']} | {100 * r['spread_cv']:.1f} % "
            f"| {100 * r['bias']:.0f} % | {covered} |"
        )
    return "\n".join(lines) + "\n"


def per_tip_table(results: dict) -> str:
    """Median over features of each quantity, per tip and method, beside the truth's median (markdown)."""
    lines = [
        "| surface | quantity | tip (apex nm, °) | " + " | ".join(METHODS) + " | truth |",
        "|---" * (4 + len(METHODS)) + "|",
    ]
    for kind, res in results.items():
        tips = res.get("tips", TIPS)
        for q, name in enumerate(QUANTITIES):
            truth = float(np.nanmedian(res["truth"][:, q]))
            for t, (apex, angle) in enumerate(tips):
                cells = [f"{float(np.nanmedian(res[m][t, :, q])):.3g}" for m in METHODS]
                lines.append(f"| {kind} | {name} | {apex:g}, {angle:g} | " + " | ".join(cells) + f" | {truth:.3g} |")
    return "\n".join(lines) + "\n"


def write_report(results: dict, outdir, *, title: str, overwrite: bool = False) -> list:
    """Write OUTDIR/tip_independence.md (the table) and tip_independence.json (every feature's values)."""
    import json
    from pathlib import Path

    from ..io.atomic import atomic_write, output_set

    outdir = Path(outdir)
    rows = feature_table(results)
    records = {
        kind: {
            key: np.asarray(value).tolist() if isinstance(value, np.ndarray) else value for key, value in res.items()
        }
        for kind, res in results.items()
    }
    records["quantities"] = list(QUANTITIES)
    records["tips"] = [list(t) for t in TIPS]
    paths = [outdir / name for name in REPORT_FILES]
    table = markdown_table(rows, title) + "\n### Median over features, per tip\n\n" + per_tip_table(results)
    texts = [table, json.dumps({"rows": rows, "features": records}, indent=1)]
    with output_set():  # both files, or neither
        for path, text in zip(paths, texts, strict=True):
            atomic_write(path, lambda tmp, text=text: tmp.write_text(text), overwrite=overwrite)
    return paths
