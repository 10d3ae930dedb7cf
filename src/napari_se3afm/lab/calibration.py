"""Calibrating the model's σ on the SimTip validation split so that σ means what it says.

The form of σ is :mod:`napari_se3afm.nn.sigma`'s. Why a scale per scan: the errors of one scan and of
the next differ by an order of magnitude (an atomically flat step against a field of particles),
and a σ model with one set of weights for all scans is then too wide on easy scans and too narrow
on hard ones. A per-scan scale chosen with hindsight brings the per-scan ECE of held-out
validation scans from 0.17 to 0.07 (``bench/bench_sigma_terms.py``): the level of σ, not its shape
within a scan, is what is wrong. The level is barely predictable from the scan, though, so most of
the gain is the two-stage fit: ``s = exp(β₀ + Σ β_k z_k)`` is a ridge regression on standardised
logarithms ``z_k`` of the scan statistics, fitted to the scale that makes each validation scan's
median ``|error| / σ`` that of a normal distribution; the weights inside the square root are fitted
first, by the Gaussian likelihood with each scan's scale profiled out, so that they describe only
how errors vary within a scan.

The fit uses validation scans only (never the test split; tip pixels only where the probe depth lets
the error be measured, the fixed apex left out) and is stored with the names of its terms in the
model's JSON sidecar as ``sigma_model``. A model calibrated before the scan scale (or a term)
existed keeps working: its σ has no scale and only its named terms.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np

from ..nn.sigma import SCAN_STATS, SURFACE_TERMS, TIP_TERMS, log_statistics, probe_depth, sigma_inputs
from ..progress import Progress, ProgressGenerator, run_to_completion

__all__ = [
    "calibrate_model",
    "check_calibration_scans",
    "fit_sigma_model",
    "iter_calibrate_model",
    "raw_features",
    "scan_level",
    "validation_config",
]

#: ridge penalty of the scale regression, in units of one scan's squared log-scale error
RIDGE = 1.0
#: scans with fewer measurable pixels than this say too little about their own scale to be fitted on
MIN_SCAN_PIXELS = 16
#: the median of |x| for a standard normal x
_NORMAL_MEDIAN = NormalDist().inv_cdf(0.75)


def scan_level(error: np.ndarray, sigma: np.ndarray) -> float:
    """The log of the factor by which ``sigma`` is off on one scan: 0 when the scan's median
    ``|error| / σ`` is that of a normal distribution. Stage 2 of the fit regresses it."""
    return math.log(max(float(np.median(np.abs(error) / sigma)), 1e-12) / _NORMAL_MEDIAN)


def check_calibration_scans(n: int) -> None:
    """Refuse a calibration on fewer than 2 or more than 100 000 validation scans before any work
    (or file) is done."""
    if not 2 <= int(n) <= 100_000:
        from ..errors import ParameterError

        raise ParameterError(f"the σ calibration takes 2 to 100,000 validation scans, got {n}")


def _fit_shape(errors: list[np.ndarray], features: list[np.ndarray], steps: int) -> np.ndarray:
    """Weights of ``sqrt(Σ (w_k f_k)² + 1)`` by the Gaussian likelihood with each scan's scale profiled out.

    ``features[i]`` is (terms, pixels) for scan ``i``. With the scale of scan ``i`` at its maximum-
    likelihood value, its mean negative log-likelihood is ``½ mean(log v) + ½ log mean(e² / v)`` up to
    a constant. Adam runs on the weights of features scaled to RMS 1, and on the weights themselves
    (their sign is irrelevant) rather than their logarithms: a log-weight's gradient vanishes with the
    weight, so an irrelevant term would only slowly decay towards 0. Deterministic.
    """
    import torch

    e2 = torch.as_tensor(np.concatenate(errors) ** 2, dtype=torch.float64)
    f2 = np.concatenate(features, axis=1) ** 2
    unit = np.sqrt(f2.mean(1))  # fitted on features of RMS 1, so that Adam's step suits every term
    unit = np.where(unit > 0, unit, 1.0)
    f2 = torch.as_tensor(f2 / unit[:, None] ** 2, dtype=torch.float64)
    counts = torch.as_tensor([e.size for e in errors])
    sizes = counts.to(torch.float64)
    scan = torch.repeat_interleave(torch.arange(len(errors)), counts)
    w = torch.ones(f2.shape[0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05)

    def per_scan_mean(x):
        return torch.zeros(len(errors), dtype=torch.float64).index_add(0, scan, x) / sizes

    for _ in range(steps):
        var = ((w**2)[:, None] * f2).sum(0) + 1.0
        nll = (0.5 * per_scan_mean(torch.log(var)) + 0.5 * torch.log(per_scan_mean(e2 / var) + 1e-300)).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
    return w.detach().abs().numpy() / unit


def _fit_scale(log_scales: np.ndarray, log_stats: np.ndarray) -> dict:
    """Ridge regression of each scan's log-scale on its standardised log-statistics."""
    mean, std = log_stats.mean(0), log_stats.std(0)
    std = np.where(std > 0, std, 1.0)
    z = np.c_[(log_stats - mean) / std, np.ones(len(log_stats))]
    penalty = RIDGE * np.diag([1.0] * log_stats.shape[1] + [0.0])
    beta = np.linalg.solve(z.T @ z + penalty, z.T @ log_scales)
    return {
        "stats": list(SCAN_STATS),
        "mean": mean.tolist(),
        "std": std.tolist(),
        "coef": beta[:-1].tolist(),
        "bias": float(beta[-1]),
        "log_range": [float(log_scales.min()), float(log_scales.max())],
    }


def fit_sigma_model(
    errors: list[np.ndarray], features: list[np.ndarray], stats: list[dict[str, float]], steps: int = 500
) -> dict:
    """Fit the σ model of one quantity (surface or tip) on validation scans.

    ``errors[i]``: the errors of scan ``i`` (nm, 1-D); ``features[i]``: its features on the same
    pixels, (terms, pixels); ``stats[i]``: its :func:`scan_statistics`. Returns ``weights``,
    ``floor_nm`` (the shape's floor, 1: the scale carries the units) and ``scale``.
    """
    keep = [i for i, e in enumerate(errors) if e.size >= MIN_SCAN_PIXELS]
    if len(keep) < 2:
        from ..errors import ParameterError

        raise ParameterError(
            f"the σ fit needs at least 2 scans with {MIN_SCAN_PIXELS} measurable pixels, got {len(keep)}"
        )
    errors, features, stats = [errors[i] for i in keep], [features[i] for i in keep], [stats[i] for i in keep]
    w = _fit_shape(errors, features, steps)
    log_scales = [
        scan_level(e, np.sqrt(((w[:, None] * f) ** 2).sum(0) + 1.0)) for e, f in zip(errors, features, strict=True)
    ]
    scale = _fit_scale(np.asarray(log_scales), np.stack([log_statistics(s, SCAN_STATS) for s in stats]))
    return {"weights": [float(v) for v in w], "floor_nm": 1.0, "scale": scale}


def raw_features(r) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float]]:
    """:func:`sigma_inputs` of a model reconstruction made with ``calibrated_sigma=False``."""
    from ..image.morphology import erode

    return sigma_inputs(
        r.image,
        r.surface,
        r.tip,
        erode(r.image, r.tip),
        surface_std_mc=r.surface_std,
        tip_std_mc=r.tip_std,
        noise_nm=r.info["noise_nm"],
        pixel_nm=math.sqrt(r.pixel_nm[0] * r.pixel_nm[1]),
    )


def iter_calibrate_model(weights: str | Path, n: int = 256, samples: int = 8) -> ProgressGenerator[dict]:
    """Fit the σ models on ``n`` validation scans and write them into the model's sidecar.

    The sidecar is rewritten (atomically) only once the fit is done: a calibration stopped early
    leaves the previous σ model in place.
    """
    from ..io.atomic import atomic_write
    from ..nn.registry import find_model

    check_calibration_scans(n)
    path = find_model(weights)
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    result = yield from _collect_and_fit(path, meta, n, samples)
    meta["sigma_model"] = result
    atomic_write(sidecar, lambda tmp: tmp.write_text(json.dumps(meta, indent=1)), overwrite=True)
    return result


def validation_config(meta: dict):
    """The SimTip configuration of a model's validation scans (its sidecar ``meta``): the distribution
    it was trained on, pixel sizes included, with its tip size."""
    from .simtip import config_from_dict

    return config_from_dict({**meta.get("train_config", {}).get("simtip", {}), "tip_px": meta["config"]["tip_px"]})


def _collect_and_fit(path: Path, meta: dict, n: int, samples: int) -> ProgressGenerator[dict]:
    """Reconstruct ``n`` validation scans with the raw spread and fit both σ models.

    The scans are reconstructed as users get them (the default consistency), so σ is fitted to the
    errors of that output."""
    import torch

    from ..nn.consistency import DEFAULT_CONSISTENCY
    from ..nn.registry import load_model
    from ..pipeline import reconstruct
    from .metrics import measurable_tip_difference
    from .simtip import SPLIT_SEEDS, simulate

    k = load_model(path).config.tip_px
    cfg = validation_config(meta)
    m = k - 1
    fits = {"surface": ([], [], []), "tip": ([], [], [])}  # errors, features, statistics per scan
    for i in range(int(n)):
        b = simulate([i], seed=SPLIT_SEEDS["validation"], config=cfg, dtype=torch.float64)
        r = reconstruct(
            b.image[0].numpy(),
            float(b.pixel_nm[0]),
            method="model",
            model=str(path),
            mc_samples=samples,
            levelling=(),
            device="auto",
            calibrated_sigma=False,
        )
        truth = b.surface[0].numpy()
        surface, tip, stats = raw_features(r)
        _append(
            fits["surface"], (r.surface - truth)[m:-m, m:-m], [surface[t][m:-m, m:-m] for t in SURFACE_TERMS], stats
        )
        diff, seen = measurable_tip_difference(r.tip, b.tip[0].numpy(), probe_depth(truth, k))
        seen[k // 2, k // 2] = False  # the apex is fixed: no σ, no error
        _append(fits["tip"], diff[seen], [tip[t][seen] for t in TIP_TERMS], stats)
        yield Progress(i + 1, int(n), "calibrating σ on the validation split")
    return {
        "surface": {"terms": list(SURFACE_TERMS), **fit_sigma_model(*fits["surface"])},
        "tip": {"terms": list(TIP_TERMS), **fit_sigma_model(*fits["tip"])},
        "validation_scans": int(n),
        "mc_samples": int(samples),
        "consistency": DEFAULT_CONSISTENCY,
    }


def _append(fit: tuple[list, list, list], error: np.ndarray, features: list[np.ndarray], stats: dict) -> None:
    fit[0].append(np.ravel(error))
    fit[1].append(np.stack([np.ravel(f) for f in features]))
    fit[2].append(stats)


def calibrate_model(weights: str | Path, n: int = 256, samples: int = 8) -> dict:
    """Run :func:`iter_calibrate_model` to completion."""
    return run_to_completion(iter_calibrate_model(weights, n, samples))
