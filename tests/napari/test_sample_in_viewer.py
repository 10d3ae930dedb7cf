"""The plugin's sample data opens in a real napari viewer (headless under Xvfb) with nm scale."""

from __future__ import annotations

import numpy as np


def test_open_sample_through_the_manifest(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-se3afm", "spikes")
    names = [layer.name for layer in viewer.layers]
    assert names == ["spikes sample scan", "spikes sample true surface", "spikes sample true tip"]
    scan = viewer.layers["spikes sample scan"]
    np.testing.assert_array_equal(scan.scale, [2.0, 2.0])
    assert scan.data.shape == (128, 128)
