"""Shipped-weights path (export, sha256 check, cache), the model method of reconstruct, fine-tuning."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("e3nn")

from napari_se3afm.cli import main
from napari_se3afm.errors import ModelIntegrityError, ParameterError
from napari_se3afm.finetune import finetune, iter_finetune
from napari_se3afm.lab.export import export_model
from napari_se3afm.lab.simtip import SimTipConfig, simulate
from napari_se3afm.lab.training import TrainConfig, train
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.registry import find_model, load_model
from synthetic import TINY_MODEL, TINY_SIMTIP

TINY = {
    "model": TINY_MODEL,
    "simtip": TINY_SIMTIP,
    "batch_size": 2,
    "validate_every": 5,
    "validation_size": 2,
    "checkpoint_every": 1,
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    train(TrainConfig(**TINY, steps=1), root / "run")
    return export_model(root / "run", root / "models", "tiny", card="# tiny\n")


def test_export_writes_weights_sidecar_and_card(exported):
    meta = json.loads(exported.with_suffix(".json").read_text())
    assert meta["config"]["tip_px"] == 7 and len(meta["sha256"]) == 64 and meta["steps"] == 1
    assert exported.with_suffix(".md").read_text() == "# tiny\n"
    assert load_model(exported) is load_model(exported)  # cached
    assert load_model(exported, fresh=True) is not load_model(exported)  # a private copy to fine-tune


def test_damaged_weights_are_refused(exported, tmp_path):
    bad = tmp_path / "bad.safetensors"
    data = bytearray(exported.read_bytes())
    data[-1] ^= 0xFF
    bad.write_bytes(bytes(data))
    bad.with_suffix(".json").write_text(exported.with_suffix(".json").read_text())
    with pytest.raises(ModelIntegrityError, match="sha256"):
        load_model(bad)
    with pytest.raises(ParameterError, match="se3afm lab train"):
        find_model("no-such-model")


VALID_SIGMA = {"terms": ["mc"], "weights": [2.0], "floor_nm": 0.1}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda m: [m], "is not a JSON object"),
        (lambda m: {k: v for k, v in m.items() if k != "config"}, r"gives no architecture \('config'\)"),
        (lambda m: {**m, "config": {**m["config"], "bogus": 1}}, "unknown model architecture setting.*bogus"),
        (lambda m: {**m, "config": {**m["config"], "unet_base": 2 * m["config"]["unet_base"]}}, "size mismatch"),
        (lambda m: {**m, "sigma_model": {"surface": [1, 2], "tip": None}}, "σ model .* is damaged"),
        (lambda m: {**m, "sigma_model": {"surface": {**VALID_SIGMA, "weights": [1, 2]}}}, "σ model .* is damaged"),
    ],
    ids=["list", "no-config", "unknown-key", "layer-size", "sigma-list", "sigma-lengths"],
)
def test_damaged_descriptions_are_refused_in_one_named_line(exported, tmp_path, damage, message):
    weights = tmp_path / "damaged.safetensors"
    weights.write_bytes(exported.read_bytes())
    meta = json.loads(exported.with_suffix(".json").read_text())
    weights.with_suffix(".json").write_text(json.dumps({**meta, "sigma_model": None}))
    load_model(weights, fresh=True)  # intact: it loads
    weights.with_suffix(".json").write_text(json.dumps({**meta, "sigma_model": {"surface": VALID_SIGMA, "tip": None}}))
    load_model(weights, fresh=True)
    weights.with_suffix(".json").write_text(json.dumps(damage(meta)))
    with pytest.raises(ModelIntegrityError, match=f"^model damaged.safetensors: .*{message}") as caught:
        load_model(weights, fresh=True)
    assert "\n" not in str(caught.value)


def test_reconstruct_with_the_model_gives_uncertainty(exported, tmp_path):
    b = simulate(1, seed=3, config=SimTipConfig(image_px=32, tip_px=7), dtype=torch.float64)
    img, px = b.image[0].numpy(), float(b.pixel_nm[0])
    result = reconstruct(img, px, method="model", model=str(exported), mc_samples=3, levelling=())
    assert result.tip.shape == (7, 7) and result.tip[3, 3] == 0 and result.tip.max() <= 0
    assert result.surface_std.shape == img.shape and result.surface_std.mean() > 0  # dropout 0.2
    assert result.tip_std.shape == (7, 7) and result.info["mc_samples"] == 3
    with pytest.raises(ParameterError, match="mc-samples"):
        reconstruct(img, px, method="model", model=str(exported), mc_samples=1)
    path = tmp_path / "scan.npy"
    np.save(path, img)
    out = tmp_path / "out"
    argv = [
        "reconstruct",
        str(path),
        "--pixel-nm",
        str(px),
        "--method",
        "model",
        "--model",
        str(exported),
        "--mc-samples",
        "2",
        "--finetune-steps",
        "2",
        "--no-level",
        "-o",
        str(out),
        "-q",
    ]
    assert main(argv) == 0
    with np.load(out / "scan.npz") as res:
        assert {"surface_std", "tip_std"} <= set(res.files)


def test_model_output_is_held_to_the_blind_tip_bound_and_to_the_image(exported):
    from napari_se3afm.consistency import FIT_NOISE_FACTOR, iter_tip_bound
    from napari_se3afm.morphology import dilate, erode, opening
    from napari_se3afm.noise import estimate_noise
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


def _scan_stats(level: float) -> dict:
    from napari_se3afm.sigma import SCAN_STATS

    return {n: (level if n == "bound_gap" else 1.0) for n in SCAN_STATS}


def test_sigma_fit_recovers_the_shape_within_scans_and_the_scale_between_them():
    from napari_se3afm.lab.calibration import fit_sigma_model
    from napari_se3afm.sigma import apply_sigma_model

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
    model = {"terms": ["a", "b"], **fit}
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

    from napari_se3afm.lab.calibration import calibrate_model
    from napari_se3afm.lab.metrics import probe_depth
    from napari_se3afm.morphology import erode
    from napari_se3afm.noise import estimate_noise
    from napari_se3afm.sigma import scan_scale, scan_statistics, surface_features, tip_features

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
    np.testing.assert_allclose(cal.surface_std, shape * scan_scale(model["surface"]["scale"], stats), rtol=1e-9)
    tw, tc = model["tip"]["weights"], model["tip"]["floor_nm"]
    expected_tip = np.sqrt((tw[0] * raw.tip_std) ** 2 + (tw[1] * depth) ** 2 + tc**2)
    expected_tip *= scan_scale(model["tip"]["scale"], stats)
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


def test_cli_calibrate_model_rewrites_only_the_sigma_model(exported, tmp_path, capsys):
    import shutil

    from napari_se3afm.cli import main

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


def test_cli_auto_method_uses_the_model_only_when_it_can(exported, tmp_path, monkeypatch, capsys):
    b = simulate(1, seed=3, config=SimTipConfig(image_px=32, tip_px=7))
    path = tmp_path / "scan.npy"
    np.save(path, b.image[0].numpy())
    common = [str(path), "--pixel-nm", "1", "--no-level", "-q", "--mc-samples", "2"]
    assert main(["reconstruct", *common, "--model", str(exported), "-o", str(tmp_path / "a")]) == 0
    with np.load(tmp_path / "a" / "scan.npz") as res:
        assert "surface_std" in res.files  # auto chose the model
    assert main(["reconstruct", *common, "--model", str(exported), "--tip-px", "5", "-o", str(tmp_path / "b")]) == 0
    with np.load(tmp_path / "b" / "scan.npz") as res:
        assert "surface_std" not in res.files and res["tip"].shape == (5, 5)  # a tip size means BTR
    monkeypatch.setattr("napari_se3afm.registry._search_dirs", lambda: [tmp_path / "none"])
    assert main(["reconstruct", *common, "-o", str(tmp_path / "c")]) == 0  # no weights: BTR
    with np.load(tmp_path / "c" / "scan.npz") as res:
        assert "surface_std" not in res.files
    assert main(["reconstruct", *common, "--method", "model", "--tip-px", "5", "-o", str(tmp_path / "d")]) == 2
    assert "do not apply" in capsys.readouterr().err


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


def test_finetuning_sees_the_tips_that_inference_uses(exported, monkeypatch):
    """Fine-tuning clips the tips to the blind bound as the reconstruction will: a bound below every
    tip leaves no gradient for the tip network, and the pipeline passes its own bound (none for "none")."""
    import napari_se3afm.finetune as ft
    from napari_se3afm.consistency import tip_bound

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
