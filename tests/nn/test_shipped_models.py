"""The models in models/: the default and at most one other, each verified, with its card, and each
reproducible from a training config in configs/ and the model it started from."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("e3nn")

from napari_se3afm.lab.training import TrainConfig, load_train_config
from napari_se3afm.nn.registry import DEFAULT_MODEL, load_model, sha256_of

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (ROOT / "models").glob("*.safetensors"))


def test_the_default_and_at_most_one_other_ship_and_the_default_is_offered_first(tmp_path, monkeypatch):
    from napari_se3afm.nn.registry import available_models

    assert DEFAULT_MODEL in SHIPPED and len(SHIPPED) <= 2
    listed = available_models()
    assert listed[0] == DEFAULT_MODEL and set(SHIPPED) <= set(listed)
    (tmp_path / "aaa-model.safetensors").write_bytes(b"")  # another installed model never comes first
    monkeypatch.setenv("SE3AFM_MODEL_DIR", str(tmp_path))
    assert available_models()[0] == DEFAULT_MODEL


def _in_git(commit: str, path: str) -> bool | None:
    """Whether the repository's history holds ``path`` at ``commit`` (None: no history here)."""
    if not (ROOT / ".git").exists():
        return None
    proc = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}:{path}"], capture_output=True)
    return proc.returncode == 0


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_verifies_and_can_be_made_again(name):
    weights = ROOT / "models" / f"{name}.safetensors"
    sidecar = json.loads(weights.with_suffix(".json").read_text())
    assert sidecar["sha256"] == sha256_of(weights)
    assert weights.stat().st_size <= 30 * 2**20
    card = weights.with_suffix(".md").read_text()
    assert card.startswith(f"# Model card: {name}\n")
    model = load_model(name, "cpu", fresh=True)
    assert model.config.as_dict() == {**model.config.as_dict(), **sidecar["config"]}
    # the training configuration stored with the weights is one of configs/, to the last setting
    trained = dataclasses.asdict(TrainConfig(**sidecar["train_config"]))
    sources = [
        p for p in sorted((ROOT / "configs").glob("*.json")) if dataclasses.asdict(load_train_config(p)) == trained
    ]
    assert sources, f"no file in configs/ holds {name}'s training configuration"
    assert f"configs/{sources[0].name}" in card
    # and what it started from is shipped, or the card says which commit of this repository holds it
    start = trained["init_from"]
    if start is not None and start not in SHIPPED:
        found = re.search(rf"git show ([0-9a-f]{{7,40}}):models/{re.escape(start)}\.safetensors", card)
        assert found, f"{name}'s card does not say where {start} can be found"
        held = _in_git(found.group(1), f"models/{start}.safetensors")
        if held is None:
            pytest.skip("no git history here: the commit the card names cannot be looked up")
        assert held, f"commit {found.group(1)} holds no models/{start}.safetensors"
