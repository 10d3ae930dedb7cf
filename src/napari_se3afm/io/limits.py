"""How large a scan a file may declare: checked from its headers before anything is unpacked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import AfmFileError

__all__ = ["MAX_SAMPLES", "check_samples"]

#: the most samples one file may hold (8192² height values, 512 MB as float64); checked from the
#: headers before anything is unpacked, so a small compressed file cannot claim gigabytes
MAX_SAMPLES = 8192 * 8192


def check_samples(path: Path, shape: tuple[int, ...]) -> None:
    """Refuse a declared array shape larger than :data:`MAX_SAMPLES` before it is loaded."""
    count = int(np.prod([int(n) for n in shape], dtype=np.float64)) if shape else 1
    if count > MAX_SAMPLES:
        raise AfmFileError(
            path,
            f"declares {' x '.join(str(int(n)) for n in shape)} samples, more than the {MAX_SAMPLES:,} "
            "(8192 x 8192) an AFM scan holds; damaged, or not a scan",
        )
