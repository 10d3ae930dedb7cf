"""The figures that matter, from ``se3afm lab bench`` runs of ``btr,model``: one row per method and split.

    .venv/bin/python bench/summary_vs_btr.py RUN [RUN ...]      # folders holding records.json

Mean and median tip and surface RMSE (nm), the ratio of the means to classical BTR's, the mean
per-scan ECE and the pooled ECE of the σ maps, and the median and maximum time per scan. Prints
markdown.
"""

import json
import sys
from pathlib import Path

import numpy as np


def rows(run: Path) -> list[str]:
    data = json.loads((run / "records.json").read_text())
    out = []
    btr = {k: np.mean([r[k] for r in data["records"] if r["method"] == "btr"]) for k in ("tip_rmse", "surface_rmse")}
    for method in data["methods"]:
        recs = [r for r in data["records"] if r["method"] == method]
        tip = np.array([r["tip_rmse"] for r in recs])
        surf = np.array([r["surface_rmse"] for r in recs])
        secs = np.array([r["time_s"] for r in recs])
        pooled = data.get("pooled", {}).get(method, {})
        ece = [r.get("surface_ece") for r in recs if r.get("surface_ece") is not None]
        cal = f"{np.mean(ece):.3f} / {pooled['surface_ece']:.3f} / {pooled['tip_ece']:.3f}" if ece and pooled else "–"
        out.append(
            f"| {run.name} | {method} | {len(recs)} | {tip.mean():.3f} / {np.median(tip):.3f} | "
            f"{tip.mean() / btr['tip_rmse']:.2f} | {surf.mean():.3f} / {np.median(surf):.3f} | "
            f"{surf.mean() / btr['surface_rmse']:.2f} | {cal} | {np.median(secs):.2f} / {secs.max():.2f} |"
        )
    return out


if __name__ == "__main__":
    print(
        "| run | method | scans | tip RMSE mean / median (nm) | × BTR | surface RMSE mean / median (nm) | × BTR "
        "| surface ECE per scan / pooled, tip ECE pooled | s per scan median / max |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for arg in sys.argv[1:]:
        print("\n".join(rows(Path(arg))))
