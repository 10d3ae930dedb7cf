"""Exact grey-scale morphology of the tip–sample convolution (torch; CPU and CUDA; batched; float32/64).

Convention (binding for the whole project, see ``docs/conventions.md``)
----------------------------------------------------------------------
The tip ``P`` is an odd square height map of size ``K = 2c + 1`` in nm, apex ``P[c, c] = 0`` at the
centre and all values ``<= 0``. With the offset ``v = (row - c, col - c)``:

* imaging (dilation):            ``I(x) = max_v S(x - v) + P(v)``
* surface upper bound (erosion): ``R(x) = min_v I(x + v) - P(v)``
* opening ``dilate(erode(I))`` and closing ``erode(dilate(S))``.

``P`` is the image an ideal spike makes; the physical tip surface (height above the apex) is
``p(v) = -P(-v)``, its reflection through the apex. Erosion uses the *same* ``P`` as dilation (not
its mirror): it is the adjoint of dilation. Asymmetric tips therefore never come out mirrored.

Border rule: pixels outside the image replicate the nearest edge pixel (Gwyddion's rule), for both
the surface in :func:`dilate` and the image in :func:`erode`.

Every function accepts a 2-D ``(H, W)`` or batched ``(B, H, W)`` surface/image and a ``(K, K)`` tip,
or a batch of tips ``(B, K, K)``; numpy arrays in give numpy arrays out. Work is done in row chunks of
bounded size, so a 4096×4096 scan with a 41×41 tip runs in a few hundred MB; the result is the same as
unchunked because max and min are exact. :func:`dilate` and :func:`erode` are differentiable with
respect to both arguments (the gradient of a max flows to the winning offset only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ParameterError

#: Default number of elements in the temporary (rows × W × K) buffer of one chunk.
DEFAULT_CHUNK_ELEMENTS = 1 << 21

__all__ = [
    "DEFAULT_CHUNK_ELEMENTS",
    "certainty_map",
    "closing",
    "contacts",
    "dilate",
    "erode",
    "opening",
]


# ----------------------------------------------------------------------------------------------
# the one primitive: valid max-plus correlation  out[i, j] = max_{a, b} X[i + a, j + b] + Q[a, b]
# ----------------------------------------------------------------------------------------------
def _rows_per_chunk(batch: int, width: int, chunk_elements: int) -> int:
    return max(1, chunk_elements // max(1, batch * width))


def _tip_terms(q: torch.Tensor, offsets: list[int]) -> list:
    """Addends of the flat ``offsets``: Python floats for one shared tip (fast path), (B, 1, 1) views
    for a batch."""
    flat = q.reshape(q.shape[0], -1)
    if q.shape[0] == 1:
        return flat[0, offsets].tolist()
    return [flat[:, idx].view(-1, 1, 1) for idx in offsets]


def _live_offsets(q: torch.Tensor, band_max: torch.Tensor, floor: torch.Tensor) -> list[int]:
    """Flat indices (row-major) of the offsets whose term can still reach ``floor`` in a band of rows.

    ``q`` (Bq, K, K) are the addends, ``band_max`` (B,) the largest input value the band reads and
    ``floor`` (B,) a value that every output pixel of the band reaches or must reach. An offset with
    ``q + band_max < floor`` in every batch member can never win the maximum (nor tie with it, nor
    count as a contact), so skipping it changes no result, not even the winning index. A deep tip
    gains most: its outer pixels lie further below the apex than the scan rises. Non-finite bounds
    keep every offset.
    """
    if not (torch.isfinite(band_max).all() and torch.isfinite(floor).all()):
        return list(range(q.shape[-1] * q.shape[-2]))
    reach = q + band_max.view(-1, 1, 1) >= floor.view(-1, 1, 1)
    return torch.nonzero(reach.any(0).reshape(-1)).view(-1).tolist()


def _maxplus_forward(
    x: torch.Tensor, q: torch.Tensor, with_argmax: bool, chunk_elements: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Max-plus correlation of padded ``x (B, H+K-1, W+K-1)`` with ``q (Bq, K, K)``, Bq in {1, B}.

    Returns the ``(B, H, W)`` maximum and, if asked, the flat index ``a * K + b`` of the winning
    offset (the first one in row-major order when several tie). One fused add and max per tip
    offset over a band of rows: this vectorises far better than unfolding windows.
    """
    batch, hp, wp = x.shape
    k = q.shape[-1]
    h, w, c = hp - k + 1, wp - k + 1, k // 2
    out = torch.empty((batch, h, w), dtype=x.dtype, device=x.device)
    arg = torch.zeros((batch, h, w), dtype=torch.long, device=x.device) if with_argmax else None
    rows = _rows_per_chunk(batch, w, chunk_elements)
    tmp = torch.empty((batch, min(rows, h), w), dtype=x.dtype, device=x.device)
    better = torch.empty(tmp.shape, dtype=torch.bool, device=x.device) if with_argmax else None
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        best = out[:, r0:r1]
        best.fill_(-torch.inf)
        t = tmp[:, : r1 - r0]
        band = x[:, r0 : r1 + k - 1]
        # the centre offset alone gives every pixel this much: a floor for the band's maximum
        centre = (band[:, c : c + r1 - r0, c : c + w] + q[:, c, c].view(-1, 1, 1)).amin(dim=(1, 2))
        live = _live_offsets(q, band.amax(dim=(1, 2)), centre)
        for idx, term in zip(live, _tip_terms(q, live), strict=False):
            a, b = divmod(idx, k)
            torch.add(x[:, r0 + a : r1 + a, b : b + w], term, out=t)
            if arg is None:
                torch.maximum(best, t, out=best)
            else:
                m = better[:, : r1 - r0]
                torch.gt(t, best, out=m)
                torch.where(m, t, best, out=best)
                arg[:, r0:r1].masked_fill_(m, idx)
    return out, arg


class _MaxPlus(torch.autograd.Function):
    """Differentiable max-plus correlation that stores only the winning offset per pixel."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, q: torch.Tensor, chunk_elements: int) -> torch.Tensor:
        out, arg = _maxplus_forward(x, q, True, chunk_elements)
        ctx.save_for_backward(arg)
        ctx.x_shape, ctx.q_shape = x.shape, q.shape
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (arg,) = ctx.saved_tensors
        batch, hp, wp = ctx.x_shape
        k = ctx.q_shape[-1]
        _, h, w = grad.shape
        grad_x = grad_q = None
        flat_grad = grad.reshape(batch, -1)
        if ctx.needs_input_grad[0]:
            rows = torch.arange(h, device=grad.device).view(1, h, 1) + torch.div(arg, k, rounding_mode="floor")
            cols = torch.arange(w, device=grad.device).view(1, 1, w) + arg % k
            target = (rows * wp + cols).reshape(batch, -1)
            grad_x = torch.zeros((batch, hp * wp), dtype=grad.dtype, device=grad.device)
            grad_x.scatter_add_(1, target, flat_grad)
            grad_x = grad_x.view(batch, hp, wp)
        if ctx.needs_input_grad[1]:
            grad_q = torch.zeros((batch, k * k), dtype=grad.dtype, device=grad.device)
            grad_q.scatter_add_(1, arg.reshape(batch, -1), flat_grad)
            if ctx.q_shape[0] == 1:
                grad_q = grad_q.sum(0, keepdim=True)
            grad_q = grad_q.view(ctx.q_shape)
        return grad_x, grad_q, None


def _maxplus(x: torch.Tensor, q: torch.Tensor, chunk_elements: int) -> torch.Tensor:
    if torch.is_grad_enabled() and (x.requires_grad or q.requires_grad):
        return _MaxPlus.apply(x, q, chunk_elements)
    return _maxplus_forward(x, q, False, chunk_elements)[0]


# ----------------------------------------------------------------------------------------------
# argument handling shared by the public functions
# ----------------------------------------------------------------------------------------------
def _prepare(field: Any, tip: Any, what: str) -> tuple[torch.Tensor, torch.Tensor, bool, bool]:
    """Return ``(B, H, W)`` field, ``(Bq, K, K)`` tip, whether inputs were numpy, whether 2-D."""
    was_numpy = isinstance(field, np.ndarray)
    f = torch.from_numpy(np.ascontiguousarray(field)) if was_numpy else field
    t = torch.from_numpy(np.ascontiguousarray(tip)) if isinstance(tip, np.ndarray) else tip
    if not isinstance(f, torch.Tensor) or not isinstance(t, torch.Tensor):
        raise ParameterError(f"{what} and tip must be numpy arrays or torch tensors")
    if not f.is_floating_point():
        f = f.to(torch.float64)
    dtype = torch.promote_types(f.dtype, t.dtype) if t.is_floating_point() else f.dtype
    f = f.to(dtype)
    t = t.to(dtype=dtype, device=f.device)
    single = f.dim() == 2
    if f.dim() not in (2, 3):
        raise ParameterError(f"{what} must have shape (H, W) or (B, H, W), got {tuple(f.shape)}")
    if t.dim() not in (2, 3) or t.shape[-1] != t.shape[-2] or t.shape[-1] % 2 == 0:
        raise ParameterError(f"tip must be an odd square (K, K) or (B, K, K), got {tuple(t.shape)}")
    f3 = f.unsqueeze(0) if single else f
    t3 = t.unsqueeze(0) if t.dim() == 2 else t
    if t3.shape[0] not in (1, f3.shape[0]):
        raise ParameterError(f"a batch of {t3.shape[0]} tips does not match a batch of {f3.shape[0]} {what}s")
    return f3, t3, was_numpy, single


def _finish(out: torch.Tensor, was_numpy: bool, single: bool) -> Any:
    out = out[0] if single else out
    return out.detach().cpu().numpy() if was_numpy else out


def _pad(field: torch.Tensor, c: int) -> torch.Tensor:
    """Replicate-pad ``(B, H, W)`` by ``c`` pixels on each side (Gwyddion's border rule)."""
    if c == 0:
        return field
    return F.pad(field.unsqueeze(1), (c, c, c, c), mode="replicate").squeeze(1)


# ----------------------------------------------------------------------------------------------
# public operations
# ----------------------------------------------------------------------------------------------
def dilate(surface: Any, tip: Any, *, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Any:
    """Image a surface with a tip: ``I(x) = max_v S(x - v) + P(v)``.

    Parameters
    ----------
    surface : ndarray or Tensor, shape (H, W) or (B, H, W)
        True surface heights in nm.
    tip : ndarray or Tensor, shape (K, K) or (B, K, K)
        Tip height map ``P`` (apex 0 at the centre, values <= 0) in nm, K odd.
    chunk_elements : int
        Size of the temporary buffer per chunk; bounds memory, never changes the result.

    Returns
    -------
    Same type and shape as ``surface``: the simulated AFM image in nm.
    """
    s, p, was_numpy, single = _prepare(surface, tip, "surface")
    c = p.shape[-1] // 2
    out = _maxplus(_pad(s, c), torch.flip(p, dims=(-2, -1)), chunk_elements)
    return _finish(out, was_numpy, single)


def erode(image: Any, tip: Any, *, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Any:
    """Reconstruct the surface upper bound: ``R(x) = min_v I(x + v) - P(v)``.

    This is the adjoint of :func:`dilate` with the same, unmirrored ``P``. For any surface ``S``
    imaged by ``P``, ``S <= R <= I`` everywhere away from the borders.
    Arguments as for :func:`dilate`, with the AFM image in nm in place of the surface.
    """
    i, p, was_numpy, single = _prepare(image, tip, "image")
    c = p.shape[-1] // 2
    out = -_maxplus(-_pad(i, c), p, chunk_elements)
    return _finish(out, was_numpy, single)


@torch.no_grad()
def contacts(
    surface: np.ndarray, tip: np.ndarray, *, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Image a surface and say where the tip touched it: ``(I, rows, cols, P(v))`` for each image pixel.

    ``I = dilate(surface, tip)``; ``(rows[x], cols[x])`` is the surface pixel ``x - v`` that sets
    ``I(x)`` (the first winning offset in row-major order on ties; clipped to the image, which is
    where the replicated border pixels come from) and ``P(v)`` the tip height there, so that
    ``I(x) = surface[rows[x], cols[x]] + P(v)``. Numpy, 2-D only.
    """
    s, p, _, single = _prepare(np.asarray(surface, dtype=np.float64), np.asarray(tip, dtype=np.float64), "surface")
    if not single or p.shape[0] != 1:
        raise ParameterError("contacts takes one (H, W) surface and one (K, K) tip")
    k = p.shape[-1]
    c = k // 2
    out, arg = _maxplus_forward(_pad(s, c), torch.flip(p, dims=(-2, -1)), True, chunk_elements)
    a, b = np.divmod(arg[0].numpy(), k)  # flipped offset (a, b) is v = (c - a, c - b)
    h, w = out.shape[-2:]
    rows = np.clip(np.arange(h)[:, None] + a - c, 0, h - 1)
    cols = np.clip(np.arange(w)[None, :] + b - c, 0, w - 1)
    return out[0].numpy(), rows, cols, p[0].numpy()[k - 1 - a, k - 1 - b]


def opening(image: Any, tip: Any, *, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Any:
    """Return ``dilate(erode(I, P), P)``: the part of the image the tip can explain (``<= I``)."""
    return dilate(erode(image, tip, chunk_elements=chunk_elements), tip, chunk_elements=chunk_elements)


def closing(surface: Any, tip: Any, *, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Any:
    """Return ``erode(dilate(S, P), P)``: the best surface the tip can recover (``>= S``)."""
    return erode(dilate(surface, tip, chunk_elements=chunk_elements), tip, chunk_elements=chunk_elements)


def _default_tolerance(image: torch.Tensor) -> float:
    scale = float(image.abs().max()) if image.numel() else 1.0
    return 16.0 * torch.finfo(image.dtype).eps * max(scale, 1.0)


@torch.no_grad()
def certainty_map(
    image: Any,
    tip: Any,
    surface: Any = None,
    *,
    tolerance: float | None = None,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Any:
    """Villarrubia's certainty map: where the eroded surface is known to be the true surface.

    When the tip imaging position ``x`` touches the reconstruction ``R = erode(I, P)`` at exactly one
    point ``u = x - v`` (``R(u) + P(v) = I(x)`` for one ``v`` only), the true surface passes through
    ``R(u)``: that pixel is certain. Elsewhere ``R`` is only an upper bound.

    Parameters
    ----------
    image, tip
        As for :func:`erode`.
    surface : optional
        ``erode(image, tip)`` if already computed.
    tolerance : float, optional
        Height difference in nm below which a contact counts; default a few float ulps of the
        height scale.

    Returns
    -------
    bool array/tensor of the image's shape; ``True`` where the reconstruction is certain. Only scan
    positions at least ``K - 1`` pixels from the border mark pixels: nearer the border the erosion
    leans on replicated pixels, is no longer a proven upper bound, and a single contact proves nothing.
    """
    i, p, was_numpy, single = _prepare(image, tip, "image")
    r = erode(i, p, chunk_elements=chunk_elements) if surface is None else _prepare(surface, tip, "surface")[0]
    r = r.to(i.dtype)
    tol = _default_tolerance(i) if tolerance is None else float(tolerance)
    batch, h, w = i.shape
    k = p.shape[-1]
    c = k // 2
    rp = _pad(r, c)
    pf = torch.flip(p, dims=(-2, -1))
    rows = _rows_per_chunk(batch, w, chunk_elements)
    tmp = torch.empty((batch, min(rows, h), w), dtype=i.dtype, device=i.device)
    hit = torch.empty(tmp.shape, dtype=torch.bool, device=i.device)
    # one accumulator per pixel holds both the number of touching offsets and the sum of their
    # indices: ``count · K⁴ + Σ idx`` (Σ idx < K⁴), so each offset costs one add, not two updates
    unit = k**4
    acc_type = torch.int32 if k**6 + k**4 < 2**31 else torch.int64
    certain = torch.zeros((batch, h, w), dtype=torch.bool, device=i.device)
    margin = 2 * c
    trusted = torch.zeros((h, w), dtype=torch.bool, device=i.device)
    trusted[margin : h - margin, margin : w - margin] = True
    # one band of rows at a time, contacts counted and marked in the band: memory stays bounded
    # however many pixels are certain (a sharp tip makes most of a large scan certain)
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        level = i[:, r0:r1] - tol
        acc = torch.zeros((batch, r1 - r0, w), dtype=acc_type, device=i.device)
        t, touched = tmp[:, : r1 - r0], hit[:, : r1 - r0]
        # offsets that cannot reach the lowest contact level of the band touch nowhere in it
        live = _live_offsets(pf, rp[:, r0 : r1 + k - 1].amax(dim=(1, 2)), level.amin(dim=(1, 2)))
        for idx, term in zip(live, _tip_terms(pf, live), strict=False):
            a, b = divmod(idx, k)
            torch.add(rp[:, r0 + a : r1 + a, b : b + w], term, out=t)
            torch.ge(t, level, out=touched)
            acc.add_(touched, alpha=unit + idx)
        b_idx, y_idx, x_idx = torch.nonzero((acc // unit == 1) & trusted[r0:r1], as_tuple=True)
        flat = acc[b_idx, y_idx, x_idx].long() - unit  # the one touching offset
        # flipped index a' = 2c - a  ->  touched pixel u = x - v = x + a' - c
        uy = y_idx + r0 + torch.div(flat, k, rounding_mode="floor") - c
        ux = x_idx + flat % k - c
        inside = (uy >= 0) & (uy < h) & (ux >= 0) & (ux < w)
        certain[b_idx[inside], uy[inside], ux[inside]] = True
    return _finish(certain, was_numpy, single)
