"""What a release is judged by, from the ``records.json`` of ``se3afm lab bench`` runs, as markdown.

* :func:`summary_table`: one row per run and method — mean and median tip and surface RMSE, their
  ratio to classical BTR's on the same scans, the σ maps' ECE per scan and pooled, time per scan;
* :func:`per_scan_table`: model against BTR scan by scan — median and worst ratio, and every scan
  worse than 1.5 × BTR with its tip and surface family;
* :func:`compare_runs`: two runs of the same scans paired scan by scan (an A/B of two models or
  settings), overall, by tip type, by surface type and by thirds of the probe depth.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ParameterError

__all__ = ["WORSE_THAN_BTR", "compare_runs", "per_scan_table", "read_records", "summary_table"]

#: a scan whose error exceeds classical BTR's by this factor is listed by :func:`per_scan_table`
WORSE_THAN_BTR = 1.5
METRICS = ("tip_rmse", "surface_rmse")


def read_records(run: str | Path) -> dict:
    """The contents of a run's ``records.json`` (a run folder or the file itself)."""
    path = Path(run)
    path = path / "records.json" if path.is_dir() else path
    try:
        data = json.loads(path.read_text())
        data["records"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ParameterError(f"{path}: not the records.json of 'se3afm lab bench' ({exc})") from None
    return data


def _run_name(run: str | Path) -> str:
    """A run's name in the tables: its folder's (given the folder or its records.json)."""
    path = Path(run)
    return path.name if path.is_dir() else path.parent.name


def _by_method(data: dict, method: str) -> dict[int, dict]:
    return {r["scan"]: r for r in data["records"] if r["method"] == method}


def summary_table(runs: list[str | Path]) -> str:
    """One row per run and method (needs each run to hold classical BTR: the reference)."""
    lines = [
        "| run | method | scans | tip RMSE mean / median (nm) | × BTR | surface RMSE mean / median (nm) | × BTR "
        "| surface ECE per scan / pooled, tip ECE pooled | s per scan median / max |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        data = read_records(run)
        btr = _by_method(data, "btr")
        if not btr:
            raise ParameterError(f"{run}: no classical BTR records to compare with (run --methods btr,...)")
        name = _run_name(run)
        for method in data.get("methods") or sorted({r["method"] for r in data["records"]}):
            recs = list(_by_method(data, method).values())
            tip, surf = (np.array([r[k] for r in recs]) for k in METRICS)
            ref_tip = np.mean([btr[r["scan"]]["tip_rmse"] for r in recs if r["scan"] in btr])
            ref_surf = np.mean([btr[r["scan"]]["surface_rmse"] for r in recs if r["scan"] in btr])
            secs = np.array([r["time_s"] for r in recs])
            pooled = data.get("pooled", {}).get(method, {})
            ece = [r["surface_ece"] for r in recs if r.get("surface_ece") is not None]
            cal = (
                f"{np.mean(ece):.3f} / {pooled['surface_ece']:.3f} / {pooled['tip_ece']:.3f}" if ece and pooled else "–"
            )
            lines.append(
                f"| {name} | {method} | {len(recs)} | {tip.mean():.3f} / {np.median(tip):.3f} | "
                f"{tip.mean() / ref_tip:.2f} | {surf.mean():.3f} / {np.median(surf):.3f} | "
                f"{surf.mean() / ref_surf:.2f} | {cal} | {np.median(secs):.2f} / {secs.max():.2f} |"
            )
    return "\n".join(lines)


def per_scan_table(runs: list[str | Path], method: str = "model") -> str:
    """``method`` against classical BTR scan by scan: the ratio's median and maximum, the scans worse
    than :data:`WORSE_THAN_BTR` × BTR counted, then listed."""
    lines = [
        f"| run | scans | tip: ratio median / max, scans > {WORSE_THAN_BTR:g} × BTR "
        f"| surface: ratio median / max, scans > {WORSE_THAN_BTR:g} × BTR |",
        "|---|---|---|---|",
    ]
    worst = []
    for run in runs:
        data = read_records(run)
        ours, btr = _by_method(data, method), _by_method(data, "btr")
        scans = sorted(set(ours) & set(btr))
        if not scans:
            raise ParameterError(f"{run}: no scan has both {method} and btr records")
        name = _run_name(run)
        cells = []
        for key in METRICS:
            ratio = np.array([ours[s][key] / max(btr[s][key], 1e-9) for s in scans])
            cells.append(f"{np.median(ratio):.2f} / {ratio.max():.2f}, {int((ratio > WORSE_THAN_BTR).sum())}")
            worst += [
                f"* {name} scan {s} ({ours[s]['tip_type']} tip, {ours[s]['surface_type']}): {key} "
                f"{ours[s][key]:.2f} nm against BTR's {btr[s][key]:.2f}"
                for s, q in zip(scans, ratio, strict=True)
                if q > WORSE_THAN_BTR
            ]
        lines.append(f"| {name} | {len(scans)} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines + (["", *worst] if worst else []))


def _paired(a: dict[int, dict], b: dict[int, dict], scans: list[int], key: str) -> str:
    x, y = np.array([a[s][key] for s in scans]), np.array([b[s][key] for s in scans])
    d = y - x
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return f"{x.mean():.3f} → {y.mean():.3f} ({d.mean():+.3f} ± {se:.3f}, {np.mean(d < 0):.0%} better)"


def compare_runs(run_a: str | Path, run_b: str | Path, method_a: str = "model", method_b: str | None = None) -> str:
    """Two runs paired by scan: mean A → mean B (B − A ± its standard error over the scans, the share
    of scans B improves), overall and by group. The standard error does not include the spread
    between training runs."""
    method_b = method_b or method_a
    a, b = _by_method(read_records(run_a), method_a), _by_method(read_records(run_b), method_b)
    for run, method, found in ((run_a, method_a, a), (run_b, method_b, b)):
        if not found:
            raise ParameterError(f"{run}: no records of method {method!r}")
    scans = sorted(set(a) & set(b))
    if not scans:
        raise ParameterError("the two runs share no scan")
    depth = np.array([a[s]["probe_depth_nm"] for s in scans])
    cuts = np.quantile(depth, [1 / 3, 2 / 3])
    groups: list[tuple[str, list[int]]] = [(f"all ({len(scans)})", scans)]
    for field in ("tip_type", "surface_type"):
        for name in sorted({a[s][field] for s in scans}):
            members = [s for s in scans if a[s][field] == name]
            groups.append((f"{name} ({len(members)})", members))
    for label, lo, hi in (("shallowest", -np.inf, cuts[0]), ("middle", cuts[0], cuts[1]), ("deepest", cuts[1], np.inf)):
        members = [s for s, d in zip(scans, depth, strict=True) if lo <= d < hi]
        if members:
            span = f"{max(lo, 0):.1f}–{min(hi, depth.max()):.1f} nm"
            groups.append((f"{label} third of probe depth, {span} ({len(members)})", members))
    lines = [
        f"A = {run_a} ({method_a}), B = {run_b} ({method_b}); mean A → mean B (B − A ± standard error, share B better)",
        "",
        "| scans | tip RMSE (nm) | surface RMSE (nm) |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | " + " | ".join(_paired(a, b, m, k) for k in METRICS) + " |" for label, m in groups]
    return "\n".join(lines)
