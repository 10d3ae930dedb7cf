"""What a scan may hold: its declared size (checked from the headers before anything is unpacked)
and its values (checked once read)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import AfmFileError

__all__ = ["MAX_CHANNEL_VALUE", "MAX_HEIGHT_NM", "MAX_SAMPLES", "check_samples", "values_problem"]

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


#: the largest height an AFM scan records, in nm (1 mm); beyond, a damaged file or a wrong unit
MAX_HEIGHT_NM = 1e6
#: the largest value any channel may hold: napari shows channels as float32, which ends here
MAX_CHANNEL_VALUE = float(np.finfo(np.float32).max)


def values_problem(channel) -> str | None:
    """What is wrong with a channel's values (infinite, beyond float32, heights beyond 1 mm), or None.

    NaN (a masked pixel) is left alone; no copy of the data is made."""
    data = np.asarray(channel.data)
    if data.size == 0 or not np.issubdtype(data.dtype, np.number):
        return None
    highest, lowest = float(np.fmax.reduce(data, axis=None)), float(np.fmin.reduce(data, axis=None))
    if math.isnan(highest):
        return None  # all NaN: said where a height map is asked for
    if math.isinf(highest) or math.isinf(lowest):
        return f"holds {int(np.isinf(data).sum()):,} infinite values (a damaged file?)"
    largest = max(abs(highest), abs(lowest))
    if channel.unit == "nm" and channel.kind == "height" and largest > MAX_HEIGHT_NM:
        return f"holds heights up to {largest:.3g} nm, which no AFM scan records (a damaged file, or a wrong unit?)"
    if largest > MAX_CHANNEL_VALUE:
        return f"holds values up to {largest:.3g} {channel.unit}, beyond what an image can show (a damaged file?)"
    return None
