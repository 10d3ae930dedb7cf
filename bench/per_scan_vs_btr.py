"""Scan by scan against classical BTR, from ``se3afm lab bench`` runs of ``btr,model``: the worst cases.

    .venv/bin/python bench/per_scan_vs_btr.py RUN [RUN ...]      # folders holding records.json

For tip and surface RMSE, the per-scan ratio model / BTR: median, maximum, and the scans worse than
1.5 × BTR with their families. Prints markdown.
"""

import json
import sys
from pathlib import Path

import numpy as np


def main(runs: list[str]) -> None:
    print(
        "| run | scans | tip: ratio median / max, scans > 1.5 × BTR | surface: ratio median / max, scans > 1.5 × BTR |"
    )
    print("|---|---|---|---|")
    worst = []
    for run in runs:
        records = json.loads((Path(run) / "records.json").read_text())["records"]
        by = {m: {r["scan"]: r for r in records if r["method"] == m} for m in ("model", "btr")}
        scans = sorted(set(by["model"]) & set(by["btr"]))
        cells = []
        for key in ("tip_rmse", "surface_rmse"):
            ratio = np.array([by["model"][s][key] / max(by["btr"][s][key], 1e-9) for s in scans])
            cells.append(f"{np.median(ratio):.2f} / {ratio.max():.2f}, {(ratio > 1.5).sum()}")
            for s, q in zip(scans, ratio, strict=True):
                if q > 1.5:
                    r = by["model"][s]
                    worst.append(
                        f"{Path(run).name} scan {s} ({r['tip_type']} tip, {r['surface_type']}): {key} "
                        f"{r[key]:.2f} nm against BTR's {by['btr'][s][key]:.2f}"
                    )
        print(f"| {Path(run).name} | {len(scans)} | {cells[0]} | {cells[1]} |")
    for line in worst:
        print(f"\n* {line}", end="")
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
