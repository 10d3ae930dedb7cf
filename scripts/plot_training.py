"""Plot a training run's log: loss terms per step and validation RMSE (docs/images/training_NAME.png).

    .venv/bin/python scripts/plot_training.py runs/NAME [BTR_TIP_RMSE BTR_SURFACE_RMSE]

The optional numbers draw classical BTR's test-split means as reference lines.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(run: Path, btr: tuple[float, float] | None) -> None:
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = np.array([r["step"] for r in log])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    window = 50
    for key in ("reconstruction", "tip", "surface", "total"):
        v = np.array([r[key] for r in log])
        smooth = np.convolve(v, np.ones(window) / window, mode="valid") if v.size > window else v
        ax1.plot(steps[: smooth.size] + (steps.size - smooth.size), smooth, label=key)
    ax1.set_yscale("log")
    ax1.set_xlabel("step")
    ax1.set_title(f"training loss (running mean of {window})")
    ax1.legend(fontsize=8)
    val = [r for r in log if "val_tip_rmse" in r]
    ax2.plot([r["step"] for r in val], [r["val_tip_rmse"] for r in val], "o-", label="tip RMSE")
    ax2.plot([r["step"] for r in val], [r["val_surface_rmse"] for r in val], "s-", label="surface RMSE")
    if btr:
        ax2.axhline(btr[0], color="C0", ls="--", lw=1, label="BTR tip (test)")
        ax2.axhline(btr[1], color="C1", ls="--", lw=1, label="BTR surface (test)")
    ax2.set_xlabel("step")
    ax2.set_ylabel("nm")
    ax2.set_title("validation (32 scans)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    out = ROOT / "docs" / "images" / f"training_{run.name}.png"
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]), (float(args[1]), float(args[2])) if len(args) >= 3 else None)
