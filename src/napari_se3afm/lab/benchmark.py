"""The SimTip benchmark: run methods on a split, score every scan, and write the paper's tables.

Each scan gives one record per method: tip RMSE/MAE (clipped at the scan's probe depth), surface
RMSE/SSIM (``K - 1`` pixels from the border, where no method leans on replicated pixels), the
calibration of σ when the method gives one, plausibility violations, time and peak memory. Tables
(mean ± standard deviation over scans): overall (the paper's Table 2), by tip type (Table 3), by
surface type (Table 4), uncertainty calibration (Table 6) and compute (Table 8).
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..image.noise import estimate_noise
from ..io.atomic import atomic_write
from ..progress import Progress, ProgressGenerator, run_to_completion
from .baselines import BASELINES, DEFAULT_METHODS, run_method
from .metrics import (
    calibration,
    measurable_tip_difference,
    plausibility,
    probe_depth,
    surface_errors,
    tip_errors,
)
from .simtip.config import SURFACE_TYPES, TIP_TYPES
from .simtip.storage import SimTipSplit

__all__ = ["DEFAULT_METHODS", "BenchmarkResult", "benchmark", "iter_benchmark", "tables_markdown"]


class _PeakMemory:
    """Peak resident memory above the starting level while a block runs (sampled every 2 ms, Linux)."""

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self.peak_mb = float("nan")

    def _rss(self) -> int | None:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * self._page
        except (OSError, ValueError, IndexError):
            return None

    def __enter__(self) -> _PeakMemory:
        self._start = self._rss()
        self._max = self._start or 0
        self._stop = threading.Event()
        if self._start is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._max = max(self._max, self._rss() or 0)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._start is not None:
            self._thread.join()
            self._max = max(self._max, self._rss() or 0)
            self.peak_mb = (self._max - self._start) / 2**20


@dataclass
class BenchmarkResult:
    """Per-scan records (one dict per method and scan) and how they were obtained."""

    records: list[dict]
    methods: list[str]
    n_scans: int
    environment: dict
    #: per method, calibration over all pixels of all scans together (:func:`pooled_calibration`)
    pooled: dict = field(default_factory=dict)


def _environment() -> dict:
    import torch

    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,  # where the model runs
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _calibration(error: np.ndarray, sigma: np.ndarray, pool: list | None = None) -> dict[str, float]:
    """Calibration over the pixels with σ > 0 (the tip's apex is fixed at 0 by convention: no σ there);
    the pixels are also added to ``pool`` for :func:`pooled_calibration`."""
    keep = sigma > 0
    if keep.sum() < 2:
        return {}
    if pool is not None:
        pool.append((error[keep].ravel(), sigma[keep].ravel()))
    return calibration(error[keep], sigma[keep])


def pooled_calibration(pool: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """:func:`calibration` of all (error, σ) pairs of all scans together.

    The per-scan figures ask whether σ is right within each scan, which also needs the scan's overall
    error level to be right; pooled, they ask whether σ is right over the whole split, the usual
    definition of a regression ECE. Both are reported (docs/benchmarks.md)."""
    if not pool:
        return {}
    return calibration(np.concatenate([e for e, _ in pool]), np.concatenate([s for _, s in pool]))


def iter_benchmark(
    split: SimTipSplit,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    limit: int | None = None,
    model: str | None = None,
    consistency: str | None = None,
) -> ProgressGenerator[BenchmarkResult]:
    """Score ``methods`` on the scans of ``split`` (the first ``limit`` only, if given); ``model`` and
    ``consistency`` choose the weights and the consistency of the ``"model"`` method (defaults: the
    pipeline's)."""
    methods = list(methods)
    unknown = [m for m in methods if m not in BASELINES]
    if unknown:
        raise ParameterError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(BASELINES)}")
    n = len(split) if limit is None else min(len(split), int(limit))
    if n < 1:
        raise ParameterError("the benchmark needs at least one scan")
    records: list[dict] = []
    pools: dict[tuple[str, str], list] = {(m, q): [] for m in methods for q in ("surface", "tip")}
    total = n * len(methods)
    for i in range(n):
        image = split.image[i].astype(np.float64)
        truth = split.surface[i].astype(np.float64)
        true_tip = split.tip[i].astype(np.float64)
        k = true_tip.shape[0]
        depth = probe_depth(truth, k)
        noise = estimate_noise(image)
        for j, name in enumerate(methods):
            start = time.perf_counter()
            with _PeakMemory() as mem:
                out = run_method(
                    name, image, k, true_tip, float(split.pixel_nm[i]), model=model, consistency=consistency
                )
            rec = {
                "method": name,
                "scan": int(split.indices[i]),
                "tip_type": split.tip_type[i],
                "surface_type": split.surface_type[i],
                "pixel_nm": float(split.pixel_nm[i]),
                "probe_depth_nm": depth,
                "time_s": time.perf_counter() - start,
                "peak_mb": mem.peak_mb,
            }
            rec.update(surface_errors(out.surface, truth, border=k - 1))
            if out.tip is not None:
                rec.update(tip_errors(out.tip, true_tip, depth))
            if out.surface_std is not None:
                err = (out.surface - truth)[k - 1 : -(k - 1), k - 1 : -(k - 1)]
                sig = out.surface_std[k - 1 : -(k - 1), k - 1 : -(k - 1)]
                rec.update({f"surface_{key}": v for key, v in _calibration(err, sig, pools[name, "surface"]).items()})
            if out.tip_std is not None:
                diff, seen = measurable_tip_difference(out.tip, true_tip, depth)
                rec.update(
                    {
                        f"tip_{key}": v
                        for key, v in _calibration(diff[seen], out.tip_std[seen], pools[name, "tip"]).items()
                    }
                )
            rec.update(plausibility(out.surface, out.tip, image, noise, border=k - 1))
            records.append(rec)
            yield Progress(i * len(methods) + j + 1, total, f"scan {i + 1}/{n}: {name}")
    pooled = {
        m: {f"{q}_{key}": v for q in ("surface", "tip") for key, v in pooled_calibration(pools[m, q]).items()}
        for m in methods
    }
    return BenchmarkResult(
        records=records,
        methods=methods,
        n_scans=n,
        environment=_environment(),
        pooled={m: v for m, v in pooled.items() if v},
    )


def benchmark(split: SimTipSplit, methods: Sequence[str] = DEFAULT_METHODS, **options) -> BenchmarkResult:
    """Run :func:`iter_benchmark` to completion (same arguments)."""
    return run_to_completion(iter_benchmark(split, methods, **options))


def _cell(values: list[float], digits: int = 3) -> str:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return "–"
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def _table(records: list[dict], methods: list[str], columns: list[tuple[str, str, int]]) -> list[str]:
    lines = ["| method | " + " | ".join(c[1] for c in columns) + " |", "|---|" + "---|" * len(columns)]
    for m in methods:
        rows = [r for r in records if r["method"] == m]
        cells = [_cell([r.get(key) for r in rows], digits) for key, _, digits in columns]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def _relative(records: list[dict], methods: list[str], key: str, reference: str = "btr") -> dict[str, str]:
    ref = [r.get(key) for r in records if r["method"] == reference and r.get(key) is not None]
    out = {}
    for m in methods:
        vals = [r.get(key) for r in records if r["method"] == m and r.get(key) is not None]
        if ref and vals and np.mean(ref) > 0:
            out[m] = f"{100 * (1 - np.mean(vals) / np.mean(ref)):+.0f} %"
        else:
            out[m] = "–"
    return out


def tables_markdown(result: BenchmarkResult, title: str = "SimTip benchmark") -> str:
    """Render the paper's tables (2, 3, 4, 6, 8) as markdown, mean ± std over scans."""
    rec, methods = result.records, result.methods
    out = [f"### {title}: {result.n_scans} scans", ""]
    out += [
        "**Overall (Table 2).** Tip errors are clipped at each scan's probe depth; surface errors "
        "exclude K − 1 border pixels. The second table gives each method's reduction of the mean RMSE against "
        "classical BTR (positive: better than BTR; the paper's headline is +72 % for the tip and +50 % for the "
        "surface).",
        "",
    ]
    out += _table(
        rec,
        methods,
        [
            ("tip_rmse", "tip RMSE (nm)", 3),
            ("tip_mae", "tip MAE (nm)", 3),
            ("surface_rmse", "surface RMSE (nm)", 3),
            ("surface_ssim", "surface SSIM", 3),
        ],
    )
    tip_rel, surf_rel = _relative(rec, methods, "tip_rmse"), _relative(rec, methods, "surface_rmse")
    out += ["", "| method | tip RMSE reduction vs BTR | surface RMSE reduction vs BTR |", "|---|---|---|"]
    out += [f"| {m} | {tip_rel[m]} | {surf_rel[m]} |" for m in methods]
    for label, key, groups, table in (
        ("tip type", "tip_type", TIP_TYPES, 3),
        ("surface type", "surface_type", SURFACE_TYPES, 4),
    ):
        out += ["", f"**By {label} (Table {table}).** tip RMSE / surface RMSE in nm (number of scans).", ""]
        present = [g for g in groups if any(r[key] == g for r in rec)]
        out += [
            "| method | "
            + " | ".join(f"{g} ({sum(1 for r in rec if r[key] == g and r['method'] == methods[0])})" for g in present)
            + " |",
            "|---|" + "---|" * len(present),
        ]
        for m in methods:
            cells = []
            for g in present:
                rows = [r for r in rec if r["method"] == m and r[key] == g]
                cells.append(
                    f"{_cell([r.get('tip_rmse') for r in rows], 2)} / {_cell([r.get('surface_rmse') for r in rows], 2)}"
                )
            out.append(f"| {m} | " + " | ".join(cells) + " |")
    cal = [m for m in methods if any("surface_ece" in r or "tip_ece" in r for r in rec if r["method"] == m)]
    out += ["", "**Uncertainty calibration (Table 6).**", ""]
    if cal:
        out += ["Per scan (mean ± std over scans): σ must be right within each scan, its overall level included.", ""]
        out += _table(
            rec,
            cal,
            [
                ("surface_ece", "surface ECE", 3),
                ("surface_nll", "surface NLL", 2),
                ("surface_spearman", "ρ(σ, |err|)", 2),
                ("tip_ece", "tip ECE", 3),
                ("tip_spearman", "tip ρ", 2),
            ],
        )
        pooled = [m for m in cal if m in result.pooled]
        if pooled:
            out += [
                "",
                "Pooled over all pixels of all scans (the usual regression ECE).",
                "",
                "| method | surface ECE | ρ(σ, |err|) | tip ECE | tip ρ |",
                "|---|---|---|---|---|",
            ]
            for m in pooled:
                v = result.pooled[m]
                out.append(
                    f"| {m} | "
                    + " | ".join(
                        f"{v[key]:.{d}f}" if key in v else "–"
                        for key, d in (("surface_ece", 3), ("surface_spearman", 2), ("tip_ece", 3), ("tip_spearman", 2))
                    )
                    + " |"
                )
    else:
        out.append("None of these methods gives an uncertainty.")
    out += [
        "",
        "**Physical plausibility.** Fraction of tip pixels above the apex and of surface "
        "pixels above the erosion bound (+3σ noise).",
        "",
    ]
    out += _table(
        rec, methods, [("tip_above_apex", "tip above apex", 4), ("surface_above_bound", "surface above bound", 4)]
    )
    env = result.environment
    gpu = f" (the model on {env['gpu']}; its GPU memory is not counted)" if env.get("gpu") else ""
    out += [
        "",
        f"**Compute (Table 8).** Per 128² image on {env.get('cpu')} with "
        f"{env.get('cpu_threads')} torch thread(s){gpu}; peak memory is resident memory above the "
        "level at the start of the call.",
        "",
    ]
    out += _table(rec, methods, [("time_s", "time per image (s)", 3), ("peak_mb", "peak memory (MB)", 1)])
    return "\n".join(out) + "\n"


def write_results(
    result: BenchmarkResult, outdir: str | Path, *, overwrite: bool = False, title: str = "SimTip benchmark"
) -> tuple[Path, Path]:
    """Write ``records.json`` and ``tables.md`` into ``outdir`` (created if needed)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    payload = {
        "methods": result.methods,
        "n_scans": result.n_scans,
        "environment": result.environment,
        "records": result.records,
        "pooled": result.pooled,
    }
    rec_path = atomic_write(
        outdir / "records.json", lambda p: p.write_text(json.dumps(payload, indent=1)), overwrite=overwrite
    )
    md = tables_markdown(result, title)
    md_path = atomic_write(outdir / "tables.md", lambda p: p.write_text(md), overwrite=overwrite)
    return rec_path, md_path
