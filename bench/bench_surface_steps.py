"""Where the surface's steps gain and lose: opening pits, raising to the image, in which order.

    .venv/bin/python bench/bench_surface_steps.py [N] [--real FOLDER]

The default surface is the network's, raised until it reproduces the image (the lift at the point
the tip touches), then opened: every lowering below the erosion bound narrower than 3 px removed
(docs/model.md). Each scan is reconstructed once with ``consistency="tip"`` (the network's surface,
opened, not raised; SimTip as the benchmark runs it); the other orders are built from it with the
pipeline's own steps:

* ``opened``: that surface as it is;
* ``opened, raised``: then raised to the image;
* ``opened, raised, opened``: then opened again (what the default does, within 0.01 nm);
* ``… lifts undone``: raised, then every lift narrower than 3 px undone (the lowering closed by a
  3 × 3 square, never below the network's) before the second opening — the raise's isolated
  contacts given back to the network.

For the first N scans (default 100) of the default and wide SimTip test splits and the real
morphologies (bench/results/): mean / median / worst surface RMSE. With ``--real FOLDER``, for each
real file the checks of ``se3afm lab real-checks`` that the steps move (pits, high-frequency share,
frame beyond the bound's, the interior's mean lowering below the image, re-dilation residual) and
the bars they fail (P, H, F). N = 0 skips SimTip. About 8 minutes.
"""

import argparse
from pathlib import Path

import numpy as np

from napari_se3afm.image.morphology import dilate, erode, opening
from napari_se3afm.image.noise import estimate_noise
from napari_se3afm.io import find_scans, read_height_map
from napari_se3afm.lab.baselines import bench_reconstruction
from napari_se3afm.lab.metrics import edge_band_means, surface_errors
from napari_se3afm.lab.real_checks import EDGE_BAND_PX, high_frequency_share, pit_share
from napari_se3afm.nn import consistency
from napari_se3afm.pipeline import reconstruct

RESULTS = Path(__file__).resolve().parent / "results"
SPLITS = {"default": "simtip_test", "wide": "simtip_test_wide", "real morphologies": "simtip_test_real"}
ORDERS = ("opened", "opened, raised", "opened, raised, opened", "… lifts undone, opened")


def surfaces_in_each_order(result) -> dict[str, np.ndarray]:
    """The surface of a ``consistency="tip"`` reconstruction taken through each of :data:`ORDERS`."""
    z, tip = result.image, result.tip
    bound = erode(z, tip)
    opened = result.surface
    tolerance = consistency.FIT_NOISE_FACTOR * result.info["noise_nm"]
    raised, _ = consistency.raise_to_image(z, tip, opened, tolerance, bound=bound)
    lowering = bound - raised
    closed = -opening(-lowering, np.zeros((consistency.PIT_PX, consistency.PIT_PX)))  # a flat closing
    undone = bound - np.maximum(lowering, np.minimum(bound - opened, closed))
    return dict(
        zip(
            ORDERS,
            (
                opened,
                raised,
                consistency.without_pits(raised, bound),
                consistency.without_pits(undone, bound),
            ),
            strict=True,
        )
    )


def simtip_table(n: int) -> None:
    print("| split | " + " | ".join(ORDERS) + " |")
    print("|---" * (len(ORDERS) + 1) + "|")
    for label, name in SPLITS.items():
        errors: dict[str, list[float]] = {order: [] for order in ORDERS}
        with np.load(RESULTS / f"{name}.npz") as split:
            count = min(n, len(split["image"]))
            for i in range(count):
                truth = split["surface"][i].astype(np.float64)
                k = split["tip"].shape[-1]
                image, pixel = split["image"][i].astype(np.float64), float(split["pixel_nm"][i])
                result = bench_reconstruction(image, pixel, consistency="tip", device="cpu")
                for order, surface in surfaces_in_each_order(result).items():
                    errors[order].append(surface_errors(surface, truth, k - 1)["surface_rmse"])
        cells = " | ".join(f"{np.mean(e):.3f} / {np.median(e):.3f} / {np.max(e):.2f}" for e in errors.values())
        print(f"| {label} ({count}) | {cells} |", flush=True)


def real_table(folder: Path) -> None:
    print("\n| file | image pits (%) / HF | " + " | ".join(ORDERS) + " |")
    print("|---" * (len(ORDERS) + 2) + "|")
    for path in find_scans([folder]):
        data = read_height_map(path)
        result = reconstruct(data.height, data.pixel_nm, consistency="tip", device="cpu")
        z, tip = result.image, result.tip
        noise = estimate_noise(z)
        depth = max(3 * noise, 0.02 * float(np.ptp(z)))
        pits, hf = pit_share(z, depth), high_frequency_share(z)
        bound_edge, bound_inside = edge_band_means(z - erode(z, tip), EDGE_BAND_PX)
        cells = []
        for surface in surfaces_in_each_order(result).values():
            edge, inside = edge_band_means(z - surface, EDGE_BAND_PX)
            frame = (edge - inside) - (bound_edge - bound_inside)
            residual = float(np.sqrt(np.mean((z - dilate(surface, tip)) ** 2))) / noise
            failed = "".join(
                mark
                for mark, fails in (
                    ("P", pit_share(surface, depth) - pits > 0.002),
                    ("H", high_frequency_share(surface) > 2 * max(hf, 1e-4)),
                    ("F", abs(frame) > max(0.10 * inside, noise)),
                )
                if fails
            )
            cells.append(
                f"{100 * pit_share(surface, depth):.2f} / {high_frequency_share(surface):.4f} / "
                f"{frame:+.3g} nm / {inside:.3g} nm / {residual:.2f} σ_n{' **' + failed + '**' if failed else ''}"
            )
        print(f"| {path.name} | {100 * pits:.2f} / {hf:.4f} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=100)
    parser.add_argument("--real", type=Path, help="a folder of real scans (../shared/data/real)")
    args = parser.parse_args()
    if args.n:
        simtip_table(args.n)
    if args.real:
        real_table(args.real)


if __name__ == "__main__":
    main()
