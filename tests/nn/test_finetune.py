"""Fine-tuning on one scan: the loss falls, it can stop, and it sees the tips inference uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("e3nn")

from napari_se3afm.errors import ParameterError
from napari_se3afm.lab.simtip import SimTipConfig, simulate
from napari_se3afm.nn.finetune import finetune, iter_finetune
from napari_se3afm.nn.registry import load_model
from napari_se3afm.pipeline import reconstruct


def test_finetuning_lowers_the_loss_and_can_stop(exported):
    model = load_model(exported)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    b = simulate(1, seed=5, config=SimTipConfig(image_px=32, tip_px=7))
    img, px = b.image[0].numpy(), float(b.pixel_nm[0])
    tuned = finetune(model, img, px, steps=30, learning_rate=1e-2, prior_strength=0.1, adapt="all")
    # the reconstruction misfit through the simulator falls as the copy adapts to this scan
    assert np.mean(tuned.losses[-3:]) < 0.85 * np.mean(tuned.losses[:3])
    assert tuned.losses[-1] <= min(tuned.losses[:5])
    assert not all(
        torch.equal(a, b)
        for a, b in zip(tuned.model.surface_net.parameters(), model.surface_net.parameters(), strict=False)
    )
    tip_only = finetune(model, img, px, steps=5, learning_rate=1e-2)  # the default adapts the tip network alone
    assert all(
        torch.equal(a, b)
        for a, b in zip(tip_only.model.surface_net.parameters(), model.surface_net.parameters(), strict=False)
    )
    with pytest.raises(ParameterError, match="adapts"):
        finetune(model, img, px, steps=1, adapt="surface")
    gen = iter_finetune(model, img, px, steps=1000)
    reports = [next(gen) for _ in range(2)]
    gen.close()  # what a GUI's Cancel does: no further steps, no error
    assert [r.step for r in reports] == [1, 2] and reports[0].loss is not None
    for k, v in model.state_dict().items():  # the cached pretrained model is untouched
        assert torch.equal(v, before[k])


def test_finetuning_sees_the_tips_that_inference_uses(exported, monkeypatch):
    """Fine-tuning clips the tips to the blind bound as the reconstruction will: a bound below every
    tip leaves no gradient for the tip network, and the pipeline passes its own bound (none for "none")."""
    import napari_se3afm.nn.finetune as ft
    from napari_se3afm.nn.consistency import tip_bound

    model = load_model("se3afm-cpu-shells")  # a trained tip network: the tiny one's tips are flat, without gradient
    b = simulate(1, seed=5, config=SimTipConfig(image_px=64, tip_px=31))
    img, px = b.image[0].numpy(), float(b.pixel_nm[0])

    def tip_net_moved(**options) -> bool:
        tuned = finetune(model, img, px, steps=2, **options).model
        return any(
            not torch.equal(a, b) for a, b in zip(tuned.tip_net.parameters(), model.tip_net.parameters(), strict=False)
        )

    assert tip_net_moved() and not tip_net_moved(tip_bound=np.full((31, 31), -1e3))
    b = simulate(1, seed=5, config=SimTipConfig(image_px=32, tip_px=7))
    img, px = b.image[0].numpy(), float(b.pixel_nm[0])

    seen = {}
    real = ft.iter_finetune

    def spy(*args, tip_bound=None, **kwargs):
        seen["bound"] = tip_bound
        return (yield from real(*args, tip_bound=tip_bound, **kwargs))

    monkeypatch.setattr(ft, "iter_finetune", spy)

    def tuned_run(**options):
        opts = {"method": "model", "model": exported, "mc_samples": 2, "levelling": (), "device": "cpu"}
        return reconstruct(img, px, finetune_steps=1, **opts, **options)

    tuned_run()
    np.testing.assert_array_equal(seen["bound"], tip_bound(img, 7))
    tuned_run(consistency="none")
    assert seen["bound"] is None
    with pytest.raises(
        ParameterError, match=r"unknown fine-tuning setting\(s\) lr, tip_bound; known: adapt, bluntness, learning_rate"
    ):
        tuned_run(finetune_options={"lr": 1e-3, "tip_bound": None})
    # the caller chooses how to fit, the pipeline what is fitted
    assert {"learning_rate", "prior_strength", "adapt", "noise_tolerance"} <= set(ft.FINETUNE_OPTIONS)
    assert not {"model", "image", "pixel_nm", "steps", "tip_bound"} & set(ft.FINETUNE_OPTIONS)
