"""Consistency of a reconstruction with its image: the blind tip bound and the surface raise."""

from __future__ import annotations

import numpy as np
import pytest

import napari_se3afm.nn.consistency as consistency
from napari_se3afm.classical.btr import blind_tip
from napari_se3afm.image.morphology import dilate, erode, opening
from napari_se3afm.nn.consistency import iter_tip_bound, raise_to_image
from napari_se3afm.progress import run_to_completion
from synthetic import random_asymmetric_tip, spike_array


def _scene(seed: int = 5, size: int = 48, rough: float = 0.3):
    rng = np.random.default_rng(seed)
    surface = spike_array(size, 12, (4.0, 8.0), rng) + rough * rng.normal(size=(size, size))
    tip = random_asymmetric_tip(7, rng, depth=6.0)
    return surface, tip, dilate(surface, tip)


@pytest.mark.parametrize("band_rows", [5, 256])  # in bands of rows (large scans) or in one piece
def test_raise_brings_every_explainable_pixel_within_the_tolerance_and_stays_below_the_bound(band_rows, monkeypatch):
    monkeypatch.setattr(consistency, "BAND_ROWS", band_rows)
    _, tip, image = _scene()
    bound = erode(image, tip)
    lowered = bound - 3.0  # a network that lowered everything: nothing explained
    tolerance = 0.2
    raised, asked = raise_to_image(image, tip, lowered, tolerance)
    inner = (slice(6, -6), slice(6, -6))  # K - 1 from the border, where the erosion is a proven bound
    residual = (image - dilate(raised, tip))[inner]
    assert 0 < asked <= image.size  # every residual of the lowered surface was 3 nm > tolerance
    assert np.all(raised >= lowered - 1e-12) and np.all(raised <= bound + 1e-12)
    assert residual.min() >= -1e-9  # still below the image: dilate(S, P) <= I
    limit = np.maximum(tolerance, image - opening(image, tip))[inner]
    assert np.all(residual <= limit + 1e-9)
    assert residual.max() > 0.5 * tolerance  # lifted just enough, not to the bound


def test_raise_leaves_a_surface_that_already_explains_the_image_alone():
    _, tip, image = _scene(seed=6)
    bound = erode(image, tip)
    raised, asked = raise_to_image(image, tip, bound, 1e-6)
    np.testing.assert_array_equal(raised, bound)  # the bound is the highest a lift may go
    unexplained = image - opening(image, tip) > 1e-6
    assert not unexplained[6:-6, 6:-6].any() and asked == np.count_nonzero(unexplained)  # border pixels only


def test_tip_bound_lies_above_the_true_tip_even_from_a_crop(monkeypatch):
    _, tip, image = _scene(seed=7, size=96, rough=0.0)
    full = run_to_completion(iter_tip_bound(image, 7))
    monkeypatch.setattr(consistency, "MAX_BOUND_PX", 40)  # a central crop only: looser, still a bound
    cropped = run_to_completion(iter_tip_bound(image, 7))
    for bound in (full, cropped):
        assert bound[3, 3] == 0 and bound.max() <= 0
        assert np.all(bound >= tip - 1e-9)  # Villarrubia: the true tip is never above its blind bound
    assert np.all(cropped >= full - 1e-9)  # fewer points constrain less
    # the bound is BTR's estimate loosened by the noise margin: on isolated spikes, far below P = 0
    blind = blind_tip(image, 7)
    expected = np.minimum(blind.tip + consistency.BOUND_MARGIN * blind.noise_nm, 0.0)
    expected[3, 3] = 0.0
    np.testing.assert_allclose(full, expected, atol=1e-12)
    assert (full - tip).max() < 0.2 * np.abs(tip).max()


def test_tight_bound_is_sharper_and_still_above_the_true_tip():
    from napari_se3afm.tip import pyramid_tip

    rng = np.random.default_rng(12345)
    n = 96
    surface = 1.0 * np.mgrid[:n, :n][1] + spike_array(n, 12, (10.0, 14.0), rng)  # spikes on a ramp
    tip = pyramid_tip(21, 2.0, sides=3, half_angle_deg=30, apex_radius_nm=6, rotation_deg=20)
    image = dilate(surface, tip)
    loose = run_to_completion(iter_tip_bound(image, 21))
    tight = run_to_completion(iter_tip_bound(image, 21, mode="residual"))
    assert tight[10, 10] == 0 and np.all(tight >= tip - 1e-9)  # noise-free: still a proven bound
    assert np.all(tight <= loose + 1e-12) and (loose - tight).max() > 5.0
    # the bound is that estimate at one noise σ, loosened by the noise margin
    blind = blind_tip(image, 21, mode="residual", threshold_factor=1.0)
    expected = np.minimum(blind.tip + consistency.BOUND_MARGIN * blind.noise_nm, 0.0)
    expected[10, 10] = 0.0
    np.testing.assert_allclose(tight, expected, atol=1e-12)


@pytest.mark.parametrize("bad", ["full", "", None])
def test_unknown_consistency_is_refused(bad):
    from napari_se3afm.errors import ParameterError
    from napari_se3afm.pipeline import reconstruct

    with pytest.raises(ParameterError, match="consistency"):
        reconstruct(np.zeros((32, 32)), 1.0, method="btr", consistency=bad)
