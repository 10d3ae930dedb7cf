"""Fixed SimTip splits on disk: one compressed ``.npz`` of float32 arrays plus the exact configuration.

A split file holds ``image`` (N, H, W), ``surface`` (N, H, W), ``tip`` (N, K, K), ``pixel_nm`` (N,),
the family codes ``tip_type``/``surface_type`` (indices into ``TIP_TYPES``/``SURFACE_TYPES``), the
sample ``indices``, the stream ``seed``, and JSON strings ``config`` and ``params``. It can always be
regenerated from its seed and configuration; the file only saves the time.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import AfmFileError, FileExistsSe3afmError, ParameterError
from ...io.atomic import atomic_write
from ...progress import Progress, ProgressGenerator, run_to_completion
from .config import SURFACE_TYPES, TIP_TYPES, SimTipConfig, config_from_dict, config_to_dict

__all__ = ["SimTipSplit", "iter_generate_split", "iter_write_split", "read_split", "write_split"]

_FORMAT = "se3afm-simtip-1"


@dataclass(frozen=True)
class SimTipSplit:
    """A SimTip split read back from disk (numpy, float32 heights in nm)."""

    image: np.ndarray
    surface: np.ndarray
    tip: np.ndarray
    pixel_nm: np.ndarray
    tip_type: list[str]
    surface_type: list[str]
    params: list[dict]
    indices: np.ndarray
    seed: int
    config: SimTipConfig

    def __len__(self) -> int:
        return int(self.image.shape[0])


def _json_default(value):
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in SimTip parameters")


def iter_generate_split(
    n: int, *, seed: int, config: SimTipConfig | None = None, batch_size: int = 64, device: str = "cpu"
) -> ProgressGenerator[SimTipSplit]:
    """Generate samples ``0..n-1`` of stream ``seed`` in memory, as they would be read back from disk."""
    from .generator import simulate  # torch is only needed when generating

    if int(n) < 1:
        raise ParameterError(f"number of samples must be >= 1, got {n!r}")
    cfg = config or SimTipConfig()
    parts: dict[str, list] = {k: [] for k in ("image", "surface", "tip", "pixel_nm")}
    tip_type: list[str] = []
    surface_type: list[str] = []
    params: list[dict] = []
    for start in range(0, int(n), batch_size):
        batch = simulate(range(start, min(int(n), start + batch_size)), seed=seed, config=cfg, device=device)
        for key in parts:
            parts[key].append(getattr(batch, key).detach().cpu().numpy().astype(np.float32))
        tip_type += batch.tip_type
        surface_type += batch.surface_type
        params += batch.params
        yield Progress(min(int(n), start + batch_size), int(n), "generating SimTip samples")
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    return SimTipSplit(
        **arrays,
        tip_type=tip_type,
        surface_type=surface_type,
        params=json.loads(json.dumps(params, default=_json_default)),
        indices=np.arange(int(n)),
        seed=int(seed),
        config=cfg,
    )


def iter_write_split(
    path: str | Path,
    n: int,
    *,
    seed: int,
    config: SimTipConfig | None = None,
    batch_size: int = 64,
    device: str = "cpu",
    overwrite: bool = False,
) -> ProgressGenerator[Path]:
    """Generate samples ``0..n-1`` of stream ``seed`` and write them to ``path`` (``.npz``)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ParameterError(f"a SimTip split is written as .npz, got {path.name!r}")
    if path.exists() and not overwrite:  # refuse before the work, not after minutes of it
        raise FileExistsSe3afmError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    split = yield from iter_generate_split(n, seed=seed, config=config, batch_size=batch_size, device=device)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                image=split.image,
                surface=split.surface,
                tip=split.tip,
                pixel_nm=split.pixel_nm,
                tip_type=np.asarray([TIP_TYPES.index(t) for t in split.tip_type], np.int8),
                surface_type=np.asarray([SURFACE_TYPES.index(s) for s in split.surface_type], np.int8),
                indices=split.indices,
                seed=np.int64(split.seed),
                format=np.str_(_FORMAT),
                config=np.str_(json.dumps(config_to_dict(split.config))),
                params=np.str_(json.dumps(split.params)),
            )

    return atomic_write(path, write, overwrite=overwrite)


def write_split(path: str | Path, n: int, **options) -> Path:
    """Run :func:`iter_write_split` to completion (same arguments) and return the path written."""
    return run_to_completion(iter_write_split(path, n, **options))


def read_split(path: str | Path) -> SimTipSplit:
    """Read a split written by :func:`write_split`; a file that is not one raises :class:`AfmFileError`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z.files or str(z["format"]) != _FORMAT:
                raise AfmFileError(path, "it is not a SimTip split written by se3afm lab simulate")
            data = {k: z[k] for k in z.files}
    except AfmFileError:
        raise
    except FileNotFoundError:
        raise AfmFileError(path, "it does not exist") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise AfmFileError(path, f"it cannot be read as a SimTip split ({exc})") from None
    try:
        return SimTipSplit(
            image=data["image"],
            surface=data["surface"],
            tip=data["tip"],
            pixel_nm=data["pixel_nm"],
            tip_type=[TIP_TYPES[i] for i in data["tip_type"]],
            surface_type=[SURFACE_TYPES[i] for i in data["surface_type"]],
            params=json.loads(str(data["params"])),
            indices=data["indices"],
            seed=int(data["seed"]),
            config=config_from_dict(json.loads(str(data["config"]))),
        )
    except (KeyError, IndexError, ValueError, ParameterError) as exc:
        raise AfmFileError(path, f"its SimTip content is incomplete or damaged ({exc})") from None
