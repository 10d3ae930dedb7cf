"""A tiny trained and exported model, shared by the tests of the model's path."""

from __future__ import annotations

import pytest

from synthetic import TINY_MODEL, TINY_SIMTIP

TINY = {
    "model": TINY_MODEL,
    "simtip": TINY_SIMTIP,
    "batch_size": 2,
    "validate_every": 5,
    "validation_size": 2,
    "checkpoint_every": 1,
}


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """A model trained one step and exported as ``tiny`` (its weights, description and card)."""
    pytest.importorskip("e3nn")
    from napari_se3afm.lab.export import export_model
    from napari_se3afm.lab.training import TrainConfig, train

    root = tmp_path_factory.mktemp("model")
    train(TrainConfig(**TINY, steps=1), root / "run")
    return export_model(root / "run", root / "models", "tiny", card="# tiny\n")
