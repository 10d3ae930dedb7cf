"""What does raising the surface to the image (``consistency="image"``) cost on SimTip, and why?

    .venv/bin/python bench/bench_lift.py MODEL [N] [real]

On the first N scans of bench/results/simtip_test.npz (default 100): the model's output with its
tips bounded but the surface not raised (``consistency="tip"``, 8 Monte-Carlo samples), then that
surface raised by :func:`napari_se3afm.consistency.raise_to_image` with tolerances of 0.5–3 image
noise σ_n (the pipeline uses 1), and the same surface capped and raised with the TRUE tip instead
of the estimated one. For each: mean surface RMSE and the share of scans whose re-dilation residual
(by the tip used) has RMS ≤ 2 σ_n. With ``real``: RMS / σ_n of every real file in
../shared/data/real for each tolerance (default levelling). One thread; prints markdown.
"""

import sys
from pathlib import Path

import numpy as np
import torch

from napari_se3afm.consistency import raise_to_image
from napari_se3afm.io import read_height_map
from napari_se3afm.lab.baselines import MODEL_BENCH_SAMPLES, bench_reconstruction
from napari_se3afm.lab.metrics import fit_ratio, surface_errors
from napari_se3afm.lab.simtip.storage import read_split
from napari_se3afm.morphology import erode
from napari_se3afm.pipeline import reconstruct

RESULTS = Path(__file__).resolve().parent / "results"
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
TOLERANCES = (0.5, 1.0, 1.5, 2.0, 3.0)


def variants(image: np.ndarray, surface: np.ndarray, tip: np.ndarray, noise: float) -> dict[str, np.ndarray]:
    """The unraised surface and the surface raised by ``tip`` with each tolerance (× σ_n)."""
    bound = erode(image, tip)
    out = {"not raised": surface}
    out.update(
        {f"raised, {f:g} σ_n": raise_to_image(image, tip, surface, f * noise, bound=bound)[0] for f in TOLERANCES}
    )
    return out


def simtip(model: str, n: int) -> None:
    split = read_split(RESULTS / "simtip_test.npz")
    n = min(n, len(split.image))
    k = split.tip.shape[1]
    rows: dict[str, tuple[list, list]] = {}
    for i in range(n):
        image, truth, true_tip = (np.asarray(a[i], dtype=np.float64) for a in (split.image, split.surface, split.tip))
        r = bench_reconstruction(image, float(split.pixel_nm[i]), model=model, consistency="tip", device="cpu")
        noise = r.info["noise_nm"]
        scored = [(name, s, r.tip) for name, s in variants(image, r.surface, r.tip, noise).items()]
        true_bound = erode(image, true_tip)
        scored.append(("capped by the TRUE tip's erosion", np.minimum(r.surface, true_bound), true_tip))
        scored.append(
            (
                "raised by the TRUE tip, 1 σ_n",
                raise_to_image(image, true_tip, r.surface, noise, bound=true_bound)[0],
                true_tip,
            )
        )
        for name, s, tip in scored:
            errors, ratios = rows.setdefault(name, ([], []))
            errors.append(surface_errors(s, truth, border=k - 1)["surface_rmse"])
            ratios.append(fit_ratio(image, s, tip))
    print(f"{model}, first {n} SimTip test scans\n")
    print("| surface | surface RMSE (nm) | residual RMS ≤ 2 σ_n |")
    print("|---|---|---|")
    for name, (errors, ratios) in rows.items():
        print(f"| {name} | {np.mean(errors):.3f} | {np.mean(np.array(ratios) <= 2):.0%} |")


def real(model: str) -> None:
    names = None
    for path in sorted(p for p in REAL.iterdir() if p.suffix != ".md"):
        data = read_height_map(path)
        r = reconstruct(
            data.height,
            data.pixel_nm,
            method="model",
            model=model,
            mc_samples=MODEL_BENCH_SAMPLES,
            device="cpu",
            consistency="tip",
        )
        out = variants(r.image, r.surface, r.tip, r.info["noise_nm"])
        if names is None:
            names = list(out)
            print(f"\n{model}, real files: RMS / σ_n\n\n| file | " + " | ".join(names) + " |")
            print("|---|" + "---|" * len(names))
        print(
            f"| `{path.name}` | " + " | ".join(f"{fit_ratio(r.image, s, r.tip):.2f}" for s in out.values()) + " |",
            flush=True,
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    simtip(args[0], int(args[1]) if len(args) > 1 else 100)
    if "real" in args[2:]:
        real(args[0])
