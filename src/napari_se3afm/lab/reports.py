"""What a release is judged by, from the ``records.json`` of ``se3afm lab bench`` runs, as markdown.

* :func:`summary_table`: one row per run and method — mean, median and worst tip and surface RMSE,
  their ratio to classical BTR's on the same scans, time per scan;
* :func:`calibration_table`: the σ maps' ECE per scan (median, 90th percentile) and pooled, and how
  much of the error σ covers on the worst scans;
* :func:`per_scan_table`: model against BTR scan by scan — median and worst ratio, the scans worse
  than 1.5 × BTR counted, and the worst scans listed with what describes them;
* :func:`compare_runs`: two runs of the same scans paired scan by scan (an A/B of two models or
  settings), overall, by tip type, by surface type and by thirds of the probe depth.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ParameterError

__all__ = ["WORSE_THAN_BTR", "calibration_table", "compare_runs", "per_scan_table", "read_records", "summary_table"]

#: a scan whose error exceeds classical BTR's by this factor is counted by :func:`per_scan_table`
WORSE_THAN_BTR = 1.5
#: the scans of largest error that :func:`per_scan_table` lists and whose σ coverage
#: :func:`calibration_table` reports
WORST_SCANS = 10
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


def _methods(data: dict) -> list[str]:
    return data.get("methods") or sorted({r["method"] for r in data["records"]})


def _spread(values: np.ndarray) -> str:
    return f"{values.mean():.3f} / {np.median(values):.3f} / {values.max():.3f}"


def summary_table(runs: list[str | Path]) -> str:
    """One row per run and method: tip and surface RMSE mean / median / worst scan, the means' ratio
    to classical BTR's on the same scans, time per scan (needs each run to hold classical BTR: the
    reference)."""
    lines = [
        "| run | method | scans | tip RMSE mean / median / worst (nm) | × BTR "
        "| surface RMSE mean / median / worst (nm) | × BTR | s per scan median / max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        data = read_records(run)
        btr = _by_method(data, "btr")
        if not btr:
            raise ParameterError(f"{run}: no classical BTR records to compare with (run --methods btr,...)")
        name = _run_name(run)
        for method in _methods(data):
            recs = list(_by_method(data, method).values())
            tip, surf = (np.array([r[k] for r in recs]) for k in METRICS)
            ref_tip = np.mean([btr[r["scan"]]["tip_rmse"] for r in recs if r["scan"] in btr])
            ref_surf = np.mean([btr[r["scan"]]["surface_rmse"] for r in recs if r["scan"] in btr])
            secs = np.array([r["time_s"] for r in recs])
            lines.append(
                f"| {name} | {method} | {len(recs)} | {_spread(tip)} | {tip.mean() / ref_tip:.2f} | "
                f"{_spread(surf)} | {surf.mean() / ref_surf:.2f} | {np.median(secs):.2f} / {secs.max():.2f} |"
            )
    return "\n".join(lines)


def _ece_cell(recs: list[dict], quantity: str) -> str:
    ece = np.array([r[f"{quantity}_ece"] for r in recs if r.get(f"{quantity}_ece") is not None])
    return f"{np.median(ece):.3f} / {np.percentile(ece, 90):.3f}" if ece.size else "–"


def _worst_coverage(recs: list[dict], quantity: str) -> str:
    """The share of pixels within 2σ, averaged over the :data:`WORST_SCANS` scans of largest RMSE."""
    scored = [r for r in recs if r.get(f"{quantity}_within_2sigma") is not None]
    worst = sorted(scored, key=lambda r: r[f"{quantity}_rmse"], reverse=True)[:WORST_SCANS]
    return f"{np.mean([r[f'{quantity}_within_2sigma'] for r in worst]):.0%}" if worst else "–"


def calibration_table(runs: list[str | Path]) -> str:
    """One row per run and method with σ maps: the ECE of each scan's σ against its own errors
    (median and 90th percentile over scans), pooled over all pixels of all scans, and the share of
    errors within 2σ on the :data:`WORST_SCANS` scans of largest error; empty where no run has σ."""
    lines = [
        "| run | method | surface ECE per scan median / p90 | tip ECE per scan median / p90 "
        f"| pooled surface / tip | within 2σ on the {WORST_SCANS} worst scans: surface / tip |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        data = read_records(run)
        for method in _methods(data):
            recs = list(_by_method(data, method).values())
            if not any(r.get("surface_ece") is not None for r in recs):
                continue
            pooled = data.get("pooled", {}).get(method, {})
            pooled_cell = (
                f"{pooled['surface_ece']:.3f} / {pooled['tip_ece']:.3f}"
                if {"surface_ece", "tip_ece"} <= set(pooled)
                else "–"
            )
            lines.append(
                f"| {_run_name(run)} | {method} | {_ece_cell(recs, 'surface')} | {_ece_cell(recs, 'tip')} | "
                f"{pooled_cell} | {_worst_coverage(recs, 'surface')} / {_worst_coverage(recs, 'tip')} |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def _tip_cell(record: dict | None) -> str:
    """A tip error with its signed bias (− sharper than the truth, + blunter), or – without a record."""
    if record is None:
        return "–"
    bias = record.get("tip_bias")
    return f"{record['tip_rmse']:.2f}" + (f" ({bias:+.1f})" if bias is not None else "")


def per_scan_table(runs: list[str | Path], method: str = "model") -> str:
    """``method`` against classical BTR scan by scan: the ratio's median and maximum and the scans
    worse than :data:`WORSE_THAN_BTR` × BTR counted; then, per run, the :data:`WORST_SCANS` scans of
    largest tip ratio with their families, pixel size, probe depth and the tip errors (signed bias in
    brackets) of ``method``, BTR and the needle where the run has it."""
    lines = [
        f"| run | scans | tip: ratio median / max, scans > {WORSE_THAN_BTR:g} × BTR "
        f"| surface: ratio median / max, scans > {WORSE_THAN_BTR:g} × BTR |",
        "|---|---|---|---|",
    ]
    worst = []
    for run in runs:
        data = read_records(run)
        ours, btr, needle = (_by_method(data, m) for m in (method, "btr", "needle"))
        scans = sorted(set(ours) & set(btr))
        if not scans:
            raise ParameterError(f"{run}: no scan has both {method} and btr records")
        name = _run_name(run)
        cells = []
        for key in METRICS:
            ratio = np.array([ours[s][key] / max(btr[s][key], 1e-9) for s in scans])
            cells.append(f"{np.median(ratio):.2f} / {ratio.max():.2f}, {int((ratio > WORSE_THAN_BTR).sum())}")
        lines.append(f"| {name} | {len(scans)} | {cells[0]} | {cells[1]} |")
        tip_ratio = {s: ours[s]["tip_rmse"] / max(btr[s]["tip_rmse"], 1e-9) for s in scans}
        worst += [
            "",
            f"{name}: the {min(WORST_SCANS, len(scans))} scans of largest tip error over BTR's (nm; signed bias)",
            "",
            f"| scan | tip, surface | pixel (nm) | probe depth (nm) | {method} | BTR | needle | × BTR |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in sorted(scans, key=tip_ratio.get, reverse=True)[:WORST_SCANS]:
            r = ours[s]
            worst.append(
                f"| {s} | {r['tip_type']}, {r['surface_type']} | {r['pixel_nm']:.2f} | {r['probe_depth_nm']:.1f} | "
                f"{_tip_cell(r)} | {_tip_cell(btr[s])} | {_tip_cell(needle.get(s))} | {tip_ratio[s]:.2f} |"
            )
    return "\n".join(lines + worst)


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
