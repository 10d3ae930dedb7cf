"""The surface network: a small attention U-Net that lowers the erosion bound where the tip never touched.

Inputs per pixel: the image, the erosion ``R`` of the image by the estimated tip, the certainty map
and ``I − R``, all referenced to the median of ``R`` and divided by the image's spread. The output
``δ ≥ 0`` (softplus) is subtracted from the bound: ``S = R − δ``. So the predicted surface never rises
above the erosion, and the predicted surface dilated by the predicted tip never rises above the
image — physically consistent by construction; training pulls it down to the image where data
allow. Dropout (``Dropout2d``) in the bottleneck and decoder gives Monte-Carlo samples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SurfaceUNet"]


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, padding_mode="replicate"),
        nn.GroupNorm(4, cout),
        nn.SiLU(),
        nn.Conv2d(cout, cout, 3, padding=1, padding_mode="replicate"),
        nn.GroupNorm(4, cout),
        nn.SiLU(),
    )


class AttentionGate(nn.Module):
    """Weight skip features ``x`` by ``sigmoid(ψ(relu(W_g g + W_x x)))`` (Oktay et al. 2018)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.wg = nn.Conv2d(channels, channels // 2, 1)
        self.wx = nn.Conv2d(channels, channels // 2, 1)
        self.psi = nn.Conv2d(channels // 2, 1, 1)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.psi(F.relu(self.wg(g) + self.wx(x))))


class SurfaceUNet(nn.Module):
    """Attention U-Net with ``depth`` down-sampling levels; returns ``δ`` (B, H, W) in input units."""

    inputs = 4

    def __init__(self, base: int = 16, depth: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        chans = [base * 2**i for i in range(depth + 1)]
        self.depth = depth
        self.down = nn.ModuleList(
            [_block(self.inputs, chans[0])] + [_block(chans[i], chans[i + 1]) for i in range(depth)]
        )
        self.up = nn.ModuleList([nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in range(depth)])
        self.gates = nn.ModuleList([AttentionGate(chans[i]) for i in range(depth)])
        self.dec = nn.ModuleList([_block(2 * chans[i], chans[i]) for i in range(depth)])
        self.drop = nn.Dropout2d(dropout)
        self.out = nn.Conv2d(chans[0], 1, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``features`` (B, 4, H, W) → ``δ`` (B, H, W) ≥ 0; any H, W (padded to a multiple of 2^depth)."""
        h, w = features.shape[-2:]
        m = 2**self.depth
        x = F.pad(features, (0, (-w) % m, 0, (-h) % m), mode="replicate")
        if not torch.is_grad_enabled():  # inference: channels-last convolutions are ~1.6x faster on a CPU
            x = x.contiguous(memory_format=torch.channels_last)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = self.drop(skips.pop())
        for i in reversed(range(self.depth)):
            up = self.up[i](x)
            skip = skips[i]
            x = self.drop(self.dec[i](torch.cat([self.gates[i](skip, up), up], dim=1)))
        return F.softplus(self.out(x))[:, 0, :h, :w]
