"""The equivariant tip network, the surface network and Monte-Carlo dropout, on tiny models (CPU, float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("e3nn")
from e3nn import o3

from napari_se3afm.errors import ParameterError
from napari_se3afm.image.morphology import dilate, erode
from napari_se3afm.lab.training import grow_shells
from napari_se3afm.nn.model import SE3AFM, ModelConfig, dropout_samples, enable_mc_dropout
from napari_se3afm.nn.points import scan_patches
from napari_se3afm.nn.tip_net import TipNet, radius_graph, render_tip
from napari_se3afm.tip import pyramid_tip

TINY = ModelConfig(
    tip_px=15,
    hidden="6x0e + 3x1o + 2x2e",
    layers=2,
    shells=4,
    lmax=2,
    patches=4,
    stride=2,
    unet_base=8,
    unet_depth=2,
    dropout=0.0,
)


@pytest.fixture(autouse=True)
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(old)


def spikes(size: int = 64, shift=(0, 0)) -> np.ndarray:
    """Four well separated spikes on a gentle slope, imaged by an asymmetric tip."""
    s = np.zeros((size, size)) + 0.01 * np.arange(size)[None, :]
    for (r, c), h in zip([(20, 18), (22, 44), (45, 24), (43, 47)], [9.0, 7.0, 8.0, 6.5], strict=True):
        s[r + shift[0], c + shift[1]] += h
    return dilate(s, pyramid_tip(15, 1.0, sides=3, half_angle_deg=35, apex_radius_nm=2.0, rotation_deg=20))


def test_tip_network_is_rotation_equivariant_to_wigner_d():
    net = TipNet("6x0e + 3x1o + 2x2e + 1x3o", layers=2, shells=3, lmax=3, cutoff=0.8, dropout=0.0).eval()
    pos = torch.randn(60, 3) * 0.4
    graph = torch.arange(3).repeat_interleave(20)
    scan = torch.tensor([0, 0, 1])
    approach = torch.nn.functional.normalize(torch.randn(2, 3), dim=1)
    out = net(pos, approach, graph, scan, 2)
    assert out.abs().max() > 1e-3  # not trivially zero
    for _ in range(3):
        rot = o3.rand_matrix()
        rotated = net(pos @ rot.T, approach @ rot.T, graph, scan, 2)
        expected = out @ net.irreps_out.D_from_matrix(rot).T
        assert torch.linalg.norm(rotated - expected) / torch.linalg.norm(expected) < 1e-6
    # parity too: the output is a true scalar field's coefficients (odd l flip under inversion)
    inverted = net(-pos, -approach, graph, scan, 2)
    assert torch.linalg.norm(inverted - out @ net.irreps_out.D_from_matrix(-torch.eye(3)).T) < 1e-9


@pytest.mark.parametrize("sizes", [(20, 20, 20), (5, 30, 12)])  # equal runs (blockwise) and unequal (dense)
def test_radius_graph_is_every_close_pair_within_a_graph_in_order(sizes):
    graph = torch.cat([torch.full((n,), g) for g, n in enumerate(sizes)])
    pos = torch.rand(len(graph), 3)
    src, dst = radius_graph(pos, graph, 0.5)
    expected = [
        (int(d), int(s))
        for d in range(len(graph))
        for s in range(len(graph))
        if d != s and graph[d] == graph[s] and float(torch.linalg.norm(pos[d] - pos[s])) < 0.5
    ]
    assert list(zip(dst.tolist(), src.tolist(), strict=True)) == expected and len(expected) > 50


def test_rendering_turns_with_the_coefficients_on_quarter_turns():
    shells, lmax = 3, 3
    irreps = o3.Irreps([(shells, (l, (-1) ** l)) for l in range(lmax + 1)])
    coeffs = torch.randn(1, irreps.dim)
    quarter = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90° about z: x -> y
    args = dict(tip_px=11, pixel_nm=1.0, length_nm=5.0, depth_nm=10.0, levels=8)
    occ, tip = render_tip(coeffs, shells, lmax, **args)
    occ_r, tip_r = render_tip(coeffs @ irreps.D_from_matrix(quarter).T, shells, lmax, **args)
    # T'(r) = T(R⁻¹ r) with x = col, y = row: T'[i, j] = T[2c - j, i], which is rot90(T, k=-1)
    assert torch.allclose(occ_r, torch.rot90(occ, k=-1, dims=(-2, -1)), atol=1e-10)
    assert torch.allclose(tip_r, torch.rot90(tip, k=-1, dims=(-2, -1)), atol=1e-10)
    assert not torch.allclose(occ_r, occ, atol=1e-3)  # the test is not trivial


def test_shells_reach_shell_extent():
    # one l = 0 coefficient on the last shell: the density peaks on the sphere |r| = shell_extent·length
    coeffs = torch.zeros(1, 4)
    coeffs[0, 3] = 0.1  # shell 3 of 4, Y_00; small, so the occupancy does not saturate
    args = dict(tip_px=1, pixel_nm=1.0, length_nm=2.0, depth_nm=16.0, levels=64, sharpness=8.0)
    for extent in (1.5, 3.0):
        occ, _ = render_tip(coeffs, 4, 0, shell_extent=extent, **args)
        heights = (torch.arange(64) + 0.5) * 16.0 / 64  # on the axis: r = z
        assert float(heights[occ[0, :, 0, 0].argmax()]) == pytest.approx(extent * 2.0, abs=0.13)


def test_grown_shells_keep_the_tips_and_can_learn_beyond_them():
    source = SE3AFM(TINY).eval()
    with torch.no_grad():
        source.tip_net.head.weight.normal_()
    img, px = torch.from_numpy(spikes())[None], torch.tensor([1.0])
    wider = ModelConfig(**{**TINY.as_dict(), "shells": 7, "shell_extent": 3.0})  # spacing 0.5, as 4 shells to 1.5
    grown = grow_shells(source, wider).eval()
    assert grown.config == wider and grown.tip_net.irreps_out.dim == 7 * 9
    tip = grown.tip(img, px)
    assert torch.allclose(tip, source.tip(img, px), atol=1e-12)
    assert float(tip.detach().min()) < -0.1
    tip.sum().backward()  # the new shells' weights get gradients: training can move them
    head = grown.tip_net.head
    new = torch.cat(
        [
            head.weight_view_for_instruction(i, head.weight.grad)[:, TINY.shells :].flatten()
            for i in range(len(head.instructions))
        ]
    )
    assert float(new.abs().max()) > 1e-6
    for bad in (
        {"shells": 7, "shell_extent": 2.0},
        {"shells": 3, "shell_extent": 1.0},
        {"shells": 7, "shell_extent": 3.0, "lmax": 1},
    ):
        with pytest.raises(ParameterError, match="cannot grow"):
            grow_shells(source, ModelConfig(**{**TINY.as_dict(), **bad}))


def test_whole_model_tip_ignores_shifts_and_turns_with_the_scan():
    model = SE3AFM(TINY).eval()
    img = torch.from_numpy(spikes())
    px = torch.tensor([1.0])
    tip = model.tip(img[None], px)[0]
    c = TINY.tip_px // 2
    assert tip.shape == (15, 15) and tip[c, c] == 0 and tip.max() <= 0
    assert float(tip.detach().min()) < -0.1
    up = model.tip(img[None] + 12.5, px)[0]  # a vertical shift changes nothing
    assert torch.allclose(up, tip, atol=1e-9)
    moved = model.tip(torch.from_numpy(spikes(shift=(3, -5)))[None], px)[0]  # nor does a lateral one
    assert torch.allclose(moved, tip, atol=1e-9)
    turned = model.tip(torch.rot90(img, 1)[None], px)[0]  # a quarter-turned scan turns its tip
    assert torch.allclose(turned, torch.rot90(tip, 1), atol=1e-8)


def test_surface_is_physically_consistent_and_mc_dropout_samples():
    model = SE3AFM(ModelConfig(**{**TINY.as_dict(), "dropout": 0.3}))
    img = torch.from_numpy(spikes())[None]
    px = torch.tensor([1.0])
    model.eval()
    tips, surface = model(img, px)
    assert torch.all(surface <= erode(img, tips) + 1e-12)  # below the erosion bound ...
    assert torch.all(dilate(surface, tips) <= img + 1e-9)  # ... so its image never exceeds the scan
    again = model(img, px)[1]
    assert torch.equal(again, surface)  # eval: deterministic
    tips, surfaces = dropout_samples(model, img, px, samples=6)
    assert tips.shape == (6, 1, 15, 15) and surfaces.shape == (6, *img.shape)
    assert not torch.equal(surfaces[0], surfaces[1])  # each pass drew its own dropout mask
    assert not any(m.training for m in model.modules())  # back in eval mode afterwards
    enable_mc_dropout(model)
    assert model.surface_net.drop.training and not model.surface_net.training


def test_samples_of_one_scan_read_one_certainty_map_that_of_their_mean_tip():
    """``one_scan``: Monte-Carlo samples of one scan read the certainty map of their mean tip. With every
    sample's tip the same, that is each sample's own map, so the surfaces are exactly the per-sample
    ones; with different tips, each surface still keeps its own tip's erosion bound."""
    model = SE3AFM(TINY).eval()
    img = torch.from_numpy(spikes())[None].repeat(3, 1, 1)
    tip = model.tip(img[:1], torch.tensor([1.0])).detach()
    with torch.no_grad():
        same = tip.repeat(3, 1, 1)
        torch.testing.assert_close(model.surface(img, same, one_scan=True), model.surface(img, same), rtol=0, atol=0)
        varied = torch.minimum(same, torch.stack([torch.zeros_like(tip[0]), -torch.ones_like(tip[0]), tip[0]]))
        varied[:, 7, 7] = 0.0
        shared = model.surface(img, varied, one_scan=True)
    assert torch.all(shared <= erode(img, varied) + 1e-12)


def test_the_erosion_bound_from_the_mirrored_scan_is_the_replicated_erosion_exactly():
    """At inference the bound is taken from the erosion of the mirrored scan, with only the edge bands
    eroded again: equal to ``erode`` (replicate border) to the last bit, though the mirrored erosion
    alone differs along the edges."""
    import torch.nn.functional as F

    from napari_se3afm.nn.model import _with_replicated_edges

    img = torch.randn(3, 90, 120).cumsum(1)
    tips = torch.stack([torch.from_numpy(pyramid_tip(15, 1.0, sides=3, rotation_deg=a)) for a in (0, 10, 20)])
    m = 14
    mirrored = F.pad(img.unsqueeze(1), (m, m, m, m), mode="reflect").squeeze(1)
    inner = erode(mirrored, tips)[:, m : m + 90, m : m + 120]
    assert (inner - erode(img, tips)).abs().max() > 0.1
    assert torch.equal(_with_replicated_edges(img, tips, inner), erode(img, tips))


def test_patches_are_offsets_from_the_sharpest_maxima():
    img = torch.from_numpy(spikes())[None]
    pos, _graph, scan, length = scan_patches(img, torch.tensor([1.0]), 15, patches=4, stride=7)
    assert scan.tolist() == [0, 0, 0, 0] and float(length[0]) == 7.0
    assert pos.shape == (4 * 9, 3)
    centres = pos[pos[:, :2].abs().sum(1) == 0]
    assert torch.all(centres == 0)  # each patch is centred on its maximum, height included
    assert torch.all(pos[:, 2] <= 1e-12)  # maxima are the highest points of their windows


def test_large_scans_go_through_the_surface_network_in_tiles():
    model = SE3AFM(TINY).eval()

    class Local(torch.nn.Module):  # a purely local "network": tiling must then change nothing
        def forward(self, feats):
            return torch.nn.functional.softplus(feats[:, 0] - feats[:, 1])

    model.surface_net = Local()
    img = torch.from_numpy(spikes(size=100))[None]
    tips = model.tip(img, torch.tensor([1.0]))
    with torch.no_grad():
        whole = model.surface(img, tips)
        model.tile, model.overlap = 40, 8  # 100 px: several tiles, the last ones shifted back inside
        tiled = model.surface(img, tips)
    # blending weights that add up to 1 only to rounding: equal to float precision, never a gap
    assert torch.isfinite(tiled).all()
    torch.testing.assert_close(whole, tiled, rtol=1e-12, atol=1e-12)


def test_ablation_switches():
    cnn = SE3AFM(ModelConfig(**{**TINY.as_dict(), "tip_head": "cnn"})).eval()
    img = torch.from_numpy(spikes())[None]
    tips, surface = cnn(img, torch.tensor([1.0]))
    assert tips.shape == (1, 15, 15) and tips[0, 7, 7] == 0 and surface.shape == img.shape
    model = SE3AFM(TINY)
    _, surface = model(img, torch.tensor([1.0]), joint=False)
    surface.sum().backward()  # surface losses alone ...
    assert all(p.grad is None or not p.grad.any() for p in model.tip_net.parameters())  # ... leave the tip alone
    assert any(p.grad is not None and p.grad.any() for p in model.surface_net.parameters())
    with pytest.raises(ParameterError, match="tip_head"):
        SE3AFM(ModelConfig(tip_head="mlp"))
    bound = torch.full((15, 15), -0.5, dtype=img.dtype)
    bound[7, 7] = 0.0
    free, _ = model(img, torch.tensor([1.0]))
    held, _ = model(img, torch.tensor([1.0]), tip_bound=bound)
    assert (free > bound).any() and torch.equal(held, torch.minimum(free, bound))


def test_patches_of_a_batch_are_those_of_each_image_alone(monkeypatch):
    """Repeated images (Monte-Carlo dropout) share one search for maxima; distinct ones do not."""
    import napari_se3afm.nn.points as points

    a = torch.from_numpy(spikes())
    b = torch.flip(a, dims=(1,)) + 0.5 * torch.roll(a, 9, dims=0)
    batch = torch.stack([a, a, b, b, a])
    searches = []
    search = points._sharp_maxima
    monkeypatch.setattr(points, "_sharp_maxima", lambda *args: searches.append(1) or search(*args))
    pos, graph, scan, _ = scan_patches(batch, torch.ones(5), 15, patches=4, stride=7)
    assert len(searches) == 3  # one per run of identical images: a a | b b | a
    of_image = scan[graph]
    for i, img in enumerate(batch):
        alone, _, _, _ = scan_patches(img[None], torch.ones(1), 15, patches=4, stride=7)
        assert torch.equal(pos[of_image == i], alone)
    assert not torch.equal(pos[of_image == 0], pos[of_image == 2])  # b's patches are its own


def test_the_model_imports_without_torchs_compiler():
    """e3nn's one torch.compiler.disable pulled in torch._dynamo (1.2 s of every start); the model
    imports without it, and torch.compiler.disable is torch's own again afterwards."""
    import subprocess
    import sys

    code = (
        "import sys, torch.compiler; before = torch.compiler.disable; import napari_se3afm.nn.model; "
        "print('torch._dynamo' in sys.modules, torch.compiler.disable is before)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "True"], out.stderr[-2000:]


def test_the_maxima_of_one_scan_are_found_once_across_batches(monkeypatch):
    """Monte-Carlo batches over one scan read the same points; remembered, they are found once."""
    from napari_se3afm.nn import points

    img = torch.from_numpy(spikes())
    calls = []
    real = points._sharp_maxima
    monkeypatch.setattr(points, "_sharp_maxima", lambda *a: calls.append(1) or real(*a))
    px = torch.tensor([1.0, 1.0])
    plain = points.scan_patches(img[None].repeat(2, 1, 1), px, 15)
    assert len(calls) == 1  # a batch of one scan repeated: once already
    store: dict = {}
    for _ in range(3):
        with points.maxima_remembered(img, store):
            again = points.scan_patches(img[None].repeat(2, 1, 1), px, 15)
        for a, b in zip(plain, again, strict=True):
            assert torch.equal(a, b)
    assert len(calls) == 2  # once more for the three remembered batches
    other = img.flip(0)
    with points.maxima_remembered(img, store):
        points.scan_patches(other[None], px[:1], 15)  # another scan is not taken for the remembered one
    assert len(calls) == 3
