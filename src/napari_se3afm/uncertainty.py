"""Calibrating the model's Monte-Carlo-dropout σ so that it means what it says.

Raw dropout spread is not a calibrated standard deviation. On the SimTip validation split (never
the test split) one factor per output is fitted, the one that minimises the Gaussian negative
log-likelihood of the actual errors: ``s² = mean(e² / σ²)`` (closed form). It is stored in the
model's JSON sidecar as ``sigma_scale`` and applied by :func:`napari_se3afm.reconstruct`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .progress import Progress, ProgressGenerator, run_to_completion

__all__ = ["calibrate_model", "iter_calibrate_model", "nll_scale"]


def nll_scale(error: np.ndarray, sigma: np.ndarray) -> float:
    """The factor ``s`` minimising the Gaussian NLL of ``error`` under ``N(0, (s σ)²)``."""
    e = np.asarray(error, dtype=np.float64).ravel()
    s = np.asarray(sigma, dtype=np.float64).ravel()
    keep = s > 0
    return float(np.sqrt(np.mean((e[keep] / s[keep]) ** 2))) if keep.any() else 1.0


def iter_calibrate_model(weights: str | Path, n: int = 64, samples: int = 8) -> ProgressGenerator[dict]:
    """Fit ``sigma_scale`` on ``n`` validation scans and write it into the model's sidecar."""
    import torch

    from .metrics import probe_depth
    from .pipeline import reconstruct
    from .registry import find_model, load_model
    from .simtip import SPLIT_SEEDS, SimTipConfig, simulate

    path = find_model(weights)
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    meta.pop("sigma_scale", None)  # fit on the raw spread
    sidecar.write_text(json.dumps(meta, indent=1))
    k = load_model(path).config.tip_px
    train_sim = meta.get("train_config", {}).get("simtip", {})
    cfg = SimTipConfig(image_px=int(train_sim.get("image_px", 128)), tip_px=k)
    surf_e, surf_s, tip_e, tip_s = [], [], [], []
    for i in range(int(n)):
        b = simulate([i], seed=SPLIT_SEEDS["validation"], config=cfg, dtype=torch.float64)
        r = reconstruct(b.image[0].numpy(), float(b.pixel_nm[0]), method="model", model=str(path),
                        mc_samples=samples, levelling=(), device="cpu")
        truth = b.surface[0].numpy()
        m = k - 1
        surf_e.append((r.surface - truth)[m:-m, m:-m])
        surf_s.append(r.surface_std[m:-m, m:-m])
        depth = probe_depth(truth, k)
        tip_e.append(np.maximum(r.tip, -depth) - np.maximum(b.tip[0].numpy(), -depth))
        tip_s.append(r.tip_std)
        yield Progress(i + 1, int(n), "calibrating σ on the validation split")
    meta["sigma_scale"] = {"surface": nll_scale(np.concatenate([e.ravel() for e in surf_e]),
                                                np.concatenate([s.ravel() for s in surf_s])),
                           "tip": nll_scale(np.concatenate([e.ravel() for e in tip_e]),
                                            np.concatenate([s.ravel() for s in tip_s])),
                           "validation_scans": int(n), "mc_samples": int(samples)}
    sidecar.write_text(json.dumps(meta, indent=1))
    return meta["sigma_scale"]


def calibrate_model(weights: str | Path, n: int = 64, samples: int = 8) -> dict:
    """Run :func:`iter_calibrate_model` to completion."""
    return run_to_completion(iter_calibrate_model(weights, n, samples))
