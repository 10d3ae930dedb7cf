"""A plain CNN tip head for the "without equivariance" ablation (the paper's Table 5).

It sees the same maxima as :class:`~napari_se3afm.nn.tip_net.TipNet`, as full height windows, and
predicts the same spherical-harmonic coefficients (rendered the same way), so only the symmetry
differs. It is not equivariant to rotations of the scan, by design.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CNNTipNet"]


class CNNTipNet(nn.Module):
    """Windows (G, 1, K, K) → mean over each scan's windows → coefficients (n_scans, out_dim)."""

    def __init__(self, out_dim: int, width: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.SiLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.SiLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.SiLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * width, out_dim)

    def forward(self, windows: torch.Tensor, scan: torch.Tensor, n_scans: int) -> torch.Tensor:
        f = self.drop(self.features(windows).flatten(1))
        per_scan = torch.zeros(n_scans, f.shape[1], dtype=f.dtype, device=f.device).index_add_(0, scan, f)
        per_scan = per_scan / torch.bincount(scan, minlength=n_scans).clamp_min(1).to(f.dtype)[:, None]
        return self.head(per_scan)
