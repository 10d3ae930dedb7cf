"""Scan-line scars are found exactly where they were put and filled from the lines beside them;
the surface's own ridges, steps and imprints are left alone; on real files only the Veeco scan's
scars are found."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from napari_se3afm.image.levelling import DEFAULT_STEPS, level
from napari_se3afm.image.morphology import dilate
from napari_se3afm.image.scars import remove_scars, scar_lines_text, scar_mask, scar_text
from napari_se3afm.io import read_height_map
from napari_se3afm.tip import cone_tip, pyramid_tip
from synthetic import spike_array


@pytest.fixture
def particles(rng) -> np.ndarray:
    """A noisy image of particles, 128 x 128 px, heights up to 40 nm."""
    tip = pyramid_tip(15, 2.0, sides=4, half_angle_deg=30, apex_radius_nm=4)
    return dilate(spike_array(128, 16, (20, 40), rng), tip) + rng.normal(0, 0.2, (128, 128))


def test_scars_are_found_where_they_were_put_and_filled(particles):
    scarred = particles.copy()
    scarred[40:42] -= 60.0  # a two-line trench across the whole scan
    scarred[90, 30:110] += 35.0  # a one-line stroke along half a line
    scarred[:2] = particles.min() - 80.0  # the first lines, recorded before the scan settled
    truth = np.zeros(particles.shape, dtype=bool)
    truth[40:42] = truth[90, 30:110] = truth[:2] = True
    filled, mask = remove_scars(scarred)
    np.testing.assert_array_equal(mask, truth)
    np.testing.assert_array_equal(filled[~mask], scarred[~mask])
    # interpolated from the lines beside: as close to the unscarred heights as those lines are
    beside = np.abs(particles[39] - particles[42]).max() + 1.0
    assert np.abs(filled - particles)[40:42].max() <= beside
    assert np.abs(filled - particles)[:2].max() <= np.abs(particles[:2] - particles[2]).max() + 1e-9


def test_the_surfaces_own_ridges_steps_and_imprints_are_not_scars(rng):
    cone = cone_tip(21, 2.0, half_angle_deg=20, apex_radius_nm=4)
    fibre = np.zeros((96, 128))
    fibre[48, 10:118] = 25.0  # a fibre along the scan lines, imaged by a cone
    assert not scar_mask(dilate(fibre, cone) + rng.normal(0, 0.1, fibre.shape)).any()
    steps = np.repeat(np.array([0.0, 8.0, 3.0]), 32)[:, None] * np.ones((1, 128))  # terraces along x
    assert not scar_mask(steps + rng.normal(0, 0.1, steps.shape)).any()
    for ridges in ([0], [0, 1]):  # gratings whose ridges, one or two lines wide, run along the lines
        grating = np.zeros((96, 128))
        grating[[r for r in range(96) if r % (3 + len(ridges)) in ridges]] = 20.0
        assert not scar_mask(grating + rng.normal(0, 0.2, grating.shape)).any()
    edge = np.zeros((96, 128))
    edge[2:48] = 30.0  # a terrace two lines from the edge: seen from one side, at heights found elsewhere
    assert not scar_mask(edge + rng.normal(0, 0.1, edge.shape)).any()
    with np.load(
        resources.files("napari_se3afm") / "data" / "spikes_sample.npz"
    ) as sample:  # spikes cut by the top edge
        for image in (sample["image"], level(sample["image"], ("plane",))[0]):  # levelled: its top lowest
            assert not scar_mask(image).any()  # a spike's imprint cut by the top edge


def test_scars_are_filled_by_default_and_reported(particles):
    scarred = particles.copy()
    scarred[60] -= 50.0
    found: dict = {}
    out, done = level(scarred, DEFAULT_STEPS, found)
    assert done == ["plane", "scars", "zero-min"] and found == {"scar_pixels": 128, "scar_lines": [60]}
    kept, _ = level(scarred, ("plane", "zero-min"), found)
    assert np.abs(out - kept).max() > 40 and found == {"scar_pixels": 128, "scar_lines": [60]}


def test_on_real_files_only_the_veeco_scars_are_found(real_data_dir):
    veeco = "nanoafmr__Veeco_20160622.003"
    for path in sorted(p for p in real_data_dir.iterdir() if p.suffix != ".md"):
        z, _ = level(read_height_map(path).height, ("plane",))
        lines = set(np.nonzero(scar_mask(z).any(axis=1))[0].tolist())
        if path.name != veeco:
            assert not lines, path.name
            continue
        # independently: lines whose median stands 20 nm off the median of the five lines around
        medians = np.median(z, axis=1)
        around = np.array([np.median(np.r_[medians[max(j - 5, 0) : j], medians[j + 1 : j + 6]]) for j in range(len(z))])
        assert lines == set(np.nonzero(np.abs(medians - around) > 20)[0].tolist()) | {482}  # 482: three quarters


def test_the_scars_are_named_by_their_lines():
    assert scar_text({"scar_lines": [0, 1, 480, 481, 482, 508], "scar_pixels": 3000}) == (
        "scan-line scars filled from the lines beside them: lines 0–1, 480–482, 508 (3000 pixels)"
    )
    assert scar_text({"scar_lines": [], "scar_pixels": 0}) == scar_text({}) == ""
    assert scar_lines_text([7]) == "line 7"
