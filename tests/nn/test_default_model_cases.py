"""The default model on scans with a known answer that once went wrong.

Three round particles 60 nm high under a sharp cone (14° half-angle, 6 nm apex, 1.95 nm pixels): every
feature is blunter than the tip's flanks, so the blind bound from the image's maxima is the
particles' own shape, and the network, whose prior draws a blunter tip still, was held at that bound
(25.9 nm off). Only the particles' flanks show the tip's flanks; the tip must now come from them.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("e3nn")

from napari_se3afm.lab.cases import particles_under_a_sharp_cone
from napari_se3afm.lab.metrics import probe_depth, tip_errors
from napari_se3afm.nn.consistency import bound_is_the_answer
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.tip import cone_tip

TIP_PX = 31


def test_a_sharp_cone_over_round_particles_is_drawn_from_their_flanks():
    image, surface, tip, pixel = particles_under_a_sharp_cone()
    depth = probe_depth(surface, TIP_PX)
    model = reconstruct(image, pixel, levelling=None)
    btr = reconstruct(image, pixel, method="btr", levelling=None, tip_px=TIP_PX)
    model_error = tip_errors(model.tip, tip, depth)["tip_rmse"]
    btr_error = tip_errors(btr.tip, tip, depth)["tip_rmse"]
    assert btr_error > 20  # the maxima's bound: the particles' shape
    assert model.info["tip_bound"] == "residual"
    assert model_error < 0.5 * btr_error


def test_the_bound_is_tightened_only_where_the_tip_lies_on_it(rng):
    from napari_se3afm.lab.simtip import SPLIT_SEEDS, simulate

    bound = cone_tip(TIP_PX, 1.95, half_angle_deg=30, apex_radius_nm=10)
    assert bound_is_the_answer(bound, bound, noise_nm=0.05)
    sharper = bound - rng.uniform(1, 5, bound.shape)
    sharper[TIP_PX // 2, TIP_PX // 2] = 0
    assert not bound_is_the_answer(np.minimum(sharper, bound), bound, noise_nm=0.05)
    # SimTip test scans, whose maxima show the tip: the network's tip stays below the bound
    batch = simulate([0, 1], seed=SPLIT_SEEDS["test"])
    for image, pixel in zip(batch.image.double().numpy(), batch.pixel_nm.tolist(), strict=True):
        assert reconstruct(image, pixel, levelling=None).info["tip_bound"] == "partial"
