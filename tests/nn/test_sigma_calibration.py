"""σ calibration: the fit, its use at inference, the CLI, and an interrupted fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("e3nn")

from napari_se3afm.cli import main
from napari_se3afm.lab.simtip import SimTipConfig, simulate
from napari_se3afm.nn.registry import load_model
from napari_se3afm.pipeline import reconstruct

VALID_SIGMA = {"terms": ["mc"], "weights": [2.0], "floor_nm": 0.1}


def _scan_stats(level: float) -> dict:
    from napari_se3afm.nn.sigma import SCAN_STATS

    return {n: (level if n == "bound_gap" else 1.0) for n in SCAN_STATS}


def test_sigma_fit_recovers_the_shape_within_scans_and_the_scale_between_them():
    from napari_se3afm.lab.calibration import fit_sigma_model
    from napari_se3afm.nn.sigma import SigmaPart, apply_sigma_model

    # errors of known structure: σ = s · sqrt((2·f1)² + 1) with the scan's scale s = 3 · bound_gap^0.5
    # (the other statistics constant); f2 is irrelevant
    rng = np.random.default_rng(0)
    errors, features, stats = [], [], []
    levels = np.exp(rng.uniform(-3, 3, 60))
    for level in levels:
        f1, f2 = rng.uniform(0.1, 2, 3000), rng.uniform(0, 1, 3000)
        errors.append(rng.normal(size=f1.size) * 3 * level**0.5 * np.sqrt((2 * f1) ** 2 + 1))
        features.append(np.stack([f1, f2]))
        stats.append(_scan_stats(level))
    fit = fit_sigma_model(errors, features, stats)
    assert fit["weights"][0] == pytest.approx(2, rel=0.05) and fit["floor_nm"] == 1.0
    assert fit["weights"][1] < 0.2  # an irrelevant feature gets (almost) no weight
    model = SigmaPart.from_dict({"terms": ["a", "b"], **fit}, ("a", "b"))
    f = {"a": np.array([0.0, 1.0]), "b": np.array([0.5, 0.5])}
    for level in (0.1, 1.0, 10.0):  # the scale between scans: within 10 % of the truth
        np.testing.assert_allclose(
            apply_sigma_model(model, f, _scan_stats(level)), 3 * level**0.5 * np.sqrt([1.0, 5.0]), rtol=0.1
        )
    # a scan far outside the fitted ones gets the largest scale seen in the fit, not an extrapolated one
    largest = 3 * levels.max() ** 0.5
    assert apply_sigma_model(model, f, _scan_stats(1e12))[0] == pytest.approx(largest, rel=0.1)
    assert apply_sigma_model(model, f, _scan_stats(1e-12))[0] == pytest.approx(3 * levels.min() ** 0.5, rel=0.1)


def test_sigma_calibration_is_fitted_and_applied(exported, tmp_path):
    import shutil

    from napari_se3afm.image.morphology import erode
    from napari_se3afm.image.noise import estimate_noise
    from napari_se3afm.lab.calibration import calibrate_model
    from napari_se3afm.lab.metrics import probe_depth
    from napari_se3afm.nn.sigma import ScanScale, scan_statistics, surface_features, tip_features

    copy = tmp_path / "cal.safetensors"
    shutil.copy(exported, copy)
    shutil.copy(exported.with_suffix(".json"), copy.with_suffix(".json"))
    b = simulate(1, seed=8, config=SimTipConfig(image_px=32, tip_px=7), dtype=torch.float64)
    img, px = b.image[0].numpy(), float(b.pixel_nm[0])
    raw = reconstruct(img, px, method="model", model=str(copy), mc_samples=4, levelling=())
    model = calibrate_model(copy, n=3, samples=3)
    assert json.loads(copy.with_suffix(".json").read_text())["sigma_model"]["validation_scans"] == 3
    load_model(copy)  # the sidecar changed, the weights did not: still verified
    cal = reconstruct(img, px, method="model", model=str(copy), mc_samples=4, levelling=())
    np.testing.assert_array_equal(cal.surface, raw.surface)  # seeded MC: the same samples
    # σ recomputed here from its definition (module docstring), independently of the pipeline
    feats = surface_features(raw.surface_std, img, erode(img, raw.tip), raw.surface)
    depth = np.minimum(np.abs(raw.tip), probe_depth(img, 7))  # deeper than the scan probes: held at that depth
    stats = scan_statistics(
        img,
        feats,
        tip_features(raw.tip_std, raw.tip, probe_depth(img, 7)),
        estimate_noise(img),
        px,
        probe_depth(img, 7),
    )
    assert stats["noise"] == raw.info["noise_nm"] and stats["bound_gap"] == pytest.approx(feats["bound_gap"].mean())
    w, c = model["surface"]["weights"], model["surface"]["floor_nm"]
    assert model["surface"]["terms"] == ["mc", "bound_gap", "slope", "contact_gap"]
    shape = np.sqrt(sum((wk * feats[t]) ** 2 for wk, t in zip(w, model["surface"]["terms"], strict=False)) + c**2)
    np.testing.assert_allclose(
        cal.surface_std, shape * ScanScale.from_dict(model["surface"]["scale"]).of(stats), rtol=1e-9
    )
    tw, tc = model["tip"]["weights"], model["tip"]["floor_nm"]
    expected_tip = np.sqrt((tw[0] * raw.tip_std) ** 2 + (tw[1] * depth) ** 2 + tc**2)
    expected_tip *= ScanScale.from_dict(model["tip"]["scale"]).of(stats)
    expected_tip[3, 3] = 0.0  # the apex is fixed
    np.testing.assert_allclose(cal.tip_std, expected_tip, rtol=1e-9)
    # a σ model fitted before the scan scale or a term existed is applied as it was: named terms, no scale
    meta = json.loads(copy.with_suffix(".json").read_text())
    meta["sigma_model"]["surface"] = {"terms": ["mc", "bound_gap", "slope"], "weights": w[:3], "floor_nm": 0.3}
    copy.with_suffix(".json").write_text(json.dumps(meta))
    old = reconstruct(img, px, method="model", model=str(copy), mc_samples=4, levelling=())
    expected = np.sqrt(
        sum((wk * feats[t]) ** 2 for wk, t in zip(w, ["mc", "bound_gap", "slope"], strict=False)) + 0.3**2
    )
    np.testing.assert_allclose(old.surface_std, expected, rtol=1e-9)


def test_cli_calibrate_model_rewrites_only_the_sigma_model(exported, tmp_path, capsys):
    import shutil

    copy = tmp_path / "cli.safetensors"
    shutil.copy(exported, copy)
    shutil.copy(exported.with_suffix(".json"), copy.with_suffix(".json"))
    before = json.loads(copy.with_suffix(".json").read_text())
    assert main(["lab", "calibrate-model", str(copy), "-n", "1"]) == 2
    assert "takes 2 to 100,000 validation scans" in capsys.readouterr().err
    assert json.loads(copy.with_suffix(".json").read_text()) == before  # nothing written
    assert main(["lab", "calibrate-model", str(tmp_path / "missing.safetensors")]) == 2
    assert main(["lab", "calibrate-model", str(copy), "-n", "2"]) == 0
    after = json.loads(copy.with_suffix(".json").read_text())
    assert after["sigma_model"]["validation_scans"] == 2 and "scale" in after["sigma_model"]["tip"]
    assert {k: v for k, v in after.items() if k != "sigma_model"} == {
        k: v for k, v in before.items() if k != "sigma_model"
    }
    load_model(copy)  # the weights' sha256 still verifies


def test_interrupted_calibration_keeps_the_previous_sigma_model(exported, tmp_path):
    import shutil

    from napari_se3afm.lab.calibration import iter_calibrate_model

    copy = tmp_path / "cal.safetensors"
    shutil.copy(exported, copy)
    sidecar = copy.with_suffix(".json")
    meta = json.loads(exported.with_suffix(".json").read_text())
    previous = {"surface": {**VALID_SIGMA, "weights": [1.2345]}, "tip": None}  # recognisable, and valid
    meta["sigma_model"] = previous
    sidecar.write_text(json.dumps(meta))
    gen = iter_calibrate_model(copy, n=3, samples=2)
    next(gen)
    gen.close()  # stopped after one scan (Ctrl-C, a cancelled job)
    assert json.loads(sidecar.read_text())["sigma_model"] == previous
