"""The height map handed from the readers to the rest of the library."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class HeightMap:
    """One height channel in nm, its pixel size ``(dy, dx)`` in nm when known, and where it came from."""

    height: np.ndarray
    pixel_nm: tuple[float, float] | None
    source: str = ""
    metadata: dict = field(default_factory=dict)
