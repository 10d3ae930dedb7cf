"""How well can the tip network's output represent a true tip at all? (the ceiling of its tip RMSE)

    .venv/bin/python bench/bench_tip_representation.py [N] [SHELLS,LMAX,DEPTH_RATIO,SHARPNESS[,EXTENT] ...]

For the first N tips of bench/results/simtip_test.npz (default 100), the coefficients ``c_lm(s)``
of :func:`napari_se3afm.nn.tip_net.render_tip` are fitted directly to the TRUE tip (Adam, 400
steps, on the benchmark's clipped difference), and the fitted tip is scored with the benchmark's
tip RMSE (``metrics.tip_errors``, clipped at each scan's probe depth). No network can do better
than this fit with the same rendering, so it is the floor of the model's tip error. Each argument is
one rendering variant (default: the shipped one, 8,3,3.0,8.0,1.5; EXTENT is the radius of the last
radial shell in window half-widths). One thread. Prints markdown.
"""

import sys
import time

import numpy as np
import torch

from napari_se3afm.lab.metrics import probe_depth, tip_errors
from napari_se3afm.lab.simtip.storage import read_split
from napari_se3afm.nn.tip_net import coefficient_irreps, render_tip

STEPS, LR = 400, 0.05


def fit_tip(
    truth: np.ndarray,
    pixel_nm: float,
    depth: float,
    shells: int,
    lmax: int,
    depth_ratio: float,
    sharpness: float,
    extent: float,
) -> np.ndarray:
    """The rendered tip closest to ``truth`` (clipped at ``-depth``) over all coefficients."""
    k = truth.shape[0]
    length = (k // 2) * pixel_nm
    target = torch.as_tensor(np.maximum(truth - truth[k // 2, k // 2], -depth))
    coeffs = torch.zeros(1, coefficient_irreps(shells, lmax).dim, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([coeffs], lr=LR)
    best, best_loss = None, np.inf
    for _ in range(STEPS):
        tip = render_tip(
            coeffs,
            shells,
            lmax,
            tip_px=k,
            pixel_nm=pixel_nm,
            length_nm=length,
            depth_nm=depth_ratio * length,
            sharpness=sharpness,
            shell_extent=extent,
        )[1][0]
        loss = ((torch.clamp(tip, min=-depth) - target) ** 2).mean()
        if loss.item() < best_loss:
            best, best_loss = tip.detach().numpy().copy(), loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return best


def main(n: int, variants: list[tuple[int, int, float, float, float]]) -> None:
    torch.set_num_threads(1)
    split = read_split("bench/results/simtip_test.npz")
    n = min(n, len(split))
    k = split.tip.shape[1]
    depths = [probe_depth(split.surface[i].astype(np.float64), k) for i in range(n)]
    types = sorted(set(split.tip_type[:n]))
    print("| shells, lmax, depth ratio, sharpness, extent | tip RMSE (nm) | " + " | ".join(types) + " | s per tip |")
    print("|---|---|" + "---|" * len(types) + "---|")
    for shells, lmax, ratio, sharp, extent in variants:
        t0 = time.perf_counter()
        rmse = np.array(
            [
                tip_errors(
                    fit_tip(
                        split.tip[i].astype(np.float64),
                        float(split.pixel_nm[i]),
                        depths[i],
                        shells,
                        lmax,
                        ratio,
                        sharp,
                        extent,
                    ),
                    split.tip[i].astype(np.float64),
                    depths[i],
                )["tip_rmse"]
                for i in range(n)
            ]
        )
        per_type = [rmse[[t == name for t in split.tip_type[:n]]].mean() for name in types]
        print(
            f"| {shells}, {lmax}, {ratio:g}, {sharp:g}, {extent:g} | {rmse.mean():.3f} | "
            + " | ".join(f"{v:.2f}" for v in per_type)
            + f" | {(time.perf_counter() - t0) / n:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    count = int(args[0]) if args else 100
    specs = args[1:] or ["8,3,3.0,8.0,1.5"]
    fields = [s.split(",") + ["1.5"] * (5 - len(s.split(","))) for s in specs]
    parsed = [(int(a), int(b), float(c), float(d), float(e)) for a, b, c, d, e in fields]
    main(count, parsed)
