"""Truth-free checks of the default reconstruction on every real file: speckle, checkerboard, frame, fit, halves.

    .venv/bin/python bench/bench_real_checks.py [--method M] [--no-halves] [--only TEXT]

For each height channel in ../shared/data/real, levelled as the pipeline does: the checks of
:mod:`napari_se3afm.lab.real_checks` (pits of surface and image, high-frequency share of surface,
image and σ map, the edge band's lowering against the interior, the re-dilation residual in noise σ)
and, unless ``--no-halves``, the same-tip halves (top against bottom, left against right: RMS tip
difference, RMS z in their combined σ, share within 2σ, apex radii). Prints markdown tables and
every failed bar; the pictures of the same reconstructions: ``scripts/make_figures.py real``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from napari_se3afm.io import read_height_map
from napari_se3afm.lab.real_checks import same_tip_halves, scan_checks
from napari_se3afm.pipeline import reconstruct

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="auto")
    parser.add_argument("--no-halves", action="store_true")
    parser.add_argument("--only", help="files whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = {"method": args.method, "device": "cpu"}
    failures = []
    halves_rows = []
    print(
        "| file | px (nm) | σ_n (nm) | pits image / surface (%) | HF image / surface / σ "
        "| lowering edge band / interior (nm) | the bound's (nm) | residual RMS / σ_n (whole image) | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for path in sorted(p for p in REAL.iterdir() if p.suffix != ".md"):
        if args.only and args.only not in path.name:
            continue
        data = read_height_map(path)
        start = time.perf_counter()
        result = reconstruct(data.height, data.pixel_nm, **settings)
        seconds = time.perf_counter() - start
        c = scan_checks(result)
        print(
            f"| {path.name} | {np.sqrt(np.prod(data.pixel_nm)):.3g} | {c.noise_nm:.3g} | {100 * c.pits_image:.2f} / "
            f"{100 * c.pits_surface:.2f} | {c.hf_image:.4f} / {c.hf_surface:.4f} / {c.hf_sigma:.4f} "
            f"| {c.lowering_edge_nm:.3g} / {c.lowering_inside_nm:.3g} "
            f"| {c.bound_edge_nm:.3g} / {c.bound_inside_nm:.3g} "
            f"| {c.residual_rms_noise:.2f} | {seconds:.1f} |",
            flush=True,
        )
        failures += [f"{path.name}: {f}" for f in c.failures]
        if not args.no_halves:
            for split in ("rows", "columns"):
                try:
                    h = same_tip_halves(result.image, data.pixel_nm, split, levelling=(), **settings)
                except Exception as exc:  # a half too small for the model
                    halves_rows.append(f"| {path.name} | {split} | {exc} | | | |")
                    continue
                halves_rows.append(
                    f"| {path.name} | {split} | {h.rms_difference_nm:.3g} | {h.rms_z:.2f} "
                    f"| {100 * h.within_2sigma:.0f} % "
                    f"| {h.apex_radius_nm[0]:.3g} ± {h.apex_radius_std_nm[0]:.2g} / "
                    f"{h.apex_radius_nm[1]:.3g} ± {h.apex_radius_std_nm[1]:.2g} |"
                )
                if h.rms_z > 2:
                    failures.append(f"{path.name}: halves ({split}) differ by RMS {h.rms_z:.2f} σ")
    if halves_rows:
        print("\n| file | halves | RMS tip difference (nm) | RMS z | within 2σ | apex radius (nm) |")
        print("|---|---|---|---|---|---|")
        print("\n".join(halves_rows))
    for line in failures:
        print("FAIL", line)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
