"""Round particles under a sharp cone (napari_se3afm.lab.cases): every feature blunter than the tip's flanks.

    .venv/bin/python bench/bench_sharp_cone.py [MODEL]

For half-angles 10–18° and particle heights 40–80 nm: tip RMSE (nm, both tips clipped at the probe
depth) of classical BTR, of the default model held to the maxima's bound only (what it returned
before the bound was tightened where the tip lies on it), and of the default model; the share of tip
pixels within 2σ; which bound the model used; seconds. Prints markdown.
"""

import sys
import time

import numpy as np

from napari_se3afm.lab.cases import particles_under_a_sharp_cone
from napari_se3afm.lab.metrics import clipped_tip_difference, probe_depth, tip_errors
from napari_se3afm.nn import consistency
from napari_se3afm.nn.registry import DEFAULT_MODEL
from napari_se3afm.pipeline import reconstruct


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    print(f"model {model}\n")
    print("| half-angle (°) | height (nm) | BTR | model, maxima's bound only | model | within 2σ | bound | s |")
    print("|---|---|---|---|---|---|---|---|")
    always = consistency.BOUND_ACTIVE_FRACTION
    for angle in (10.0, 14.0, 18.0):
        for height in (40.0, 60.0, 80.0):
            image, surface, tip, px = particles_under_a_sharp_cone(half_angle_deg=angle, height_nm=height)
            depth = probe_depth(surface, tip.shape[0])
            btr = reconstruct(image, px, method="btr", levelling=None, tip_px=tip.shape[0])
            consistency.BOUND_ACTIVE_FRACTION = 1.0  # never tightened
            held = reconstruct(image, px, model=model, levelling=None)
            consistency.BOUND_ACTIVE_FRACTION = always
            start = time.perf_counter()
            result = reconstruct(image, px, model=model, levelling=None)
            seconds = time.perf_counter() - start
            covered = np.mean(np.abs(clipped_tip_difference(result.tip, tip, depth)) <= 2 * result.tip_std)
            errors = [tip_errors(r.tip, tip, depth)["tip_rmse"] for r in (btr, held, result)]
            print(
                f"| {angle:g} | {height:g} | {errors[0]:.1f} | {errors[1]:.1f} | **{errors[2]:.1f}** | "
                f"{covered:.0%} | {result.info['tip_bound']} | {seconds:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
