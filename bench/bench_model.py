"""Add the model to the SimTip tables: score it on the test split and merge with the baseline records.

    .venv/bin/python bench/bench_model.py [N] [MODEL] [CONSISTENCY]
                                      # default: all scans of the split, models/se3afm-v1, the pipeline's consistency

MODEL is a name in models/ or a .safetensors path; CONSISTENCY one of none, tip, image (the output
folder then ends in ``-CONSISTENCY``). Needs bench/results/simtip_test.npz and
bench/results/simtip/records.json from bench_simtip.py. Writes bench/results/model-NAME/
records.json and tables.md (the model alone) and tables_with_baselines.md (baselines and model on
the same scans).
"""

import json
import sys
from pathlib import Path

import torch

from napari_se3afm.lab.benchmark import BenchmarkResult, benchmark, tables_markdown, write_results
from napari_se3afm.lab.simtip.storage import read_split

RESULTS = Path(__file__).resolve().parent / "results"


def main(limit: int | None, model: str, consistency: str | None) -> None:
    torch.set_num_threads(1)
    split = read_split(RESULTS / "simtip_test.npz")
    ours = benchmark(split, ["model"], limit=limit, model=model, consistency=consistency)
    out = RESULTS / (f"model-{Path(model).stem}" + (f"-{consistency}" if consistency else ""))
    write_results(ours, out, overwrite=True, title=f"SimTip test split: {model}")
    base = json.loads((RESULTS / "simtip" / "records.json").read_text())
    scans = {r["scan"] for r in ours.records}
    records = [r for r in base["records"] if r["scan"] in scans] + ours.records
    merged = BenchmarkResult(
        records=records,
        methods=[*base["methods"], "model"],
        n_scans=len(scans),
        environment=ours.environment,
        pooled=ours.pooled,
    )
    (out / "tables_with_baselines.md").write_text(tables_markdown(merged, "SimTip test split (seed 2000002)"))
    print(f"wrote {out / 'tables_with_baselines.md'}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else None, args[1] if len(args) > 1 else "se3afm-v1", args[2] if len(args) > 2 else None)
