"""The joint model: equivariant tip network + attention U-Net, through the exact imaging physics.

``forward(images, pixel_nm)`` returns the tip ``P`` (B, K, K) and the surface ``S`` (B, H, W), both in
nm: the tip from points around the scan's sharpest maxima (:mod:`.tip_net`), the surface as the
erosion of the image by that tip lowered by the U-Net (:mod:`.surface_net`). Monte-Carlo dropout
repeats the batch ``M`` times in one pass (:func:`mc_samples`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ParameterError
from ..image.morphology import certainty_map, erode
from .cnn_tip import CNNTipNet
from .points import scan_patches, scan_windows
from .surface_net import SurfaceUNet
from .tip_net import TipNet, coefficient_irreps, render_tip

__all__ = ["SE3AFM", "ModelConfig", "dropout_samples", "enable_mc_dropout"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the joint model (stored beside the weights)."""

    tip_px: int = 31
    hidden: str = "16x0e + 8x1o + 8x2e"
    layers: int = 2
    shells: int = 8
    lmax: int = 3
    #: radius of the last radial shell, in window half-widths (the grid reaches ``depth_ratio``)
    shell_extent: float = 1.5
    cutoff: float = 0.6
    patches: int = 8
    stride: int = 3
    depth_ratio: float = 3.0
    unet_base: int = 16
    unet_depth: int = 3
    dropout: float = 0.1
    #: "e3nn" (the model) or "cnn" (the ablation without equivariance)
    tip_head: str = "e3nn"

    def __post_init__(self) -> None:
        if int(self.shells) < 1 or not self.shell_extent > 0:
            raise ParameterError(
                f"need shells >= 1 and shell_extent > 0, got {self.shells!r} and {self.shell_extent!r}"
            )

    def as_dict(self) -> dict:
        return asdict(self)


class SE3AFM(nn.Module):
    """Tip and surface from AFM images (nm) and their pixel sizes."""

    #: inference tile size and overlap (pixels) of the surface network on large scans
    tile, overlap = 1024, 128
    #: at inference the surface network takes at most about this many pixels per call (images × tile
    #: pixels, at least one image): on a CPU a call of 2^18 pixels runs 1.6 × faster per pixel than
    #: one of four 572² images, whose feature maps no longer fit the cache (docs/speed.md)
    pixels_per_call = 2**18

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ModelConfig()
        if cfg.tip_head not in ("e3nn", "cnn"):
            raise ParameterError(f"tip_head must be 'e3nn' or 'cnn', got {cfg.tip_head!r}")
        if cfg.tip_head == "cnn":
            self.tip_net = CNNTipNet(coefficient_irreps(cfg.shells, cfg.lmax).dim, dropout=cfg.dropout)
        else:
            self.tip_net = TipNet(cfg.hidden, cfg.layers, cfg.shells, cfg.lmax, cutoff=cfg.cutoff, dropout=cfg.dropout)
        self.surface_net = SurfaceUNet(cfg.unet_base, cfg.unet_depth, cfg.dropout)

    def tip(self, images: torch.Tensor, pixel_nm: torch.Tensor) -> torch.Tensor:
        """Tip height maps ``P`` (B, K, K) in nm."""
        cfg = self.config
        if cfg.tip_head == "cnn":
            windows, scan, length = scan_windows(images, pixel_nm, cfg.tip_px, patches=cfg.patches)
            coeffs = self.tip_net(windows, scan, images.shape[0])
        else:
            pos, graph, scan, length = scan_patches(
                images, pixel_nm, cfg.tip_px, patches=cfg.patches, stride=cfg.stride
            )
            approach = torch.tensor([0.0, 0.0, -1.0], dtype=images.dtype, device=images.device)
            coeffs = self.tip_net(pos, approach, graph, scan, images.shape[0])
        tips = [
            render_tip(
                coeffs[b : b + 1],
                cfg.shells,
                cfg.lmax,
                tip_px=cfg.tip_px,
                pixel_nm=float(pixel_nm[b]),
                length_nm=float(length[b]),
                depth_nm=cfg.depth_ratio * float(length[b]),
                shell_extent=cfg.shell_extent,
            )[1]
            for b in range(images.shape[0])
        ]
        return torch.cat(tips)

    def surface(self, images: torch.Tensor, tips: torch.Tensor, *, one_scan: bool = False) -> torch.Tensor:
        """Surfaces (B, H, W) in nm: the erosion bound lowered by the U-Net's ``δ ≥ 0``.

        The losses never score the ``K − 1`` pixels along the edges, so the U-Net is trained only
        away from them. At inference it therefore reads the scan mirrored by that margin on every
        side (:meth:`context`): each pixel of the scan then lies where the network was trained, and
        the broad frame of untrained output is gone (measured: docs/real_scans.md, *No frame, no seam*).
        ``one_scan`` (inference on Monte-Carlo samples of one scan) maps the certainty the network
        reads once, for the samples' mean tip, instead of once per sample.
        """
        if torch.is_grad_enabled():
            bound = erode(images, tips)
            return bound - self._delta(images, tips, bound)
        h, w = images.shape[-2:]
        m = min(self.context(), h - 1, w - 1)
        mirrored = F.pad(images.unsqueeze(1), (m, m, m, m), mode="reflect").squeeze(1)
        mirrored_bound = erode(mirrored, tips)
        bound = _with_replicated_edges(images, tips, mirrored_bound[:, m : m + h, m : m + w])
        delta = self._delta(mirrored, tips, mirrored_bound, one_scan=one_scan)
        return bound - delta[:, m : m + h, m : m + w]

    def context(self) -> int:
        """The mirrored margin (pixels) around a scan at inference: the border the losses leave out."""
        return self.config.tip_px - 1

    def _delta(
        self, images: torch.Tensor, tips: torch.Tensor, bound: torch.Tensor, *, one_scan: bool = False
    ) -> torch.Tensor:
        """The lowering ``δ ≥ 0`` in nm from the U-Net's four feature maps (in tiles at inference)."""
        if one_scan:  # every image of the batch is the same scan: one certainty map, for the mean tip
            tip = tips.detach().mean(dim=0, keepdim=True)
            certain = certainty_map(images[:1], tip, erode(images[:1], tip)).to(images.dtype).expand_as(images)
        else:
            certain = certainty_map(images.detach(), tips.detach(), bound.detach()).to(images.dtype)
        ref = bound.detach().flatten(1).median(dim=1).values.view(-1, 1, 1)
        scale = images.detach().flatten(1).std(dim=1).clamp_min(1e-6).view(-1, 1, 1)
        feats = torch.stack([(images - ref) / scale, (bound - ref) / scale, certain, (images - bound) / scale], dim=1)
        delta = self.surface_net(feats) if torch.is_grad_enabled() else self._tiled(feats)
        return delta * scale

    def _tiled(self, feats: torch.Tensor) -> torch.Tensor:
        """U-Net output, on images larger than :attr:`tile` in overlapping tiles blended without seams.

        A tile's own edges are as untrained as a scan's (its ``K − 1`` outer pixels count for
        nothing); beyond them its weight rises linearly across the overlap to 1, so the output
        passes from one tile to the next gradually and never jumps at a tile's edge. Tiles are as
        small as the fewest tiles of at most :attr:`tile` pixels allow (a 1084-pixel side: two of 606,
        not two of 1024 that cover most pixels twice).
        """
        h, w = feats.shape[-2:]
        t, o = self.tile, self.overlap
        if h <= t and w <= t:
            return self._in_groups(feats)
        tile_h, tile_w = _tile_length(h, t, o), _tile_length(w, t, o)
        guard = min(self.context(), o // 3)  # an overlap too narrow for the full guard still blends
        out = torch.zeros(feats.shape[0], h, w, dtype=feats.dtype, device=feats.device)
        total = torch.zeros(h, w, dtype=feats.dtype, device=feats.device)
        for r0 in _tile_starts(h, tile_h, o):
            for c0 in _tile_starts(w, tile_w, o):
                tile = self._in_groups(feats[..., r0 : r0 + tile_h, c0 : c0 + tile_w])
                th, tw = tile.shape[-2:]
                weight = (
                    _ramp(th, guard, o, r0 > 0, r0 + th < h, tile)[:, None]
                    * _ramp(tw, guard, o, c0 > 0, c0 + tw < w, tile)[None, :]
                )
                out[:, r0 : r0 + th, c0 : c0 + tw] += tile * weight
                total[r0 : r0 + th, c0 : c0 + tw] += weight
        return out / total

    def _in_groups(self, feats: torch.Tensor) -> torch.Tensor:
        """The surface network on a batch, a few images per call (:attr:`pixels_per_call`)."""
        group = max(1, self.pixels_per_call // (feats.shape[-2] * feats.shape[-1]))
        if group >= feats.shape[0]:
            return self.surface_net(feats)
        return torch.cat([self.surface_net(feats[i : i + group]) for i in range(0, feats.shape[0], group)])

    def forward(
        self,
        images: torch.Tensor,
        pixel_nm: torch.Tensor,
        *,
        joint: bool = True,
        tip_bound: torch.Tensor | None = None,
        one_scan: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tips and surfaces; ``joint=False`` stops surface gradients at the tip (the ablation);
        ``one_scan``: the batch is Monte-Carlo samples of one scan (:meth:`surface`).

        ``tip_bound`` ((K, K) or (B, K, K)), when given, clips the tips from above before the surface
        network sees them (the blind upper bound of :mod:`napari_se3afm.nn.consistency`).
        """
        tips = self.tip(images, pixel_nm)
        if tip_bound is not None:
            tips = torch.minimum(tips, tip_bound.to(tips))
        return tips, self.surface(images, tips if joint else tips.detach(), one_scan=one_scan)


def _with_replicated_edges(images: torch.Tensor, tips: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    """``erode(images, tips)`` from ``inner``, the erosion of the scan mirrored at its edges cut back
    to the scan: the two agree wherever the tip stays inside the scan, so only the bands of half a
    tip along the edges, where the project's border rule (replicate) differs, are eroded again."""
    h, w = images.shape[-2:]
    c = tips.shape[-1] // 2
    if min(h, w) <= 4 * c:
        return erode(images, tips)
    out = inner.clone()
    out[:, :c] = erode(images[:, : 2 * c], tips)[:, :c]
    out[:, h - c :] = erode(images[:, h - 2 * c :], tips)[:, c:]
    out[:, :, :c] = erode(images[:, :, : 2 * c], tips)[:, :, :c]
    out[:, :, w - c :] = erode(images[:, :, w - 2 * c :], tips)[:, :, c:]
    return out


def _tile_length(n: int, tile: int, overlap: int) -> int:
    """The shortest tile length that covers ``n`` pixels with as few tiles of at most ``tile`` pixels
    as :func:`_tile_starts` would use, each overlapping the next by at least ``overlap`` — but never
    shorter than four overlaps, so that the middle of every tile still reads a wide context (the
    network's output near a tile's edge differs from a single pass; tiles too short show it)."""
    if n <= tile:
        return n
    count = -(-(n - overlap) // (tile - overlap))
    return min(tile, max(4 * overlap, -(-(n + overlap * (count - 1)) // count)))


def _tile_starts(n: int, tile: int, overlap: int) -> list[int]:
    """First pixels of tiles of ``tile`` pixels covering ``n`` with at least ``overlap`` in common."""
    if n <= tile:
        return [0]
    count = -(-(n - overlap) // (tile - overlap))
    return [round(i * (n - tile) / (count - 1)) for i in range(count)]


def _ramp(n: int, guard: int, overlap: int, rise: bool, fall: bool, like: torch.Tensor) -> torch.Tensor:
    """A tile's blending weight along one axis: 0 on the ``guard`` pixels of an edge it shares with
    another tile, then rising linearly to 1 across the rest of the overlap (1 at a scan's edge)."""
    i = torch.arange(n, dtype=like.dtype, device=like.device)
    span = max(overlap - 2 * guard, 1)
    weight = torch.ones(n, dtype=like.dtype, device=like.device)
    if rise:
        weight = torch.minimum(weight, ((i - guard + 1) / span).clamp(0, 1))
    if fall:
        weight = torch.minimum(weight, ((n - i - guard) / span).clamp(0, 1))
    return weight


def enable_mc_dropout(model: nn.Module) -> nn.Module:
    """Put the model in eval mode except its dropout layers (torch and e3nn), for Monte-Carlo sampling."""
    from ._e3nn import Dropout as IrrepsDropout

    model.eval()
    for module in model.modules():
        if isinstance(module, (nn.Dropout, nn.Dropout2d, IrrepsDropout)):
            module.train()
    return model


@torch.no_grad()
def dropout_samples(
    model: SE3AFM,
    images: torch.Tensor,
    pixel_nm: torch.Tensor,
    samples: int,
    seed: int = 0,
    tip_bound: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``samples`` dropout passes in one batch: tips (M, B, K, K) and surfaces (M, B, H, W).

    ``tip_bound`` (K, K), when given, clips every sampled tip from above before the surface network
    sees it (the blind upper bound of :mod:`napari_se3afm.nn.consistency`). Seeded, so the same input
    always gives the same samples; the caller's RNG state is untouched. The model is left in eval mode.
    """
    enable_mc_dropout(model)
    b = images.shape[0]
    devices = [images.device] if images.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        tips, surfaces = model(
            images.repeat(samples, 1, 1), pixel_nm.repeat(samples), tip_bound=tip_bound, one_scan=b == 1
        )
    model.eval()
    return tips.view(samples, b, *tips.shape[1:]), surfaces.view(samples, b, *surfaces.shape[1:])
