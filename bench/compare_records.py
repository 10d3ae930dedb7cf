"""Two benchmark runs of the same scans compared scan by scan (an A/B of two models or settings).

    .venv/bin/python bench/compare_records.py A/records.json B/records.json [METHOD_A [METHOD_B]]

Reads the ``records.json`` that ``se3afm lab bench`` writes, pairs the records of METHOD_A in A
(default ``model``) and METHOD_B in B (default METHOD_A) by scan, and prints markdown: the mean
tip and surface RMSE of each, the mean paired difference B − A with its standard error over the
scans and the share of scans that B improves; then the same by tip type, by surface type and by
thirds of the probe depth. The standard error is over scans only: it does not include the spread
between training runs.
"""

import json
import sys
from pathlib import Path

import numpy as np

METRICS = ("tip_rmse", "surface_rmse")


def paired(a: dict[int, dict], b: dict[int, dict], scans: list[int], key: str) -> str:
    x = np.array([a[s][key] for s in scans])
    y = np.array([b[s][key] for s in scans])
    d = y - x
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return f"{x.mean():.3f} → {y.mean():.3f} ({d.mean():+.3f} ± {se:.3f}, {np.mean(d < 0):.0%} better)"


def main(path_a: str, path_b: str, method_a: str = "model", method_b: str | None = None) -> None:
    method_b = method_b or method_a
    runs = []
    for path, method in ((path_a, method_a), (path_b, method_b)):
        records = json.loads(Path(path).read_text())["records"]
        runs.append({r["scan"]: r for r in records if r["method"] == method})
        if not runs[-1]:
            sys.exit(f"{path}: no records of method {method!r}")
    a, b = runs
    scans = sorted(set(a) & set(b))
    if not scans:
        sys.exit("the two runs share no scan")
    depth = np.array([a[s]["probe_depth_nm"] for s in scans])
    cuts = np.quantile(depth, [1 / 3, 2 / 3])
    groups: list[tuple[str, list[int]]] = [(f"all ({len(scans)})", scans)]
    for field in ("tip_type", "surface_type"):
        for name in sorted({a[s][field] for s in scans}):
            members = [s for s in scans if a[s][field] == name]
            groups.append((f"{name} ({len(members)})", members))
    for label, lo, hi in (("shallowest", -np.inf, cuts[0]), ("middle", cuts[0], cuts[1]), ("deepest", cuts[1], np.inf)):
        members = [s for s, d in zip(scans, depth, strict=True) if lo <= d < hi]
        span = f"{max(lo, 0):.1f}–{min(hi, depth.max()):.1f} nm"
        groups.append((f"{label} third of probe depth, {span} ({len(members)})", members))
    print(
        f"A = {path_a} ({method_a}), B = {path_b} ({method_b}); "
        "mean A → mean B (B − A ± standard error, share B better)\n"
    )
    print("| scans | tip RMSE (nm) | surface RMSE (nm) |")
    print("|---|---|---|")
    for label, members in groups:
        print(f"| {label} | " + " | ".join(paired(a, b, members, key) for key in METRICS) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(*sys.argv[1:5])
