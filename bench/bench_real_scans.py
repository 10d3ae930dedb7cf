"""Every real height channel in ../shared/data/real through one method: does it run, does it fit, what tip?

    .venv/bin/python bench/bench_real_scans.py btr                  # classical BTR (the default method)
    .venv/bin/python bench/bench_real_scans.py model MODEL [M] [C]  # a model, M Monte-Carlo samples (default 8),
                                                                    # consistency C (default: the pipeline's)
    ... --level plane,align-rows,zero-min                           # other levelling steps (docs/io.md)
    ... --finetune-steps N                                          # fine-tune the model on each scan first

For each file: the height channel, levelled with the default steps, is reconstructed; the predicted
surface is dilated by the predicted tip and compared with the levelled image. The residual
``I − dilate(S, P)`` (never negative: S lies below the erosion bound) is summarised by its RMS and
its 99th percentile, beside the image's estimated white noise σ_n (Immerkær), and by the share of
pixels within 2 σ_n (the RMS is dominated by a few scars and streaks); the real-scan bar is RMS ≤ 2 σ_n.
"opening RMS / σ_n" is the best any surface can do with the predicted tip (``I − opening(I, P)``):
what is left there, no surface explains. Tip descriptors come from
:func:`napari_se3afm.tip.describe_tip`. Prints markdown.
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_se3afm.image.morphology import erode
from napari_se3afm.image.noise import estimate_noise
from napari_se3afm.io import read_height_map
from napari_se3afm.lab.metrics import fit_ratio, redilation_residual
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.tip import describe_tip

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def main(
    method: str, model: str | None, samples: int, consistency: str | None, levelling: str | None, finetune_steps: int
) -> None:
    torch.set_num_threads(1)
    options = {"method": method, "device": "cpu"}
    if levelling:
        options["levelling"] = tuple(levelling.split(","))
    if method == "model":
        options.update(model=model, mc_samples=samples, finetune_steps=finetune_steps)
        if consistency:
            options["consistency"] = consistency
    print(
        "| file | px (nm) | σ_n (nm) | residual RMS (nm) | RMS / σ_n | opening RMS / σ_n | within 2 σ_n "
        "| residual p99 (nm) | apex radius (nm) | half-angle (°) | depth (nm) | double tip | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in sorted(p for p in REAL.iterdir() if p.suffix != ".md"):
        data = read_height_map(path)
        start = time.perf_counter()
        r = reconstruct(data.height, data.pixel_nm, **options)
        secs = time.perf_counter() - start
        residual = redilation_residual(r.image, r.surface, r.tip)
        noise = estimate_noise(r.image)
        rms = float(np.sqrt(np.mean(residual**2)))
        best = fit_ratio(r.image, erode(r.image, r.tip), r.tip)  # I − opening(I, P): what no surface explains
        d = describe_tip(r.tip, r.pixel_nm)
        print(
            f"| `{path.name}` | {r.pixel_nm[0]:.2f} | {noise:.3f} | {rms:.3f} | {rms / noise:.2f} | {best:.2f} | "
            f"{np.mean(residual <= 2 * noise):.0%} | {np.percentile(residual, 99):.2f} | {d.apex_radius_nm:.1f} | "
            f"{d.half_angle_deg:.1f} | "
            f"{d.depth_nm:.1f} | {'yes' if d.double_tip else 'no'} | {secs:.1f} |"
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    flags = {"--level": None, "--finetune-steps": "0"}
    for flag in flags:
        if flag in args:
            at = args.index(flag)
            flags[flag] = args[at + 1]
            del args[at : at + 2]
    args = args or ["btr"]
    main(
        args[0],
        args[1] if len(args) > 1 else None,
        int(args[2]) if len(args) > 2 else 8,
        args[3] if len(args) > 3 else None,
        flags["--level"],
        int(flags["--finetune-steps"]),
    )
