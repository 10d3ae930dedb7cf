"""The model method of reconstruct: σ maps, the blind tip bound and the image, the benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("e3nn")

from napari_se3afm.cli import main
from napari_se3afm.errors import ParameterError
from napari_se3afm.lab.simtip import SimTipConfig, simulate
from napari_se3afm.pipeline import reconstruct


def test_the_model_method_gives_a_tip_by_the_convention_and_the_spread_of_its_samples(exported, tmp_path):
    """The tip by the project's convention (odd window, apex 0 at the centre, all ≤ 0, no σ at the
    apex), σ maps of the samples' spread, and a command line that writes exactly what the library
    returns for the same settings (seeded samples: the same numbers)."""
    b = simulate(1, seed=3, config=SimTipConfig(image_px=32, tip_px=7), dtype=torch.float64)
    img, px = b.image[0].numpy(), float(b.pixel_nm[0])
    result = reconstruct(
        img, px, method="model", model=str(exported), mc_samples=3, levelling=(), calibrated_sigma=False
    )
    assert result.tip.shape == (7, 7) and result.tip[3, 3] == 0 and result.tip.max() <= 0
    assert result.info["mc_samples"] == 3 and result.tip_std.shape == (7, 7) and result.tip_std[3, 3] == 0
    assert result.surface_std.shape == img.shape and np.isfinite(result.surface_std).all()
    assert (result.surface_std >= 0).all() and (result.surface_std > 0).mean() > 0.5  # dropout 0.2 on every pass
    with pytest.raises(ParameterError, match="mc-samples"):
        reconstruct(img, px, method="model", model=str(exported), mc_samples=1)
    path = tmp_path / "scan.npy"
    np.save(path, img)
    out = tmp_path / "out"
    argv = ["reconstruct", str(path), "--pixel-nm", str(px), "--method", "model", "--model", str(exported)]
    assert main([*argv, "--mc-samples", "3", "--no-level", "-o", str(out), "-q"]) == 0
    again = reconstruct(img, px, method="model", model=str(exported), mc_samples=3, levelling=())
    with np.load(out / "scan.npz") as res:
        np.testing.assert_allclose(res["surface"], again.surface, rtol=0, atol=1e-9)
        np.testing.assert_allclose(res["tip"], again.tip, rtol=0, atol=1e-9)
        np.testing.assert_allclose(res["surface_std"], again.surface_std, rtol=0, atol=1e-9)
    tuned = tmp_path / "tuned"  # fine-tuned on the scan first: two steps, recorded, the convention kept
    assert main([*argv, "--mc-samples", "3", "--finetune-steps", "2", "--no-level", "-o", str(tuned), "-q"]) == 0
    with np.load(tuned / "scan.npz") as res:
        assert res["tip"][3, 3] == 0 and res["tip"].max() <= 0
        info = json.loads(str(res["info"]))
    assert info["finetune_steps"] == 2 and len(info["finetune_losses"]) == 2


def test_model_output_is_held_to_the_blind_tip_bound_and_to_the_image(exported):
    from napari_se3afm.image.morphology import dilate, erode, opening
    from napari_se3afm.image.noise import estimate_noise
    from napari_se3afm.nn.consistency import FIT_NOISE_FACTOR, iter_tip_bound
    from napari_se3afm.progress import run_to_completion

    b = simulate(1, seed=8, config=SimTipConfig(image_px=48, tip_px=7), dtype=torch.float64)
    img, px = b.image[0].numpy(), float(b.pixel_nm[0])
    runs = {
        c: reconstruct(img, px, method="model", model=str(exported), mc_samples=3, levelling=(), consistency=c)
        for c in ("none", "tip", "image", "tight")
    }
    bound = run_to_completion(iter_tip_bound(img, 7))
    tight = run_to_completion(iter_tip_bound(img, 7, mode="residual"))
    assert np.all(tight <= bound + 1e-12)
    assert np.any(runs["none"].tip > bound + 1e-4)  # the one-step network is blunter than the image allows
    for c, limit_tip in (("tip", bound), ("image", bound), ("tight", tight)):
        assert runs[c].info["consistency"] == c and np.all(runs[c].tip <= limit_tip + 1e-6)
    inner = (slice(6, -6), slice(6, -6))
    for c in ("image", "tight"):  # both lift the surface until it reproduces the image wherever the tip can
        tip, surface = runs[c].tip, runs[c].surface
        assert np.all(surface <= erode(img, tip) + 1e-6)
        residual = (img - dilate(surface, tip))[inner]
        limit = np.maximum(FIT_NOISE_FACTOR * estimate_noise(img), img - opening(img, tip))[inner]
        assert residual.min() > -1e-6 and np.all(residual <= limit + 1e-6)
    tip, surface = runs["image"].tip, runs["image"].surface
    residual = (img - dilate(surface, tip))[inner]
    before = (img - dilate(runs["tip"].surface, tip))[inner]
    assert runs["image"].info["raised_pixels"] > 0 and residual.mean() < before.mean()


def test_benchmark_scores_the_model_with_calibration(exported, tmp_path):
    from napari_se3afm.lab.benchmark import benchmark, tables_markdown
    from napari_se3afm.lab.simtip.storage import read_split, write_split

    split = read_split(write_split(tmp_path / "s.npz", 2, seed=4, config=SimTipConfig(image_px=32, tip_px=7)))
    result = benchmark(split, ["btr", "model"], model=str(exported))
    model_rows = [r for r in result.records if r["method"] == "model"]
    # (an untrained tiny tip saturates at the clamp, so its tip σ may be 0 and tip calibration absent)
    assert all({"tip_rmse", "surface_rmse", "surface_ece", "surface_spearman"} <= set(r) for r in model_rows)
    assert all(0 <= r["surface_ece"] <= 1 for r in model_rows)
    md = tables_markdown(result)
    assert "| model |" in md.split("Table 6")[1]  # the calibration table now has the model's row
    # pooled over all pixels of both scans: only methods with σ, and a table of its own
    assert set(result.pooled) == {"model"} and 0 <= result.pooled["model"]["surface_ece"] <= 1
    assert "| model |" in md.split("Pooled over all pixels")[1].split("Physical plausibility")[0]
