"""Shared fixtures: one torch thread (CI has 2 cores, often one busy), seeded RNG, real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def real_data_dir() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real AFM files not found at {REAL_DATA} (the shared data folder is absent)")
    return REAL_DATA
