"""Benchmark metrics on hand-made cases with answers worked out by hand or by an independent library."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from napari_se3afm.errors import ParameterError
from napari_se3afm.lab.metrics import (
    calibration,
    fit_ratio,
    measurable_tip_difference,
    plausibility,
    probe_depth,
    redilation_residual,
    ssim,
    surface_errors,
    tip_errors,
)

TRUTH = np.array([[-2.0, -1.0, -2.0], [-1.0, 0.0, -1.0], [-2.0, -1.0, -2.0]])


def test_tip_errors_clip_both_tips_at_the_probe_depth():
    # estimate: the bluntest tip (all 0); truth clipped at -1.5 -> four corners 1.5, four edges 1
    e = tip_errors(np.zeros((3, 3)), TRUTH, depth=1.5)
    assert e["tip_rmse"] == pytest.approx(math.sqrt((4 * 1.5**2 + 4 * 1.0) / 9))
    assert e["tip_mae"] == pytest.approx((4 * 1.5 + 4 * 1.0) / 9)
    # below the probe depth nothing counts: a needle equals the truth when depth is 1
    needle = np.full((3, 3), -50.0)
    needle[1, 1] = 0
    assert tip_errors(needle, TRUTH, depth=1.0)["tip_rmse"] == pytest.approx(0.0)
    # the bias is signed, over the pixels either tip reaches: blunter +, sharper −
    assert e["tip_bias"] == pytest.approx((4 * 1.5 + 4 * 1.0) / 9)
    # the needle at depth 1.5: the truth's four edges (−1) are seen, the needle 0.5 below them there
    assert tip_errors(needle, TRUTH, depth=1.5)["tip_bias"] == pytest.approx(-0.5 * 4 / 5)


def test_measurable_tip_pixels_are_those_above_the_probe_depth_in_either_tip():
    needle = np.full((3, 3), -50.0)
    needle[1, 1] = 0
    # depth 1.5: the truth's edges (-1) are seen, its corners (-2) and all of the needle's flanks are not
    np.testing.assert_array_equal(measurable_tip_difference(needle, TRUTH, 1.5)[1], TRUTH > -1.5)
    # the bluntest estimate (all 0) is above any depth: every pixel is seen
    assert measurable_tip_difference(np.zeros((3, 3)), TRUTH, 1.5)[1].all()


def test_tip_errors_align_apexes_and_windows():
    assert tip_errors(TRUTH + 3.0, TRUTH, depth=5.0)["tip_rmse"] == pytest.approx(0.0)
    big = np.full((5, 5), -10.0)
    big[1:4, 1:4] = TRUTH
    assert tip_errors(big, TRUTH, depth=5.0)["tip_rmse"] == pytest.approx(0.0)  # cropped to the true window
    # a smaller estimate is padded with "no tip" (-inf): where the truth is deeper than the probe
    # depth both clip alike (no error); where it is not, the ring counts fully
    assert tip_errors(TRUTH, big, depth=4.0)["tip_mae"] == pytest.approx(0.0)
    assert tip_errors(TRUTH, big, depth=12.0)["tip_mae"] == pytest.approx(16 * (12.0 - 10.0) / 25)
    with pytest.raises(ParameterError):
        tip_errors(TRUTH, TRUTH, depth=-1)


def test_probe_depth_is_the_largest_rise_within_a_tip_window():
    s = np.zeros((20, 20))
    s[10, 10] = 7.0
    assert probe_depth(s, 5) == pytest.approx(7.0)
    step = np.zeros((20, 20))
    step[:, 10:] = 2.5
    assert probe_depth(step, 5) == pytest.approx(2.5)
    assert probe_depth(np.full((20, 20), 3.0), 5) == 0.0


def test_surface_errors_ignore_the_border():
    t = np.random.default_rng(0).normal(size=(40, 40))
    e = t.copy()
    e[:3] += 10
    e[:, -3:] -= 10
    assert surface_errors(e, t, border=3) == {"surface_rmse": 0.0, "surface_ssim": pytest.approx(1.0)}
    assert surface_errors(t + 0.5, t, border=3)["surface_rmse"] == pytest.approx(0.5)


def test_ssim_matches_scikit_image():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(3)
    t = np.cumsum(np.cumsum(rng.normal(size=(48, 48)), 0), 1) / 20
    e = t + rng.normal(scale=0.5, size=t.shape)
    span = float(t.max() - t.min())
    ref = skimage_metrics.structural_similarity(
        e, t, data_range=span, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(e, t) == pytest.approx(ref, abs=1e-9)


def test_calibration_of_exact_and_overconfident_sigma():
    rng = np.random.default_rng(1)
    sigma = rng.uniform(0.5, 2.0, 200_000)
    err = rng.normal(size=sigma.size) * sigma
    good = calibration(err, sigma)
    assert good["ece"] < 0.005
    assert good["nll"] == pytest.approx(np.mean(0.5 * np.log(2 * np.pi * sigma**2)) + 0.5, abs=0.01)
    # σ half the truth: the interval z σ holds |Z| <= z/2, so observed = 2Φ(z/2) − 1
    n = NormalDist()
    levels = np.arange(0.05, 1.0, 0.05)
    expected = np.mean([abs(2 * n.cdf(n.inv_cdf(0.5 + p / 2) / 2) - 1 - p) for p in levels])
    assert calibration(err, sigma / 2)["ece"] == pytest.approx(expected, abs=0.005)


def test_pooled_calibration_is_over_all_pixels_of_all_scans():
    from napari_se3afm.lab.benchmark import pooled_calibration

    rng = np.random.default_rng(2)
    # two scans whose error levels differ tenfold, each σ right: calibrated per scan and pooled
    pool = [(rng.normal(size=50_000) * s, np.full(50_000, s)) for s in (0.3, 3.0)]
    assert pooled_calibration(pool)["ece"] < 0.005
    # one scan's σ 2× too wide, the other's 2× too narrow: each badly calibrated, and pooled the
    # errors are a mixture whose coverage at z σ is Φ-averaged over both: (2Φ(2z) − 1 + 2Φ(z/2) − 1) / 2
    mixed = [(pool[0][0], 2 * pool[0][1]), (pool[1][0], pool[1][1] / 2)]
    n = NormalDist()
    levels = np.arange(0.05, 1.0, 0.05)
    z = [n.inv_cdf(0.5 + p / 2) for p in levels]
    expected = np.mean(
        [abs((2 * n.cdf(2 * q) - 1 + 2 * n.cdf(q / 2) - 1) / 2 - p) for q, p in zip(z, levels, strict=False)]
    )
    assert pooled_calibration(mixed)["ece"] == pytest.approx(expected, abs=0.005)
    assert calibration(*mixed[0])["ece"] > 0.2 and pooled_calibration([]) == {}


def test_rank_correlation_of_sigma_and_error():
    err = np.array([0.1, -0.5, 2.0, 1.0])
    assert calibration(err, np.abs(err))["spearman"] == pytest.approx(1.0)
    assert calibration(err, 1 / np.abs(err))["spearman"] == pytest.approx(-1.0)
    with pytest.raises(ParameterError, match="positive"):
        calibration(err, np.zeros(4))


def test_plausibility_counts_impossible_values():
    img = np.zeros((20, 20))
    tip = np.full((3, 3), -1.0)
    tip[1, 1] = 0.0
    tip[0, 0] = 0.5  # above the apex
    surface = np.zeros((20, 20))
    surface[5:7, 5:10] = 1.0  # 10 pixels above the bound (erosion of a flat image is flat)
    p = plausibility(surface, tip, img, noise_nm=0.1, border=2)
    assert p["tip_above_apex"] == pytest.approx(1 / 9)
    assert p["surface_above_bound"] == pytest.approx(10 / 16**2)
    assert plausibility(img, None, img, 0.0, 2) == {"tip_above_apex": 0.0, "surface_above_bound": 0.0}


def test_redilation_residual_is_what_the_tip_leaves_of_the_image_away_from_the_border():
    from napari_se3afm.image.morphology import dilate, erode, opening
    from napari_se3afm.tip import pyramid_tip

    rng = np.random.default_rng(3)
    tip = pyramid_tip(9, 1.0, sides=3, half_angle_deg=40, apex_radius_nm=2, rotation_deg=15)  # asymmetric
    surface = rng.normal(0, 2, (40, 36))
    image = dilate(surface, tip) + 0.25  # imaged 0.25 nm high everywhere
    residual = redilation_residual(image, surface, tip)
    assert residual.shape == (40 - 16, 36 - 16)  # a border of K − 1 = 8 px on each side
    np.testing.assert_allclose(residual, 0.25, atol=1e-12)
    assert np.abs(redilation_residual(image, surface, tip[::-1, ::-1]) - 0.25).max() > 0.1  # the mirror does not fit
    bound = erode(image, tip)  # the erosion's residual is the opening's: what no surface explains
    np.testing.assert_allclose(redilation_residual(image, bound, tip), (image - opening(image, tip))[8:-8, 8:-8])
    # the fit ratio: that residual's RMS (0.25 nm) over the image's white-noise estimate
    from napari_se3afm.image.noise import estimate_noise

    assert fit_ratio(image, surface, tip) == pytest.approx(0.25 / estimate_noise(image), rel=1e-9)
