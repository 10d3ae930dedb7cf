"""The SE(3)-equivariant tip network (e3nn): scan points in, spherical-harmonic tip density out.

Input: point clouds ``(N, 3)`` of ``(x, y, height)`` around sharp maxima of a scan, each patch
centred on its maximum (so lateral and vertical shifts of the scan leave the input unchanged) and
divided by one length scale (so the scale is isotropic), plus the approach direction of the scan as
an ``l = 1`` vector on every point. Equivariant point convolutions (spherical-harmonic edge
features, radial networks, tensor products, gates) and a mean over points and patches give, per
scan, the coefficients ``c_lm(s)`` of a density ``T(r) = Σ_s B_s(|r|) Σ_lm c_lm(s) Y_lm(r̂)`` on
radial shells ``s`` (the paper's Eq. 2). Rotating the points and the approach direction by ``R``
transforms the coefficients by the Wigner matrices ``D(R)`` exactly (tested in float64).

:func:`render_tip` evaluates ``T`` on a voxel grid (the physical tip, apex at the origin, material
where ``sigmoid(T) > ½``) and converts it to the tip height map ``P`` the imaging simulator uses.
Rendering on a fixed grid is equivariant only for the grid's own symmetries (quarter turns about
the approach axis, tested); for other rotations it is a resampling, as any voxel output is.
"""

from __future__ import annotations

import math

import torch

from ._e3nn import Dropout, FullyConnectedNet, Gate, o3, soft_one_hot_linspace

__all__ = ["PointConvolution", "TipNet", "coefficient_irreps", "render_tip"]


def coefficient_irreps(shells: int, lmax: int) -> o3.Irreps:
    """Irreps of the output: ``shells`` copies of each ``Y_l`` (parity ``(-1)^l``, a true scalar field)."""
    return o3.Irreps([(shells, (l, (-1) ** l)) for l in range(lmax + 1)])


class PointConvolution(torch.nn.Module):
    """``out_i = self(x_i) + Σ_j TP(x_j, Y(r_ij); w(|r_ij|)) / √n`` over neighbours within the cutoff."""

    def __init__(
        self,
        irreps_in,
        irreps_out,
        irreps_sh,
        *,
        radial_basis: int,
        radial_hidden: int,
        cutoff: float,
        avg_neighbours: float,
    ) -> None:
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.irreps_sh = o3.Irreps(irreps_sh)
        self.radial_basis, self.cutoff, self.avg_neighbours = radial_basis, cutoff, avg_neighbours
        self.tp = o3.FullyConnectedTensorProduct(
            self.irreps_in, self.irreps_sh, self.irreps_out, shared_weights=False, internal_weights=False
        )
        self.radial = FullyConnectedNet([radial_basis, radial_hidden, self.tp.weight_numel], torch.nn.functional.silu)
        self.self_interaction = o3.Linear(self.irreps_in, self.irreps_out)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        vec = pos[src] - pos[dst]
        sh = o3.spherical_harmonics(self.irreps_sh, vec, normalize=True, normalization="component")
        emb = (
            soft_one_hot_linspace(
                vec.norm(dim=1), 0.0, self.cutoff, self.radial_basis, basis="smooth_finite", cutoff=True
            )
            * self.radial_basis**0.5
        )
        messages = self.tp(x[src], sh, self.radial(emb))
        out = torch.zeros(x.shape[0], self.irreps_out.dim, dtype=x.dtype, device=x.device)
        out.index_add_(0, dst, messages)
        return self.self_interaction(x) + out / math.sqrt(self.avg_neighbours)


def radius_graph(pos: torch.Tensor, graph: torch.Tensor, cutoff: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Directed edges ``src → dst`` between distinct points of the same graph closer than ``cutoff``.

    Ordered by ``dst``, then ``src``. When the graphs are contiguous runs of equal size, in order (as
    :func:`~napari_se3afm.nn.points.scan_patches` makes them), the distances are taken within each
    graph only: memory grows with the number of graphs, not with its square (a validation batch of
    128 scans × 8 patches once asked for 32 GB).
    """
    n = pos.shape[0]
    ids, counts = torch.unique_consecutive(graph, return_counts=True)
    size = int(counts[0]) if counts.numel() else 0
    if n and bool((counts == size).all()) and bool((ids[1:] > ids[:-1]).all()):
        blocks = pos.reshape(-1, size, 3)
        near = (blocks[:, :, None, :] - blocks[:, None, :, :]).norm(dim=-1) < cutoff
        near &= ~torch.eye(size, dtype=torch.bool, device=pos.device)
        g, dst, src = near.nonzero(as_tuple=True)
        return src + g * size, dst + g * size
    near = ((pos[:, None, :] - pos[None, :, :]).norm(dim=-1) < cutoff) & (graph[:, None] == graph[None, :])
    near.fill_diagonal_(False)
    dst, src = near.nonzero(as_tuple=True)
    return src, dst


class TipNet(torch.nn.Module):
    """Equivariant network from scan point patches to tip-density coefficients per scan.

    Parameters
    ----------
    hidden : str
        Irreps of the hidden features after each gate, e.g. ``"16x0e + 8x1o + 8x2e"``.
    layers : int
        Number of convolution + gate blocks.
    shells, lmax : int
        Radial shells and largest degree of the output density.
    cutoff : float
        Neighbour radius in units of the point scale (points are patch offsets / length scale).
    dropout : float
        Probability of dropping a whole irrep after each gate (e3nn Dropout; Monte-Carlo samples).
    """

    def __init__(
        self,
        hidden: str = "16x0e + 8x1o + 8x2e",
        layers: int = 2,
        shells: int = 8,
        lmax: int = 3,
        *,
        lmax_edges: int = 2,
        cutoff: float = 0.6,
        radial_basis: int = 8,
        radial_hidden: int = 32,
        avg_neighbours: float = 12.0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.irreps_in = o3.Irreps("1x0e + 1x1o")  # a constant and the approach direction
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax_edges)
        self.irreps_out = coefficient_irreps(shells, lmax)
        self.shells, self.lmax, self.cutoff = shells, lmax, cutoff
        hidden_irreps = o3.Irreps(hidden).simplify()
        scalars = o3.Irreps([(m, ir) for m, ir in hidden_irreps if ir.l == 0])
        gated = o3.Irreps([(m, ir) for m, ir in hidden_irreps if ir.l > 0])
        gates = o3.Irreps(f"{gated.num_irreps}x0e") if gated.num_irreps else o3.Irreps("")
        irreps = self.irreps_in
        blocks = []
        for _ in range(layers):
            gate = Gate(scalars, [torch.nn.functional.silu] * len(scalars), gates, [torch.sigmoid] * len(gates), gated)
            conv = PointConvolution(
                irreps,
                gate.irreps_in,
                self.irreps_sh,
                radial_basis=radial_basis,
                radial_hidden=radial_hidden,
                cutoff=cutoff,
                avg_neighbours=avg_neighbours,
            )
            blocks.append(torch.nn.ModuleList([conv, gate, Dropout(gate.irreps_out, dropout)]))
            irreps = gate.irreps_out
        self.blocks = torch.nn.ModuleList(blocks)
        self.head = o3.Linear(irreps, self.irreps_out)

    def forward(
        self, pos: torch.Tensor, approach: torch.Tensor, graph: torch.Tensor, scan: torch.Tensor, n_scans: int
    ) -> torch.Tensor:
        """Coefficients ``(n_scans, irreps_out.dim)``.

        ``pos`` (N, 3) points, ``approach`` (3,) or (n_scans, 3) unit vector(s), ``graph`` (N,) patch
        index of each point, ``scan`` (n_graphs,) scan index of each patch.
        """
        approach = approach.expand(n_scans, 3) if approach.dim() == 1 else approach
        node_scan = scan[graph]
        x = torch.cat([torch.ones_like(pos[:, :1]), approach[node_scan]], dim=1)
        src, dst = radius_graph(pos, graph, self.cutoff)
        for conv, gate, drop in self.blocks:
            x = drop(gate(conv(x, pos, src, dst)))
        n_graphs = int(scan.shape[0])
        pooled = torch.zeros(n_graphs, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, graph, x)
        pooled = pooled / torch.bincount(graph, minlength=n_graphs).clamp_min(1).to(x.dtype)[:, None]
        per_scan = torch.zeros(n_scans, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, scan, pooled)
        per_scan = per_scan / torch.bincount(scan, minlength=n_scans).clamp_min(1).to(x.dtype)[:, None]
        return self.head(per_scan)


def render_tip(
    coefficients: torch.Tensor,
    shells: int,
    lmax: int,
    *,
    tip_px: int,
    pixel_nm: float,
    length_nm: float,
    depth_nm: float,
    levels: int = 32,
    sharpness: float = 8.0,
    shell_extent: float = 1.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Evaluate the tip density on a voxel grid and convert it to ``P``.

    The grid holds the physical tip: lateral offsets ``u`` of ``tip_px`` pixels of ``pixel_nm``,
    heights ``z`` in ``levels`` steps from the apex (0) to ``depth_nm``; positions are divided by
    ``length_nm`` (the point scale of the network) before the radial shells (Gaussians centred
    evenly at ``0 … shell_extent``, as wide as their spacing) and spherical harmonics are evaluated;
    beyond the last shell the density fades to 0 (occupancy ½). Occupancy is
    ``sigmoid(sharpness · T)``; the tip surface height in a column is the empty height below the
    material, ``p(u) = Σ_z (1 − occ) Δz``, and ``P(v) = −p(−v)`` with its centre at 0 and all
    values ≤ 0.

    Returns ``(occupancy (B, levels, K, K), P (B, K, K))`` in nm.
    """
    b = coefficients.shape[0]
    dev, dt = coefficients.device, coefficients.dtype
    k, c = tip_px, tip_px // 2
    lateral = (torch.arange(k, device=dev, dtype=dt) - c) * pixel_nm
    dz = depth_nm / levels
    heights = (torch.arange(levels, device=dev, dtype=dt) + 0.5) * dz
    z, y, x = torch.meshgrid(heights, lateral, lateral, indexing="ij")
    r = torch.stack([x, y, z], dim=-1).reshape(-1, 3) / length_nm
    sh = o3.spherical_harmonics(list(range(lmax + 1)), r, normalize=True, normalization="component")
    centres = torch.linspace(0.0, shell_extent, shells, device=dev, dtype=dt)
    width = shell_extent / max(shells - 1, 1)
    radial = torch.exp(-(((r.norm(dim=1)[:, None] - centres) / width) ** 2))  # (points, shells)
    density = torch.zeros(b, r.shape[0], device=dev, dtype=dt)
    offset = 0
    for l in range(lmax + 1):
        n = 2 * l + 1
        block = coefficients[:, offset : offset + shells * n].reshape(b, shells, n)
        offset += shells * n
        y_l = sh[:, l * l : l * l + n]
        density = density + torch.einsum("ps,bsm,pm->bp", radial, block, y_l)
    occupancy = torch.sigmoid(sharpness * density).reshape(b, levels, k, k)
    height = (1.0 - occupancy).sum(dim=1) * dz  # p(u): empty height below the material
    tip = -torch.flip(height, dims=(-2, -1))
    tip = tip - tip[:, c : c + 1, c : c + 1]
    return occupancy, torch.clamp(tip, max=0.0)
