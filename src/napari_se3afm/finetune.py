"""Per-scan fine-tuning: adapt a pretrained model to the scan at hand, with no ground truth.

The loss is what one scan can tell: the reconstruction through the simulator,
``‖dilate(Ŝ, P̂) − I‖² / (var I + 1 nm²)``, a small surface smoothness term, and a pull towards the
pretrained weights, ``prior_strength · mean((θ − θ₀)²) / mean(θ₀²)``, so a few hundred steps cannot
forget what SimTip taught. The model is a private copy (the cached pretrained one is never
changed); dropout is off while fitting. The generator yields :class:`Progress` with the loss every
step, so a GUI can plot it and cancel between steps; :func:`finetune` runs it to completion.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from .errors import ParameterError
from .morphology import dilate
from .progress import Progress, ProgressGenerator, run_to_completion

__all__ = ["FineTuned", "finetune", "iter_finetune"]


@dataclass
class FineTuned:
    """The fine-tuned model copy and the loss of every step."""

    model: torch.nn.Module
    losses: list[float]


def iter_finetune(
    model: torch.nn.Module,
    image: np.ndarray,
    pixel_nm: float,
    *,
    steps: int = 100,
    learning_rate: float = 1e-4,
    prior_strength: float = 1.0,
    smoothness: float = 0.01,
    seed: int = 0,
) -> ProgressGenerator[FineTuned]:
    """Fine-tune a copy of ``model`` on one image (nm, pixel size ``pixel_nm``), yielding progress."""
    if int(steps) < 1 or not learning_rate > 0 or prior_strength < 0:
        raise ParameterError(
            f"fine-tuning needs steps >= 1, learning rate > 0 and prior strength >= 0; got {steps!r}, "
            f"{learning_rate!r}, {prior_strength!r}"
        )
    torch.manual_seed(seed)
    tuned = copy.deepcopy(model)
    tuned.eval()  # dropout off: the fit follows the data, not random masks
    param = next(tuned.parameters())
    img = torch.as_tensor(np.asarray(image), dtype=param.dtype, device=param.device)[None]
    px = torch.tensor([float(pixel_nm)], dtype=param.dtype, device=param.device)
    anchors = [p.detach().clone() for p in tuned.parameters()]
    norm = sum(float(a.pow(2).sum()) for a in anchors) / max(1, sum(a.numel() for a in anchors)) or 1.0
    n_params = sum(a.numel() for a in anchors)
    opt = torch.optim.Adam(tuned.parameters(), lr=learning_rate)
    var = img.var() + 1.0
    losses: list[float] = []
    for step in range(1, int(steps) + 1):
        tips, surface = tuned(img, px)
        rec = (dilate(surface, tips) - img).pow(2).mean() / var
        smooth = (torch.diff(surface, dim=-1).pow(2).mean() + torch.diff(surface, dim=-2).pow(2).mean()) / var
        prior = sum((p - a).pow(2).sum() for p, a in zip(tuned.parameters(), anchors, strict=True)) / n_params / norm
        loss = rec + smoothness * smooth + prior_strength * prior
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(rec.detach()))
        yield Progress(step, int(steps), "fine-tuning on this scan", loss=losses[-1])
    tuned.eval()
    return FineTuned(model=tuned, losses=losses)


def finetune(model: torch.nn.Module, image: np.ndarray, pixel_nm: float, **options) -> FineTuned:
    """Run :func:`iter_finetune` to completion (same arguments)."""
    return run_to_completion(iter_finetune(model, image, pixel_nm, **options))
