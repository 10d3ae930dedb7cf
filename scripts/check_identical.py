"""Every method on a fixed set of scans, saved, and two such runs compared bit for bit.

    .venv/bin/python scripts/check_identical.py run OUTDIR      # reconstruct and save every output
    .venv/bin/python scripts/check_identical.py compare A B     # are A and B identical, array by array?

A refactoring that must not change behaviour is checked by running the first command before and
after it (the earlier tree from a ``git worktree`` with ``PYTHONPATH=WORKTREE/src``; the same
``SE3AFM_MODEL_DIR`` for both, so that both load the same weights and σ models). The scans: the
bundled sample, the first three scans of ``bench/results/simtip_test.npz`` and two real files from
``../shared/data/real`` (each skipped when absent). Only the public API is used.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
RUNS = {
    "btr": {"method": "btr"},
    "btr-full": {"method": "btr-full"},
    "dbtr": {"method": "dbtr", "steps": 20},
    "model": {"method": "model", "mc_samples": 4},
    "model-tight": {"method": "model", "mc_samples": 4, "consistency": "tight"},
    "model-none": {"method": "model", "mc_samples": 4, "consistency": "none"},
    "model-fine": {"method": "model", "mc_samples": 4, "model": "se3afm-cpu-shells"},
}


def scans():
    from importlib import resources

    with np.load(resources.files("napari_se3afm") / "data" / "spikes_sample.npz") as d:
        yield "sample", d["image"].astype(np.float64), float(d["pixel_nm"])
    split = ROOT / "bench" / "results" / "simtip_test.npz"
    if split.exists():
        with np.load(split, allow_pickle=False) as d:
            for i in range(3):
                yield f"simtip{i}", d["image"][i].astype(np.float64), float(d["pixel_nm"][i])
    from napari_se3afm import read_height_map

    for name in ("topostats__old_bruker.002", "nanoafmr__AR_20211011.ibw"):
        if (REAL / name).exists():
            data = read_height_map(REAL / name)
            yield name.split("__")[0], data.height, data.pixel_nm


def run(outdir: Path) -> None:
    import torch

    from napari_se3afm import reconstruct

    torch.set_num_threads(1)
    outdir.mkdir(parents=True, exist_ok=True)
    for name, image, pixel in scans():
        for label, options in RUNS.items():
            r = reconstruct(image, pixel, device="cpu", **options)
            arrays = {"surface": r.surface, "tip": r.tip, "certainty": r.certainty, "tip_volume": r.tip_volume.data}
            arrays.update({k: v for k, v in (("surface_std", r.surface_std), ("tip_std", r.tip_std)) if v is not None})
            np.savez(outdir / f"{name}-{label}.npz", **arrays)
            print(f"{name} {label}", flush=True)


def compare(a: Path, b: Path) -> int:
    names = sorted(p.name for p in a.glob("*.npz"))
    missing = sorted(set(names) ^ {p.name for p in b.glob("*.npz")})
    different = []
    for name in names:
        if not (b / name).exists():
            continue
        with np.load(a / name) as x, np.load(b / name) as y:
            for key in x.files:
                if key not in y.files or not np.array_equal(x[key], y[key]):
                    different.append(f"{name}:{key}")
    print(f"{len(names)} outputs compared, {len(different)} differ, {len(missing)} missing on one side")
    for item in different + missing:
        print("  " + item)
    return 1 if different or missing else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"] and len(sys.argv) == 3:
        run(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
