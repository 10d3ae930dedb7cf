"""Named models: export, the sha256 and description checks, and the choice of the method."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("e3nn")

from napari_se3afm.cli import main
from napari_se3afm.errors import ModelIntegrityError, ParameterError
from napari_se3afm.lab.simtip import SimTipConfig, simulate
from napari_se3afm.nn.registry import find_model, load_model

VALID_SIGMA = {"terms": ["mc"], "weights": [2.0], "floor_nm": 0.1}
SCALE = {"stats": ["bound_gap"], "mean": [0.0], "std": [1.0], "coef": [0.5], "bias": 0.0, "log_range": [-1.0, 1.0]}


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


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda m: [m], "is not a JSON object"),
        (lambda m: {k: v for k, v in m.items() if k != "config"}, r"gives no architecture \('config'\)"),
        (lambda m: {**m, "config": {**m["config"], "bogus": 1}}, "unknown model architecture setting.*bogus"),
        (lambda m: {**m, "config": {**m["config"], "unet_base": 2 * m["config"]["unet_base"]}}, "size mismatch"),
        (lambda m: {**m, "sigma_model": {"surface": [1, 2], "tip": None}}, "σ model .* is damaged"),
        (
            lambda m: {**m, "sigma_model": {"surface": {**VALID_SIGMA, "weights": [1, 2]}}},
            "weights has 2 values, not 1",
        ),
        (lambda m: {**m, "sigma_model": {"surface": {**VALID_SIGMA, "terms": ["nope"]}}}, "surface part: its terms"),
        (
            lambda m: {**m, "sigma_model": {"surface": {**VALID_SIGMA, "scale": {**SCALE, "std": [0.0]}}}},
            "the scale's std must be positive",
        ),
        (lambda m: {**m, "sigma_model": {"surface": VALID_SIGMA, "extra": 1}}, "must map 'surface' and 'tip'"),
    ],
    ids=[
        "list",
        "no-config",
        "unknown-key",
        "layer-size",
        "sigma-list",
        "sigma-lengths",
        "sigma-term",
        "sigma-std",
        "sigma-key",
    ],
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
    monkeypatch.setattr("napari_se3afm.nn.registry._search_dirs", lambda: [tmp_path / "none"])
    assert main(["reconstruct", *common, "-o", str(tmp_path / "c")]) == 0  # no weights: BTR
    with np.load(tmp_path / "c" / "scan.npz") as res:
        assert "surface_std" not in res.files
    assert main(["reconstruct", *common, "--method", "model", "--tip-px", "5", "-o", str(tmp_path / "d")]) == 2
    assert "do not apply" in capsys.readouterr().err
