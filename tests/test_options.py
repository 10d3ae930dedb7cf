"""One options object per reconstruction, checked once in the core, used by every caller alike."""

from __future__ import annotations

import numpy as np
import pytest

from napari_se3afm.errors import ParameterError
from napari_se3afm.options import ClassicalOptions, ModelOptions, ReconstructOptions, reconstruct_options
from napari_se3afm.pipeline import iter_reconstruct, reconstruct
from napari_se3afm.scan import Channel, Scan


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "nope"}, "unknown method"),
        ({"method": "btr", "tip_px": 4}, "odd number of pixels"),
        ({"method": "btr", "tip_px": 5, "tip_nm": 3.0}, "not both"),
        ({"method": "btr", "tip_nm": float("inf")}, "> 0 nm"),
        ({"method": "btr", "threshold_nm": -1.0}, ">= 0 nm"),
        ({"method": "dbtr", "threshold_nm": 0.5}, "btr methods only"),
        ({"method": "dbtr", "steps": -1}, "--steps must be a whole number from 0"),
        ({"method": "model", "tip_px": 11}, "do not apply to the model"),
        ({"method": "model", "mc_samples": 1}, "--mc-samples must be a whole number from 2"),
        ({"method": "model", "consistency": "loose"}, "unknown consistency"),
        ({"method": "model", "finetune_steps": -3}, "--finetune-steps must be a whole number from 0"),
        ({"method": "btr", "levelling": ("plane", "wobble")}, "wobble"),
        ({"method": "btr", "volume_shape": (32, 32)}, "three sizes"),
    ],
)
def test_bad_settings_are_refused_before_any_work(settings, message):
    with pytest.raises(ParameterError, match=message):
        reconstruct_options(**settings)


def test_an_unknown_setting_is_named_not_a_type_error():
    with pytest.raises(ParameterError, match="mc_sample"):
        next(iter_reconstruct(np.zeros((64, 64)), 1.0, method="btr", mc_sample=8))


def test_each_method_gets_its_own_options_and_auto_follows_the_tip_options():
    btr = reconstruct_options("btr", tip_px=11, mc_samples=8)
    assert btr == ReconstructOptions(ClassicalOptions("btr", tip_px=11))  # the model's settings are not its own
    assert btr.name == "btr"
    assert reconstruct_options("auto", tip_px=11).name == "btr"  # a tip size is a classical option
    model = reconstruct_options("model", mc_samples=8, consistency="tight")
    assert model.method == ModelOptions(mc_samples=8, consistency="tight") and model.name == "model"


def test_options_and_settings_give_the_same_reconstruction_and_not_both(rng):
    image = rng.normal(size=(64, 64)).cumsum(0)
    options = reconstruct_options("btr", tip_px=9)
    a = reconstruct(image, 1.0, options)
    b = reconstruct(image, 1.0, method="btr", tip_px=9)
    np.testing.assert_array_equal(a.surface, b.surface)
    np.testing.assert_array_equal(a.tip, b.tip)
    with pytest.raises(ParameterError, match="not both"):
        next(iter_reconstruct(image, 1.0, options, tip_px=9))


def test_a_scan_goes_in_as_it_is(rng):
    height = rng.normal(size=(64, 64)).cumsum(1)
    scan = Scan(
        channels=[Channel(name="Height", data=height, unit="nm", kind="height")], pixel_nm=(2.0, 2.0), format="test"
    )
    a = reconstruct(scan, method="btr", tip_px=9)
    b = reconstruct(height, 2.0, method="btr", tip_px=9)
    np.testing.assert_array_equal(a.surface, b.surface)
    assert a.pixel_nm == (2.0, 2.0)
