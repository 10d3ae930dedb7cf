"""Regenerate the figures of the docs (Pillow only). Run:  .venv/bin/python scripts/make_figures.py

* docs/images/sample_btr.png: the bundled sample reconstructed by classical BTR. Panels: scan, true
  surface, recovered surface (shared colour scale), certainty map, true and estimated tip.
* docs/images/simtip_gallery.png: SimTip triplets, one column per surface family and one row pair
  per example: true surface over the measured image (shared colour scale), and the true tip.
* docs/images/default_real_scans.png: every real scan (``../shared/data/real``, skipped when absent)
  through the default path (``se3afm reconstruct FILE``): image, surface, lowering ``I − S``, surface
  σ and tip beside classical BTR's — where speckle, a checkerboard, a frame, a tile seam or stripes
  would show. ``scripts/make_figures.py real`` makes this one alone.
* docs/images/real_finetune.png: a real scan (``../shared/data/real``, skipped when absent) through
  the default model three ways — default, fine-tuned 100 steps, ``--consistency tight``: the
  residual ``I − dilate(S, P)`` of each (shared scale, 0 to 4 σ_n) and each tip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from napari_se3afm.cli import _sample_path
from napari_se3afm.nn.registry import DEFAULT_MODEL
from napari_se3afm.pipeline import reconstruct

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "sample_btr.png"
GALLERY = OUT.parent / "simtip_gallery.png"
REAL_FIT = OUT.parent / "real_finetune.png"
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
REAL_SCAN = REAL / "nanoafmr__AR_20211011.ibw"
DEFAULT_PATH = OUT.parent / "default_real_scans.png"
#: every real file (pixel size recorded), one row each
DEFAULT_PATH_FILES = tuple(sorted(p.name for p in REAL.glob("*.*") if p.suffix != ".md")) if REAL.is_dir() else ()


def afmhot(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((values - lo) / (hi - lo + 1e-12), 0, 1)
    rgb = np.stack([np.clip(2 * t, 0, 1), np.clip(2 * t - 0.5, 0, 1), np.clip(2 * t - 1, 0, 1)], -1)
    return (rgb * 255).astype(np.uint8)


def panel(rgb: np.ndarray, title: str, size: int = 256) -> Image.Image:
    img = Image.fromarray(rgb).resize((size, size), Image.NEAREST)
    canvas = Image.new("RGB", (size, size + 22), "white")
    canvas.paste(img, (0, 22))
    ImageDraw.Draw(canvas).text((4, 4), title, fill="black")
    return canvas


def contact_sheet(tiles: list[Image.Image], columns: int, gap: int = 10) -> Image.Image:
    """Equal-sized tiles row by row, ``columns`` to a row, ``gap`` pixels apart, on white."""
    w, h = tiles[0].size
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (w + gap) - gap, rows * (h + gap) - gap), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * (w + gap), (i // columns) * (h + gap)))
    return sheet


def main() -> None:
    with np.load(_sample_path()) as npz:
        image, surface, tip = (npz[k].astype(np.float64) for k in ("image", "surface", "tip"))
        px = float(npz["pixel_nm"])
    result = reconstruct(image, px, method="btr", tip_px=tip.shape[0])
    lo, hi = np.percentile(image, 1), np.percentile(image, 99.5)
    cert = np.where(result.certainty[..., None], [40, 200, 90], [235, 235, 235]).astype(np.uint8)
    tlo = min(tip.min(), result.tip.min())
    panels = [
        panel(afmhot(image, lo, hi), f"scan ({image.shape[0]}x{image.shape[1]} px, {px:g} nm/px)"),
        panel(afmhot(surface, lo, hi), "true surface"),
        panel(afmhot(result.surface, lo, hi), "recovered surface (BTR erosion)"),
        panel(cert, f"certainty map ({result.certainty.mean():.0%} certain)"),
        panel(afmhot(tip, tlo, 0), f"true tip ({tip.shape[0]} px)"),
        panel(afmhot(result.tip, tlo, 0), "BTR tip (unmirrored)"),
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(panels, 3).save(OUT, optimize=True)
    print(f"wrote {OUT}")
    simtip_gallery()
    real_scan_fits()
    default_path_real_scans()


def default_path_real_scans() -> None:
    """Each of :data:`DEFAULT_PATH_FILES` through the default reconstruction: one row per file."""
    from napari_se3afm.io import read_height_map

    if not REAL.is_dir():
        print(f"skipped {DEFAULT_PATH.name}: {REAL} is absent")
        return
    tiles = []
    for name in DEFAULT_PATH_FILES:
        data = read_height_map(REAL / name)
        r = reconstruct(data.height, data.pixel_nm)
        b = reconstruct(data.height, data.pixel_nm, method="btr")
        lo, hi = np.percentile(r.image, 1), np.percentile(r.image, 99.5)
        low = r.image - r.surface
        slo = np.percentile(r.surface_std, 99)
        tlo = min(r.tip.min(), b.tip.min())
        tiles += [
            panel(afmhot(r.image, lo, hi), f"{name[:26]}", size=200),
            panel(afmhot(r.surface, lo, hi), "surface (default model)", size=200),
            panel(afmhot(low, 0, np.percentile(low, 99.5)), f"lowering I-S (mean {low.mean():.3g} nm)", size=200),
            panel(afmhot(r.surface_std, 0, slo), f"surface sigma (0-{slo:.2g} nm)", size=200),
            panel(afmhot(r.tip, tlo, 0), "tip (model)", size=200),
            panel(afmhot(b.tip, tlo, 0), "tip (classical BTR)", size=200),
        ]
    contact_sheet(tiles, 6).quantize(colors=192).save(DEFAULT_PATH, optimize=True)  # a palette: a third of the size
    print(f"wrote {DEFAULT_PATH}")


def simtip_gallery() -> None:
    """Two examples of each surface family of the SimTip test split: surface, image and tip."""
    from napari_se3afm.lab.simtip import SPLIT_SEEDS, SURFACE_TYPES, simulate

    batch = simulate(48, seed=SPLIT_SEEDS["test"])
    picks = [[i for i, s in enumerate(batch.surface_type) if s == fam][:2] for fam in SURFACE_TYPES]
    size = 180
    columns = []
    for family, idx in zip(SURFACE_TYPES, picks, strict=True):
        tiles = []
        for i in idx:
            surf, img, tip = (getattr(batch, k)[i].numpy().astype(np.float64) for k in ("surface", "image", "tip"))
            lo, hi = np.percentile(surf, 0.5), np.percentile(img, 99.5)
            px = float(batch.pixel_nm[i])
            tiles += [
                panel(afmhot(surf, lo, hi), f"{family}: surface, {px * surf.shape[0]:.0f} nm", size),
                panel(afmhot(img, lo, hi), "image (all artefacts)", size),
                panel(afmhot(tip, tip.min(), 0), f"{batch.tip_type[i]} tip, {px * tip.shape[0]:.0f} nm", size),
            ]
        columns.append(tiles)
    w, h = columns[0][0].size
    rows = len(columns[0])
    sheet = Image.new("RGB", (len(columns) * (w + 10), rows * (h + 6)), "white")
    for c, tiles in enumerate(columns):
        for r, tile in enumerate(tiles):
            sheet.paste(tile, (c * (w + 10), r * (h + 6)))
    sheet.save(GALLERY, optimize=True)
    print(f"wrote {GALLERY}")


def real_scan_fits(model: str = DEFAULT_MODEL) -> None:
    """What fine-tuning and the tight bound change on a real scan: residual maps and tips."""
    from napari_se3afm.image.noise import estimate_noise
    from napari_se3afm.io import read_height_map
    from napari_se3afm.lab.metrics import redilation_residual

    if not REAL_SCAN.is_file():
        print(f"skipped {REAL_FIT.name}: {REAL_SCAN} is absent")
        return
    data = read_height_map(REAL_SCAN)
    runs = {
        "default": {},
        "fine-tuned, 100 steps": {"finetune_steps": 100},
        "--consistency tight": {"consistency": "tight"},
    }
    results = {
        name: reconstruct(
            data.height, data.pixel_nm, method="model", model=model, mc_samples=8, device="cpu", **options
        )
        for name, options in runs.items()
    }
    noise = estimate_noise(next(iter(results.values())).image)
    tlo = min(r.tip.min() for r in results.values())
    top, bottom = [], []
    for name, r in results.items():
        residual = redilation_residual(r.image, r.surface, r.tip)
        rms = float(np.sqrt(np.mean(residual**2))) / noise
        top.append(panel(afmhot(residual, 0, 4 * noise), f"{name}: residual RMS = {rms:.2f} x noise"))
        bottom.append(panel(afmhot(r.tip, tlo, 0), f"{name}: tip ({r.tip.shape[0] * r.pixel_nm[0]:.0f} nm wide)"))
    contact_sheet(top + bottom, 3).save(REAL_FIT, optimize=True)
    print(f"wrote {REAL_FIT}")


if __name__ == "__main__":
    import sys

    default_path_real_scans() if sys.argv[1:] == ["real"] else main()
