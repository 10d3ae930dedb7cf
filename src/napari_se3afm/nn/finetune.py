"""Per-scan fine-tuning: adapt a pretrained model to the scan at hand, with no ground truth.

The loss is what one scan can tell: the misfit of the reconstruction through the simulator beyond
``noise_tolerance`` times the image's estimated noise, ``‖relu(|dilate(Ŝ, P̂) − I| − 2σ_n)‖² / (var I
+ 1 nm²)`` (smaller residuals are noise; fitting them only sharpens the tip towards a needle), a
small surface smoothness term, an optional reward for a blunter tip (``bluntness``; BTR's principle:
the bluntest tip the image allows) and a pull towards the pretrained weights,
``prior_strength · mean((θ − θ₀)²) / mean(θ₀²)``, so a few hundred steps cannot forget what SimTip
taught. By default only the tip network adapts (``adapt="tip"``): the misfit is blind to what the
tip never touched, so letting it move the surface network pulls the surface back up towards the
erosion bound and undoes what supervision taught it (measured in docs/benchmarks.md);
``adapt="all"`` adapts both. Given the blind tip bound (``tip_bound``; the pipeline passes the one
its consistency uses), the tips are clipped to it while fitting, as they will be at inference. The
model is a private copy (the cached pretrained one is never changed); dropout is off while
fitting. The generator yields :class:`Progress` with the loss every step, so a GUI can plot it and
cancel between steps; :func:`finetune` runs it to completion.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ParameterError
from ..image.morphology import dilate
from ..image.noise import estimate_noise
from ..progress import Progress, ProgressGenerator, run_to_completion

__all__ = ["FINETUNE_OPTIONS", "FineTuned", "finetune", "iter_finetune"]


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
    adapt: str = "tip",
    noise_tolerance: float = 2.0,
    bluntness: float = 0.0,
    tip_bound: np.ndarray | None = None,
) -> ProgressGenerator[FineTuned]:
    """Fine-tune a copy of ``model`` on one image (nm, pixel size ``pixel_nm``), yielding progress.

    ``tip_bound``: the blind upper bound the tips are clipped to at inference (K×K, nm), so that the
    fit sees the tips the reconstruction will use."""
    if int(steps) < 1 or not learning_rate > 0 or prior_strength < 0:
        raise ParameterError(
            f"fine-tuning needs steps >= 1, learning rate > 0 and prior strength >= 0; got {steps!r}, "
            f"{learning_rate!r}, {prior_strength!r}"
        )
    if adapt not in ("tip", "all"):
        raise ParameterError(f"fine-tuning adapts 'tip' or 'all', got {adapt!r}")
    torch.manual_seed(seed)
    tuned = copy.deepcopy(model)
    tuned.eval()  # dropout off: the fit follows the data, not random masks
    trained = list((tuned.tip_net if adapt == "tip" else tuned).parameters())
    for p in tuned.parameters():
        p.requires_grad_(False)
    for p in trained:
        p.requires_grad_(True)
    param = trained[0]
    img = torch.as_tensor(np.asarray(image), dtype=param.dtype, device=param.device)[None]
    px = torch.tensor([float(pixel_nm)], dtype=param.dtype, device=param.device)
    bound = (
        None if tip_bound is None else torch.as_tensor(np.asarray(tip_bound), dtype=param.dtype, device=param.device)
    )
    anchors = [p.detach().clone() for p in trained]
    norm = sum(float(a.pow(2).sum()) for a in anchors) / max(1, sum(a.numel() for a in anchors)) or 1.0
    n_params = sum(a.numel() for a in anchors)
    opt = torch.optim.Adam(trained, lr=learning_rate)
    var = img.var() + 1.0
    tolerance = noise_tolerance * estimate_noise(np.asarray(image, dtype=np.float64))
    depth0 = 1.0
    if bluntness:
        with torch.no_grad():
            depth0 = float(-tuned.tip(img, px).mean()) or 1.0
    losses: list[float] = []
    for step in range(1, int(steps) + 1):
        tips, surface = tuned(img, px, tip_bound=bound)
        excess = torch.relu((dilate(surface, tips) - img).abs() - tolerance)
        rec = excess.pow(2).mean() / var
        smooth = (torch.diff(surface, dim=-1).pow(2).mean() + torch.diff(surface, dim=-2).pow(2).mean()) / var
        prior = sum((p - a).pow(2).sum() for p, a in zip(trained, anchors, strict=True)) / n_params / norm
        blunt = -tips.mean() / depth0  # lower = blunter: the bluntest tip the image allows (as BTR)
        loss = rec + smoothness * smooth + prior_strength * prior + bluntness * blunt
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(rec.detach()))
        yield Progress(step, int(steps), "fine-tuning on this scan", loss=losses[-1])
    tuned.eval()
    return FineTuned(model=tuned, losses=losses)


#: the settings of :func:`iter_finetune` a caller of the pipeline may choose (the pipeline gives the
#: model, the scan, the steps and the bound)
FINETUNE_OPTIONS = tuple(
    n
    for n in inspect.signature(iter_finetune).parameters
    if n not in ("model", "image", "pixel_nm", "steps", "tip_bound")
)


def finetune(model: torch.nn.Module, image: np.ndarray, pixel_nm: float, **options) -> FineTuned:
    """Run :func:`iter_finetune` to completion (same arguments)."""
    return run_to_completion(iter_finetune(model, image, pixel_nm, **options))
