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
morphologies (bench/results/): mean / median / worst surface RMSE, and how many scans fail the
bars of ``se3afm lab real-checks`` (P pits, H high-frequency share, F frame), for each order and
for the true surface itself. With ``--real FOLDER``, for each
real file the checks of ``se3afm lab real-checks`` that the steps move (pits, high-frequency share,
frame beyond the bound's, the interior's mean lowering below the image, re-dilation residual) and
the bars they fail (P pits, H high-frequency share, S σ map, F frame). N = 0 skips SimTip. About
8 minutes.
"""

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from simtip_splits import RESULTS
from simtip_splits import SPLITS as ALL_SPLITS

from napari_se3afm.image.morphology import closing, erode
from napari_se3afm.io import find_scans, read_height_map
from napari_se3afm.lab.baselines import bench_reconstruction
from napari_se3afm.lab.metrics import surface_errors
from napari_se3afm.lab.real_checks import scan_checks
from napari_se3afm.nn import consistency
from napari_se3afm.pipeline import reconstruct

SPLITS = {label: ALL_SPLITS[label] for label in ("default", "wide", "real morphologies")}
ORDERS = ("opened", "opened, raised", "opened, raised, opened", "… lifts undone, opened")
#: the bars of ``se3afm lab real-checks`` (``ScanChecks.failed_bars``) by the mark the tables give them
FAILURE_MARKS = {"pits": "P", "surface": "H", "sigma": "S", "frame": "F"}


def surfaces_in_each_order(result) -> dict[str, np.ndarray]:
    """The surface of a ``consistency="tip"`` reconstruction taken through each of :data:`ORDERS`."""
    z, tip = result.image, result.tip
    bound = erode(z, tip)
    opened = result.surface
    tolerance = consistency.FIT_NOISE_FACTOR * result.info["noise_nm"]
    raised, _ = consistency.raise_to_image(z, tip, opened, tolerance, bound=bound)
    lowering = bound - raised
    closed = closing(lowering, np.zeros((consistency.PIT_PX, consistency.PIT_PX)))
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


def failure_marks(checks) -> str:
    """The marks of :data:`FAILURE_MARKS` for the bars a surface's :func:`scan_checks` fail."""
    return "".join(FAILURE_MARKS[bar] for bar in checks.failed_bars)


def simtip_table(n: int) -> None:
    print("| split | " + " | ".join(ORDERS) + " |")
    print("|---" * (len(ORDERS) + 1) + "|")
    failing = {}
    for label, name in SPLITS.items():
        errors: dict[str, list[float]] = {order: [] for order in ORDERS}
        marks: dict[str, list[str]] = {order: [] for order in (*ORDERS, "the truth")}
        with np.load(RESULTS / f"{name}.npz") as split:
            count = min(n, len(split["image"]))
            for i in range(count):
                truth = split["surface"][i].astype(np.float64)
                k = split["tip"].shape[-1]
                image, pixel = split["image"][i].astype(np.float64), float(split["pixel_nm"][i])
                result = bench_reconstruction(image, pixel, consistency="tip", device="cpu")
                for order, surface in (*surfaces_in_each_order(result).items(), ("the truth", truth)):
                    checks = scan_checks(dataclasses.replace(result, surface=surface))
                    marks[order].append(failure_marks(checks).replace("S", ""))  # σ is the same in all
                    if order in errors:
                        errors[order].append(surface_errors(surface, truth, k - 1)["surface_rmse"])
        cells = " | ".join(f"{np.mean(e):.3f} / {np.median(e):.3f} / {np.max(e):.2f}" for e in errors.values())
        print(f"| {label} ({count}) | {cells} |", flush=True)
        failing[f"{label} ({count})"] = marks
    print("\nScans whose surface fails the real-file bars: any / P / H / F")
    print("\n| split | " + " | ".join((*ORDERS, "the truth")) + " |")
    print("|---" * (len(ORDERS) + 2) + "|")
    for label, marks in failing.items():
        cells = [
            " / ".join(str(sum(bool(m) if bar == "" else bar in m for m in v)) for bar in ("", "P", "H", "F"))
            for v in marks.values()
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")


def real_table(folder: Path) -> None:
    print("\n| file | image pits (%) / HF | " + " | ".join(ORDERS) + " |")
    print("|---" * (len(ORDERS) + 2) + "|")
    for path in find_scans([folder]):
        data = read_height_map(path)
        result = reconstruct(data.height, data.pixel_nm, consistency="tip", device="cpu")
        cells = []
        for surface in surfaces_in_each_order(result).values():
            c = scan_checks(dataclasses.replace(result, surface=surface))
            failed = failure_marks(c)
            marks = f" **{failed}**" if failed else ""
            cells.append(
                f"{100 * c.pits_surface:.2f} / {c.hf_surface:.4f} / {c.frame_nm:+.3g} nm / "
                f"{c.lowering_inside_nm:.3g} nm / {c.residual_rms_noise:.2f} σ_n{marks}"
            )
        print(f"| {path.name} | {100 * c.pits_image:.2f} / {c.hf_image:.4f} | " + " | ".join(cells) + " |", flush=True)


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
