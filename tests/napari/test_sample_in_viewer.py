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


def test_open_simtip_sample_with_its_truth(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-se3afm", "simtip")
    assert [layer.name for layer in viewer.layers] == [
        "SimTip sample scan",
        "SimTip sample true surface",
        "SimTip sample true tip",
    ]
    scan, surface, tip = viewer.layers
    assert scan.scale[0] == scan.scale[1] > 0 and tuple(surface.scale) == tuple(scan.scale)
    # the scan and the surface share contrast so they compare at a glance
    assert tuple(scan.contrast_limits) == tuple(surface.contrast_limits)
    k = tip.data.shape[0]
    assert tip.data.shape == (k, k) and k % 2 == 1 and tip.data[k // 2, k // 2] == 0 and tip.data.max() <= 0
    # the sample really is the dilation of its surface by its tip, plus artefacts of a fraction of a nm
    from napari_se3afm.image.morphology import dilate

    c = k // 2
    d = dilate(surface.data.astype(float), tip.data.astype(float))[c:-c, c:-c]
    assert np.median(np.abs(scan.data[c:-c, c:-c] - d)) < 1.0
