"""SimTip triplets (tip, surface, image) generated on the fly, batched in torch on CPU or CUDA.

Sample ``i`` of a stream with seed ``s`` depends only on ``(s, i)``: its random numbers come from
``numpy.random.SeedSequence([s, i])``, split into independent streams for the tip, the surface and
the imaging. So a sample is the same whatever the batch size or device, and switching an artefact
off changes nothing but that artefact (the tests rely on it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ...errors import ParameterError
from .config import SPLIT_SEEDS, SURFACE_TYPES, TIP_TYPES, SimTipConfig, choose_family
from .imaging import apply_artefacts, dilate_canvas, drift_margin
from .surfaces import random_surfaces
from .tips import random_tip

__all__ = ["SPLIT_SEEDS", "SimTipBatch", "iter_batches", "simulate"]

#: Fixed seeds of the published splits; training streams use any other seed (default 0).


@dataclass
class SimTipBatch:
    """A batch of triplets; heights in nm, tensors on the device they were made on."""

    image: torch.Tensor  #: (B, H, W) the measured image, artefacts included
    clean: torch.Tensor  #: (B, H, W) the exact dilation of the surface by the tip, before artefacts
    surface: torch.Tensor  #: (B, H, W) the true surface over the field of view
    tip: torch.Tensor  #: (B, K, K) the true tip ``P``
    pixel_nm: torch.Tensor  #: (B,) pixel size (square pixels)
    tip_type: list[str] = field(default_factory=list)
    surface_type: list[str] = field(default_factory=list)
    params: list[dict] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.image.shape[0])


def _streams(seed: int, index: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), int(index)]).spawn(3)]


def simulate(
    indices: Sequence[int] | int,
    *,
    seed: int = 0,
    config: SimTipConfig | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    tip_indices: Sequence[int] | None = None,
) -> SimTipBatch:
    """Generate the triplets with the given indices (or ``range(n)`` for an int) of stream ``seed``.

    Parameters
    ----------
    indices : int or sequence of int
        Which samples of the stream; an int ``n`` means the first ``n``.
    seed : int
        Stream seed; see :data:`SPLIT_SEEDS` for the fixed validation and test splits.
    config : SimTipConfig, optional
        Parameter ranges (default: the paper's).
    device, dtype
        Where and in what precision the surfaces, dilation and artefacts are computed.
    tip_indices : sequence of int, optional
        The samples whose tip (and pixel size) each triplet takes instead of its own: the same
        index twice images two surfaces with one tip (``bench/bench_same_tip.py``).
    """
    cfg = config or SimTipConfig()
    idx = list(range(indices)) if isinstance(indices, int) else [int(i) for i in indices]
    if not idx:
        raise ParameterError("asked for an empty batch of SimTip samples")
    dev = torch.device(device)
    streams = [_streams(seed, i) for i in idx]
    if tip_indices is not None and len(tip_indices) != len(idx):
        raise ParameterError(f"{len(tip_indices)} tip indices for {len(idx)} samples")
    tip_streams = streams if tip_indices is None else [_streams(seed, int(i)) for i in tip_indices]
    tips, tip_types, pixels, params = [], [], [], []
    for tip_rng, _, _ in tip_streams:
        kind = choose_family(tip_rng, TIP_TYPES, cfg.tips.weights)
        t = random_tip(cfg, tip_rng, kind)
        tips.append(t.tip), tip_types.append(kind), pixels.append(t.pixel_nm)
        params.append({"tip": t.params, "surface": {}, "imaging": {}})
    surface_types = [choose_family(s, SURFACE_TYPES, cfg.surfaces.weights) for _, s, _ in streams]
    h = w = cfg.image_px
    k = cfg.tip_px
    c = k // 2
    margin = drift_margin(cfg.imaging)
    pixel = torch.tensor(pixels, dtype=torch.float64, device=dev)
    canvas_shape = (h + 2 * c + 2 * margin, w + 2 * c + 2 * margin)
    radii = None
    if "real" in surface_types:  # real surfaces are scaled to the tip that images them
        from ...tip import describe_tip

        radii = [describe_tip(t, px).apex_radius_nm for t, px in zip(tips, pixels, strict=True)]
        radii = [r if np.isfinite(r) else px for r, px in zip(radii, pixels, strict=True)]
    canvas, surface_params = random_surfaces(
        surface_types, pixel, canvas_shape, [s[1] for s in streams], cfg, tip_radius_nm=radii
    )
    for p, sp in zip(params, surface_params, strict=True):
        p["surface"] = sp
    canvas = canvas.to(dtype)
    tip = torch.from_numpy(np.stack(tips)).to(dev, dtype)
    surface = canvas[:, c + margin : c + margin + h, c + margin : c + margin + w]
    base = surface.amin(dim=(-2, -1), keepdim=True)  # heights from the lowest point in view
    canvas = canvas - base
    extended = dilate_canvas(canvas, tip)
    clean = extended[:, margin : margin + h, margin : margin + w]
    image = apply_artefacts(extended, margin, [s[2] for s in streams], cfg.imaging, [p["imaging"] for p in params])
    return SimTipBatch(
        image=image,
        clean=clean.contiguous(),
        surface=(surface - base).contiguous(),
        tip=tip,
        pixel_nm=pixel.to(dtype),
        tip_type=tip_types,
        surface_type=surface_types,
        params=params,
        indices=idx,
    )


def iter_batches(
    batch_size: int,
    *,
    seed: int = 0,
    start: int = 0,
    config: SimTipConfig | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Iterator[SimTipBatch]:
    """Yield consecutive batches of stream ``seed`` for ever, from sample ``start`` (training data)."""
    if int(batch_size) < 1:
        raise ParameterError(f"batch size must be >= 1, got {batch_size!r}")
    i = int(start)
    while True:
        yield simulate(range(i, i + batch_size), seed=seed, config=config, device=device, dtype=dtype)
        i += batch_size
