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


def spike_array(size: int, spacing: int, height: tuple[float, float], rng: np.random.Generator, jitter: int = 3):
    """Isolated one-pixel spikes on a flat background: every spike images the tip down to its height."""
    surface = np.zeros((size, size))
    first = spacing // 2
    for y in range(first, size - spacing // 4, spacing):
        for x in range(first, size - spacing // 4, spacing):
            surface[y + rng.integers(-jitter, jitter + 1), x + rng.integers(-jitter, jitter + 1)] = rng.uniform(*height)
    return surface


def random_asymmetric_tip(k: int, rng: np.random.Generator, depth: float = 5.0) -> np.ndarray:
    """A random tip obeying the P convention with no symmetry at all."""
    tip = -rng.uniform(0.0, depth, size=(k, k))
    tip[k // 2, k // 2] = 0.0
    return tip
