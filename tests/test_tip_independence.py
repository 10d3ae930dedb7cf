"""The tip-independence benchmark: its measurements against analytic shapes, and a small run of it."""

from __future__ import annotations

import numpy as np
import pytest

from napari_se3afm.lab.tip_independence import (
    METHODS,
    QUANTITIES,
    TIPS,
    Feature,
    feature_table,
    iter_tip_independence,
    markdown_table,
    measure,
)
from napari_se3afm.progress import run_to_completion

PIXEL = 0.25


def _sphere(size: int, radius: float) -> np.ndarray:
    """A sphere of ``radius`` nm resting on a flat substrate at 0, centred: r + sqrt(r² − d²)."""
    yy, xx = (np.mgrid[:size, :size] - size // 2) * PIXEL
    d2 = yy**2 + xx**2
    return np.where(d2 < radius**2, radius + np.sqrt(np.clip(radius**2 - d2, 0, None)), 0.0)


def _cylinder(size: int, radius: float, length: float) -> np.ndarray:
    """A straight cylinder of ``radius`` and ``length`` nm lying on the substrate along x, centred."""
    yy, xx = (np.mgrid[:size, :size] - size // 2) * PIXEL
    inside = (yy**2 < radius**2) & (np.abs(xx) <= length / 2)
    return np.where(inside, radius + np.sqrt(np.clip(radius**2 - yy**2, 0, None)), 0.0)


def _whole(size: int) -> list[Feature]:
    return [Feature(peak=(size // 2, size // 2), window=(slice(0, size), slice(0, size)))]


def test_a_sphere_measures_its_height_diameter_area_and_volume():
    """Height 2R; at half height (z = R) the sphere is widest: width 2R; above 0.5 nm all of its disc,
    area πR²; volume πR³ + (2/3)πR³ (the cylinder under the upper hemisphere and the hemisphere)."""
    r = 6.0
    (height, area, width, volume) = measure(_sphere(96, r), _whole(96), 0.0, PIXEL, smoothing_px=0)[0]
    assert height == pytest.approx(2 * r, abs=0.01)
    assert width == pytest.approx(2 * r, abs=2 * PIXEL)
    assert area == pytest.approx(np.pi * r**2, rel=0.03)
    assert volume == pytest.approx(5 / 3 * np.pi * r**3, rel=0.03)


def test_a_lying_strand_measures_its_diameter_across_its_backbone():
    """A DNA-like cylinder of radius 1 nm: 2 nm high and 2 nm wide at half height, area 2rL, volume
    L r² (2 + π/2)."""
    r, length = 1.0, 20.0
    (height, area, width, volume) = measure(_cylinder(128, r, length), _whole(128), 0.0, PIXEL, smoothing_px=0)[0]
    assert height == pytest.approx(2 * r, abs=0.01)
    assert width == pytest.approx(2 * r, abs=2 * PIXEL)
    assert (2 * r - PIXEL) * length <= area <= (2 * r + PIXEL) * (length + PIXEL)  # within a pixel row
    assert volume == pytest.approx(length * r**2 * (2 + np.pi / 2), rel=0.08)


def test_a_noise_spike_does_not_set_a_features_height_once_smoothed():
    """A smooth bump 5 nm high with a one-pixel spike on its flank that rises to 7 nm: measured as it is,
    the spike is its height; after the one-pixel Gaussian every map gets first, the bump is (within 2 %)."""
    yy, xx = np.mgrid[:96, :96] - 48
    bump = 5.0 * np.exp(-(yy**2 + xx**2) / (2 * 8.0**2))
    bump[56, 48] += 4.0
    assert measure(bump, _whole(96), 0.0, PIXEL, smoothing_px=0)[0, 0] > 7.0
    assert measure(bump, _whole(96), 0.0, PIXEL)[0, 0] == pytest.approx(5.0, rel=0.02)


def test_a_small_run_widens_the_raw_features_with_the_tip_and_reports_every_method():
    """Proteins imaged by the sharpest and the bluntest tip of the series: blunting widens and enlarges
    the raw features (the physics the benchmark is about), the table has a row per method and quantity."""
    pytest.importorskip("e3nn")
    results = run_to_completion(
        iter_tip_independence(kinds=("proteins",), size_px=128, pixel_nm=1.0, tips=(TIPS[0], TIPS[-1]))
    )
    res = results["proteins"]
    assert res["raw"].shape == (2, len(res["truth"]), len(QUANTITIES)) and len(res["truth"]) >= 3
    area, width = QUANTITIES.index("area_nm2"), QUANTITIES.index("width_nm")
    for q in (area, width):
        grown = res["raw"][1, :, q] > res["raw"][0, :, q]
        assert grown.mean() >= 0.75
        assert np.nanmedian(res["raw"][0, :, q] / res["truth"][:, q]) >= 0.95  # imaging never shrinks them
    rows = feature_table(results)
    assert {(r["method"], r["quantity"]) for r in rows} == {(m, q) for m in METHODS for q in QUANTITIES}
    model = [r for r in rows if r["method"] == "default model"]
    assert all(0.0 <= r["covered_2sigma"] <= 1.0 for r in model)
    assert "| proteins | width_nm | default model |" in markdown_table(rows, "small")
