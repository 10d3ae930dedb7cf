"""Levelling recovers known tilts and scan-line offsets exactly, and ignores sharp features."""

from __future__ import annotations

import numpy as np
import pytest

from napari_se3afm.errors import ParameterError
from napari_se3afm.image.levelling import (
    align_rows,
    align_rows_differences,
    level,
    polynomial_background,
    subtract_plane,
)
from synthetic import spike_array


def test_plane_is_removed_exactly_despite_spikes(rng):
    spikes = spike_array(96, 24, (40, 60), rng)
    yy, xx = np.mgrid[:96, :96]
    levelled = subtract_plane(spikes + 0.7 * xx - 0.3 * yy + 12.0)
    np.testing.assert_allclose(levelled - levelled.min(), spikes - spikes.min(), atol=1e-9)


def test_row_offsets_are_removed_exactly(rng):
    spikes = spike_array(64, 24, (40, 60), rng)
    offsets = rng.normal(0, 5, (64, 1))
    np.testing.assert_allclose(align_rows(spikes + offsets), spikes, atol=1e-9)
    diff = align_rows_differences(spikes + offsets)
    np.testing.assert_allclose(diff - diff[0, 0], spikes - spikes[0, 0], atol=1e-9)


def test_polynomial_background_removes_bow():
    yy, xx = np.mgrid[:50, :60] / 10.0
    bow = 0.5 * xx**2 - 0.2 * xx * yy + 0.1 * yy**2 + xx
    np.testing.assert_allclose(polynomial_background(bow, 2), 0, atol=1e-9)


def test_level_records_steps_and_rejects_unknown():
    z = np.arange(12.0).reshape(3, 4)
    out, done = level(z, ("plane", "zero-min"))
    assert done == ["plane", "zero-min"] and out.min() == 0 and np.ptp(out) < 1e-12
    with pytest.raises(ParameterError, match="unknown levelling step"):
        level(z, ("flatten",))
