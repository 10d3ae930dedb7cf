"""Synthetic test inputs with a known answer, shared by the test modules."""

from __future__ import annotations

import numpy as np


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


#: a joint model small enough to train a step in a second (7 px tip, 32 px images): for the tests that
#: need trained weights, not good ones
TINY_MODEL = {
    "tip_px": 7,
    "hidden": "4x0e + 2x1o",
    "layers": 1,
    "shells": 2,
    "lmax": 1,
    "patches": 2,
    "stride": 3,
    "unet_base": 8,
    "unet_depth": 1,
    "dropout": 0.2,
}
#: SimTip images for :data:`TINY_MODEL`
TINY_SIMTIP = {"image_px": 32, "tip_px": 7}
