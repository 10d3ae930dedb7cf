"""Morphology against independent brute-force loops written straight from the definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_se3afm.image.morphology import certainty_map, closing, contacts, dilate, erode, opening
from synthetic import random_asymmetric_tip


def clamp(i: int, n: int) -> int:
    return min(max(i, 0), n - 1)


def brute_dilate(s: np.ndarray, p: np.ndarray) -> np.ndarray:
    """I(x) = max_v S(x - v) + P(v); outside pixels replicate the edge."""
    k = p.shape[0]
    c = k // 2
    h, w = s.shape
    out = np.full((h, w), -np.inf)
    for i in range(h):
        for j in range(w):
            for a in range(k):
                for b in range(k):
                    val = s[clamp(i - (a - c), h), clamp(j - (b - c), w)] + p[a, b]
                    out[i, j] = max(out[i, j], val)
    return out


def brute_erode(img: np.ndarray, p: np.ndarray) -> np.ndarray:
    """R(x) = min_v I(x + v) - P(v); outside pixels replicate the edge."""
    k = p.shape[0]
    c = k // 2
    h, w = img.shape
    out = np.full((h, w), np.inf)
    for i in range(h):
        for j in range(w):
            for a in range(k):
                for b in range(k):
                    val = img[clamp(i + (a - c), h), clamp(j + (b - c), w)] - p[a, b]
                    out[i, j] = min(out[i, j], val)
    return out


@pytest.mark.parametrize("k", [1, 3, 5, 7])
@pytest.mark.parametrize("shape", [(9, 13), (16, 11)])
def test_dilation_and_erosion_match_brute_force_float64(rng, k, shape):
    s = rng.normal(0, 3, shape)
    p = random_asymmetric_tip(k, rng)
    assert np.abs(dilate(s, p) - brute_dilate(s, p)).max() <= 1e-9
    assert np.abs(erode(s, p) - brute_erode(s, p)).max() <= 1e-9


def test_float32_matches_float64_reference(rng):
    s = rng.normal(0, 3, (20, 20))
    p = random_asymmetric_tip(5, rng)
    out = dilate(s.astype(np.float32), p.astype(np.float32))
    assert out.dtype == np.float32
    assert np.abs(out - brute_dilate(s, p)).max() < 1e-5


def test_asymmetric_spike_images_as_p_not_its_mirror():
    """A single spike of height h images as h + P(x - x0): the definition of P, no mirror."""
    p = np.array([[-1.0, -2.0, -3.0], [-4.0, 0.0, -5.0], [-6.0, -7.0, -8.0]])
    s = np.full((7, 7), -100.0)
    s[3, 3] = 10.0
    img = dilate(s, p)
    np.testing.assert_array_equal(img[2:5, 2:5], 10.0 + p)
    # erosion with the same P recovers the spike exactly (it is a certain point)
    assert erode(img, p)[3, 3] == 10.0


def test_batched_surfaces_and_tips_match_one_by_one(rng):
    s = rng.normal(0, 2, (3, 12, 10))
    p = np.stack([random_asymmetric_tip(5, rng) for _ in range(3)])
    batched = dilate(torch.tensor(s), torch.tensor(p)).numpy()
    for b in range(3):
        np.testing.assert_array_equal(batched[b], brute_dilate(s[b], p[b]))
    shared = erode(torch.tensor(s), torch.tensor(p[0])).numpy()
    for b in range(3):
        assert np.abs(shared[b] - brute_erode(s[b], p[0])).max() <= 1e-12


def test_border_rule_is_edge_replication(rng):
    """Dilation of the image padded by edge replication (np.pad, independent) equals ours inside."""
    s = rng.normal(0, 1, (10, 14))
    s[:, 0] += 5  # a strong left edge makes the rule visible
    p = random_asymmetric_tip(5, rng, depth=1.0)
    padded = np.pad(s, 6, mode="edge")
    inside = dilate(padded, p)[6:-6, 6:-6]
    np.testing.assert_allclose(dilate(s, p), inside, rtol=0, atol=1e-12)
    # a constant-value border (not replication) would differ here:
    zero_padded = np.pad(s, 6, mode="constant", constant_values=s.min() - 10)
    assert np.abs(dilate(zero_padded, p)[6:-6, 6:-6] - inside).max() > 0


def test_chunked_equals_unchunked(rng):
    s = rng.normal(0, 2, (37, 23))
    p = random_asymmetric_tip(7, rng)
    full = dilate(s, p, chunk_elements=1 << 30)
    for chunk in (1, 23, 100, 999):
        np.testing.assert_array_equal(dilate(s, p, chunk_elements=chunk), full)
        np.testing.assert_array_equal(erode(s, p, chunk_elements=chunk), erode(s, p))
    np.testing.assert_array_equal(certainty_map(s, p, chunk_elements=17), certainty_map(s, p))


def test_morphological_order_relations(rng):
    """The textbook relations hold away from the border (replicated pixels are not imaged data)."""
    s = rng.normal(0, 2, (24, 24))
    p = random_asymmetric_tip(5, rng)
    img = dilate(s, p)
    inner = (slice(4, -4), slice(4, -4))
    assert np.all(erode(img, p)[inner] >= s[inner] - 1e-12)  # erosion bounds the surface from above
    assert np.all(erode(img, p) <= img + 1e-12)  # holds everywhere (v = 0 term)
    assert np.all(opening(img, p)[inner] <= img[inner] + 1e-12)
    np.testing.assert_allclose(opening(img, p)[inner], img[inner], atol=1e-12)  # images are open
    assert np.all(closing(s, p)[inner] >= s[inner] - 1e-12)


@pytest.mark.parametrize("op", [dilate, erode])
def test_gradcheck_surface_and_tip(op):
    g = torch.Generator().manual_seed(3)
    s = torch.randn(2, 7, 8, dtype=torch.float64, generator=g, requires_grad=True)
    p = (-3 * torch.rand(2, 5, 5, dtype=torch.float64, generator=g)).requires_grad_()
    # random continuous values: ties have probability zero, so the max is differentiable
    assert torch.autograd.gradcheck(lambda a, b: op(a, b, chunk_elements=9), (s, p))
    shared = (-3 * torch.rand(5, 5, dtype=torch.float64, generator=g)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: op(a, b), (s, shared))


def brute_certainty(img: np.ndarray, p: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    k = p.shape[0]
    c = k // 2
    h, w = img.shape
    r = brute_erode(img, p)
    certain = np.zeros((h, w), bool)
    for i in range(k - 1, h - k + 1):  # scan positions whose window is all real data
        for j in range(k - 1, w - k + 1):
            touches = []
            for a in range(k):
                for b in range(k):
                    y, x = i - (a - c), j - (b - c)
                    if r[clamp(y, h), clamp(x, w)] + p[a, b] >= img[i, j] - tol:
                        touches.append((y, x))
            if len(touches) == 1 and 0 <= touches[0][0] < h and 0 <= touches[0][1] < w:
                certain[touches[0]] = True
    return certain


def test_certainty_map_matches_brute_force_and_marks_exact_surface(rng):
    s = rng.normal(0, 2, (18, 18))
    p = random_asymmetric_tip(5, rng)
    img = dilate(s, p)
    cert = certainty_map(img, p)
    np.testing.assert_array_equal(cert, brute_certainty(img, p))
    # Villarrubia: where certain, the reconstruction is the true surface (away from the border,
    # where replicated pixels stand in for unimaged data)
    inner = np.zeros_like(cert)
    inner[4:-4, 4:-4] = True
    assert (cert & inner).sum() > 10
    np.testing.assert_allclose(erode(img, p)[cert & inner], s[cert & inner], atol=1e-9)


def test_bad_shapes_raise_clear_errors():
    from napari_se3afm.errors import ParameterError

    with pytest.raises(ParameterError, match="odd square"):
        dilate(np.zeros((5, 5)), np.zeros((4, 4)))
    with pytest.raises(ParameterError, match=r"\(H, W\)"):
        dilate(np.zeros(5), np.zeros((3, 3)))
    with pytest.raises(ParameterError, match="batch of 2 tips"):
        dilate(np.zeros((3, 5, 5)), np.zeros((2, 3, 3)))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(rng):
    s = torch.tensor(rng.normal(0, 2, (2, 64, 64)))
    p = torch.tensor(random_asymmetric_tip(9, rng))
    for op in (dilate, erode):
        assert torch.equal(op(s.cuda(), p.cuda()).cpu(), op(s, p))


def test_contacts_name_the_surface_pixel_and_tip_height_that_set_each_image_pixel():
    rng = np.random.default_rng(11)
    s = rng.normal(size=(19, 23))
    p = random_asymmetric_tip(5, rng)
    imaged, rows, cols, tip_at = contacts(s, p)
    np.testing.assert_allclose(imaged, brute_dilate(s, p), atol=1e-12)
    np.testing.assert_allclose(s[rows, cols] + tip_at, imaged, atol=1e-12)
    # one spike on a deep floor: every pixel in its reach is set by the spike, through P(x - spike)
    spike = np.full((15, 15), -100.0)
    spike[6, 8] = 0.0
    imaged, rows, cols, tip_at = contacts(spike, p)
    for i in range(4, 9):
        for j in range(6, 11):
            assert (rows[i, j], cols[i, j]) == (6, 8)
            assert tip_at[i, j] == p[i - 6 + 2, j - 8 + 2]  # an asymmetric tip is not mirrored


def test_tips_deeper_than_the_scan_give_the_brute_force_results(rng):
    """Offsets deeper than the scan rises can never win and are skipped: nothing may change, not
    the values, the winning offsets, the contacts or the certain pixels; batched tips one by one."""
    from napari_se3afm.image.morphology import _live_offsets

    s = rng.normal(0, 1, (21, 19))
    deep = random_asymmetric_tip(7, rng, depth=2.0)
    deep[[0, -1], :] = -50.0  # far below anything the scan can reach
    deep[:, [0, 1]] -= 40.0
    shallow = random_asymmetric_tip(7, rng, depth=2.0)
    img = dilate(s, deep)
    ptp = float(img.max() - img.min())
    live = _live_offsets(torch.tensor(deep)[None], torch.tensor([float(img.max())]), torch.tensor([float(img.min())]))
    assert 0 < len(live) < 49 and np.sum(deep >= -ptp) <= len(live)  # the test does skip offsets
    np.testing.assert_array_equal(dilate(s, deep), brute_dilate(s, deep))
    np.testing.assert_array_equal(erode(img, deep), brute_erode(img, deep))
    np.testing.assert_array_equal(certainty_map(img, deep), brute_certainty(img, deep))
    imaged, rows, cols, tip_at = contacts(s, deep)
    np.testing.assert_array_equal(s[rows, cols] + tip_at, imaged)
    tips = torch.tensor(np.stack([deep, shallow]))
    batch = torch.tensor(np.stack([img, img]))
    np.testing.assert_array_equal(erode(batch, tips).numpy()[1], brute_erode(img, shallow))
    np.testing.assert_array_equal(certainty_map(batch, tips).numpy()[1], brute_certainty(img, shallow))
    np.testing.assert_array_equal(certainty_map(batch, tips).numpy()[0], brute_certainty(img, deep))


def test_non_finite_heights_propagate_as_without_skipping(rng):
    s = rng.normal(0, 1, (9, 9))
    s[4, 4] = np.nan
    deep = random_asymmetric_tip(3, rng, depth=100.0)
    assert np.isnan(dilate(s, deep)[4, 4]) and np.isnan(erode(s, deep)[4, 4])
