"""Differentiable blind tip reconstruction: gradient descent on the opening residual.

The tip ``P`` is optimised so that the opening ``dilate(erode(I, P), P)`` reproduces the image in the
least-squares sense wherever the misfit exceeds twice the estimated noise, with ``P <= 0`` and
``P[c, c] = 0`` enforced by projection after every step.
The erosion is the true adjoint of the dilation (the same, unmirrored ``P``; see
:mod:`napari_se3afm.image.morphology`), so an asymmetric tip is never fitted as its mirror image.

Gradients of a max flow only to the winning offset, so from a flat start the tip centre never wins
and never moves. The default start is therefore the classical estimate (:func:`~napari_se3afm.classical.btr.blind_tip`),
which descent then makes less noise-bound; ``initial="flat"`` or an explicit array are available.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..device import resolve_device
from ..errors import ParameterError
from ..image.morphology import dilate, erode
from ..image.noise import estimate_noise
from ..progress import Progress, ProgressGenerator, run_to_completion
from ..tip.shapes import in_tip_convention
from .btr import blind_tip

__all__ = ["DifferentiableTipResult", "differentiable_tip", "iter_differentiable_tip"]

#: Residuals below this many noise standard deviations are not evidence against the tip: fitting them
#: would only sharpen the tip towards a needle (measured; see docs/benchmarks.md).
NOISE_TOLERANCE = 2.0


@dataclass(frozen=True)
class DifferentiableTipResult:
    """Tip estimate of differentiable BTR and its loss history (mean squared excess residual / std²)."""

    tip: np.ndarray
    losses: list[float]


def iter_differentiable_tip(
    image: np.ndarray,
    tip_size: int,
    *,
    steps: int = 200,
    learning_rate: float = 0.01,
    initial: str | np.ndarray = "btr",
    device: str = "auto",
    seed: int = 0,
) -> ProgressGenerator[DifferentiableTipResult]:
    """Refine a tip by Adam on the opening residual, yielding :class:`Progress` every step.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Levelled AFM image in nm.
    tip_size : int
        Odd tip window in pixels.
    steps : int
        Optimiser steps.
    learning_rate : float
        Adam step size as a fraction of the image's standard deviation.
    initial : "btr", "flat" or ndarray
        Starting tip: the classical estimate (default), ``P = 0``, or a given height map.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``.
    seed : int
        Seed for reproducibility (the computation is deterministic given the start).
    """
    k = int(tip_size)
    if steps < 0 or not learning_rate > 0:
        raise ParameterError(f"steps must be >= 0 and learning rate > 0, got {steps!r}, {learning_rate!r}")
    z = np.asarray(image, dtype=np.float64)
    if isinstance(initial, str):
        if initial == "btr":
            start = blind_tip(z, k).tip
        elif initial == "flat":
            start = np.zeros((k, k))
        else:
            raise ParameterError(f"initial must be 'btr', 'flat' or an array, got {initial!r}")
    else:
        start = np.minimum(np.asarray(initial, dtype=np.float64), 0.0)
        if start.shape != (k, k):
            raise ParameterError(f"initial tip has shape {start.shape}, expected {(k, k)}")
    torch.manual_seed(seed)
    dev = resolve_device(device)
    img = torch.tensor(z, device=dev)
    scale = float(img.std()) or 1.0
    # the floor keeps rounding-level residuals out: Adam would blow their tiny gradients up to full steps
    tolerance = max(NOISE_TOLERANCE * estimate_noise(z), 1e-9 * scale)
    c = k // 2
    keep = torch.ones((k, k), dtype=img.dtype, device=dev)
    keep[c, c] = 0.0
    theta = torch.tensor(start, device=dev, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=learning_rate * scale)
    losses: list[float] = []
    for step in range(1, steps + 1):
        tip = theta * keep
        residual = img - dilate(erode(img, tip), tip)
        loss = (torch.relu(residual - tolerance) / scale).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            theta.clamp_(max=0.0)
        losses.append(float(loss.detach()))
        yield Progress(step, steps, "differentiable BTR", loss=losses[-1])
    return DifferentiableTipResult(tip=in_tip_convention((theta * keep).detach().cpu().numpy()), losses=losses)


def differentiable_tip(image: np.ndarray, tip_size: int, **options) -> DifferentiableTipResult:
    """Run :func:`iter_differentiable_tip` to completion (same arguments) and return its result."""
    return run_to_completion(iter_differentiable_tip(image, tip_size, **options))
