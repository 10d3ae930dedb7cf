"""The one Gaussian of the σ maps and the descriptor draws, against what a linear filter must do."""

from __future__ import annotations

import numpy as np

from napari_se3afm.nn.sigma import gaussian_kernel, gaussian_smooth, smooth_deviations, smooth_rms


def test_a_constant_stays_and_white_noise_gets_the_variance_of_its_kernel():
    assert np.allclose(gaussian_smooth(np.full((20, 30), 3.0), 2.0), 3.0)  # mirrored edges: no loss
    assert np.allclose(smooth_rms(np.full((20, 30), -2.0), 1.0), 2.0)
    kernel = gaussian_kernel(2.0)
    assert np.isclose(kernel.sum(), 1.0) and kernel.size == 13
    # a separable filter of unit white noise has the variance (Σ k²)² inside: the drawn deviations of
    # the descriptors and the tip-independence benchmark divide by Σ k² and must come out at 1
    smooth = smooth_deviations(400, (31, 31), 2.0, mirror=False)
    raw = gaussian_smooth(np.random.default_rng(0).standard_normal((400, 31, 31)), 2.0, mirror=False)
    np.testing.assert_array_equal(smooth, raw / np.sum(kernel**2))
    assert abs(smooth[:, 10:21, 10:21].std() - 1.0) < 0.05
    assert smooth[:, 0, 0].std() < 0.8  # zero beyond the edges: less there


def test_tips_drawn_from_a_sigma_map_vary_by_it_and_stay_under_the_bound():
    from napari_se3afm.nn.sigma import DESCRIPTOR_DRAWS, drawn_tips

    v = np.arange(-15, 16, dtype=float)
    tip = -np.hypot(v[:, None], v[None, :])  # a cone, 1 nm per pixel
    sigma = np.full(tip.shape, 2.0)
    free = drawn_tips(tip, sigma)
    assert free.shape == (DESCRIPTOR_DRAWS, 31, 31)
    assert abs((free - tip)[:, 10:21, 10:21].std() - 2.0) < 0.3  # the σ map's size inside the window
    bound = tip + 1.0  # a blind bound 1 nm above the tip: draws above it are held to it
    held = drawn_tips(tip, sigma, bound)
    assert (free > bound).any() and (held <= bound).all()
    np.testing.assert_array_equal(held, np.minimum(free, bound))


def test_a_descriptor_the_free_draws_leave_unmeasurable_takes_its_sigma_from_draws_held_to_the_bound():
    from napari_se3afm.tip.uncertainty import DESCRIPTOR_NAMES, descriptor_sigmas

    v = np.arange(-15, 16, dtype=float)
    r = np.hypot(v[:, None], v[None, :])
    tip = -2.0 * r  # a cone, 1 nm pixels, 30 nm deep at the window's edge
    sigma = 0.2 + 3.0 * r  # far larger at the edge than the depth: draws lift the edge to the apex
    samples = np.repeat(tip[None], 4, axis=0)  # no Monte-Carlo spread
    free = descriptor_sigmas(samples, tip, sigma, (1.0, 1.0), None)
    held = descriptor_sigmas(samples, tip, sigma, (1.0, 1.0), tip + 0.5)
    assert set(free) == set(DESCRIPTOR_NAMES)
    assert np.isnan(free["half_angle_deg"]) and np.isfinite(held["half_angle_deg"]) and held["half_angle_deg"] > 0
    assert held["apex_radius_nm"] == free["apex_radius_nm"]  # measurable from the free draws: unchanged
