"""The models in models/: each verifies, has its card, and is reproducible from a config in configs/."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

pytest.importorskip("e3nn")

from napari_se3afm.registry import load_model, sha256_of  # noqa: E402
from napari_se3afm.training import TrainConfig, load_train_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (ROOT / "models").glob("*.safetensors"))


def test_models_are_shipped_and_the_one_for_real_scans_is_offered_first(tmp_path, monkeypatch):
    from napari_se3afm.registry import available_models

    assert "se3afm-cpu-rmse" in SHIPPED and "se3afm-cpu-wide-rmse" in SHIPPED
    listed = available_models()
    assert listed[0] == "se3afm-cpu-wide-rmse" and sorted(listed[1:]) == listed[1:]
    assert set(SHIPPED) <= set(listed)
    (tmp_path / "se3afm-v1.safetensors").write_bytes(b"")  # a default model, when there is one, comes first
    monkeypatch.setenv("SE3AFM_MODEL_DIR", str(tmp_path))
    assert available_models()[:2] == ["se3afm-v1", "se3afm-cpu-wide-rmse"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_verifies_and_is_made_by_a_config_of_the_repository(name):
    weights = ROOT / "models" / f"{name}.safetensors"
    sidecar = json.loads(weights.with_suffix(".json").read_text())
    assert sidecar["sha256"] == sha256_of(weights)
    assert weights.stat().st_size <= 30 * 2**20  # issue 5: at most 30 MB
    card = weights.with_suffix(".md").read_text()
    assert card.startswith(f"# Model card: {name}\n")
    model = load_model(name, "cpu", fresh=True)
    assert model.config.as_dict() == {**model.config.as_dict(), **sidecar["config"]}
    # the training configuration stored with the weights is one of configs/, to the last setting,
    # and what it starts from is itself shipped: every model can be made again from this repository
    trained = dataclasses.asdict(TrainConfig(**sidecar["train_config"]))
    sources = [p for p in sorted((ROOT / "configs").glob("*.json"))
               if dataclasses.asdict(load_train_config(p)) == trained]
    assert sources, f"no file in configs/ holds {name}'s training configuration"
    assert trained["init_from"] in (None, *SHIPPED)
    assert f"configs/{sources[0].name}" in card
