"""Named models: safetensors weights + JSON sidecar (architecture, sha256), verified before loading.

A model ``NAME`` is ``NAME.safetensors`` beside ``NAME.json`` (``{"config": {...}, "sha256": ...}``)
and a model card ``NAME.md``. Files are looked for, in order, at an explicit path, in
``$SE3AFM_MODEL_DIR``, in the repository's ``models/`` and in the installed package's ``models``
folder. The weights' sha256 must match the sidecar (:class:`ModelIntegrityError` otherwise); loading
goes through ``safetensors`` only, so no pickle is ever read. Loaded models are cached per (file,
device); fine-tuning works on a copy (:func:`load_model` with ``fresh=True``).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from ..errors import ModelIntegrityError, ParameterError, reject_unknown_settings

__all__ = ["DEFAULT_MODEL", "available_models", "find_model", "load_model", "open_model", "sha256_of"]

DEFAULT_MODEL = "se3afm-v1"
#: listed first when installed, so that a panel's model choice starts on the default
PREFERRED_MODELS = (DEFAULT_MODEL,)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("SE3AFM_MODEL_DIR"):
        dirs.append(Path(os.environ["SE3AFM_MODEL_DIR"]))
    package = Path(__file__).resolve().parents[1]
    dirs.append(package.parents[1] / "models")  # a source checkout
    dirs.append(package / "models")  # an installed copy
    return dirs


def available_models() -> list[str]:
    """Names of the models installed in the search folders: :data:`PREFERRED_MODELS` first, then by name."""
    names = {p.stem for d in _search_dirs() if d.is_dir() for p in d.glob("*.safetensors")}
    rank = {name: i for i, name in enumerate(PREFERRED_MODELS)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def find_model(name_or_path: str | Path = DEFAULT_MODEL) -> Path:
    """Return the ``.safetensors`` file of a model name or path, or raise a clear :class:`ParameterError`."""
    p = Path(name_or_path)
    if p.suffix == ".safetensors":
        if p.is_file():
            return _with_sidecar(p)
        raise ParameterError(f"model file {p} does not exist")
    for folder in _search_dirs():
        candidate = folder / f"{name_or_path}.safetensors"
        if candidate.is_file():
            return _with_sidecar(candidate)
    raise ParameterError(
        f"no model {str(name_or_path)!r} found in {', '.join(str(d) for d in _search_dirs())}; train one "
        "with 'se3afm lab train' and export it with 'se3afm lab export-model', or use --method btr"
    )


def _with_sidecar(weights: Path) -> Path:
    """``weights``, once its description ``NAME.json`` is found beside it (architecture and sha256)."""
    if not weights.with_suffix(".json").is_file():
        raise ParameterError(
            f"model {weights} has no description {weights.with_suffix('.json').name} beside it (its architecture "
            "and checksum); copy it with the weights"
        )
    return weights


def _read_sidecar(weights: Path) -> dict:
    sidecar = weights.with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelIntegrityError(
            f"model {weights.name}: its description {sidecar.name} is missing or damaged ({exc})"
        ) from None
    if not isinstance(meta, dict):
        raise ModelIntegrityError(f"model {weights.name}: its description {sidecar.name} is not a JSON object")
    return meta


@lru_cache(maxsize=8)
def _cached(path: str, mtimes: tuple[float, float], device: str):
    return _load(Path(path), device)


def _load(path: Path, device: str):
    """The verified model on ``device`` and its sidecar, read once."""
    import torch
    from safetensors.torch import load_file

    from .model import SE3AFM, ModelConfig

    meta = _read_sidecar(path)
    actual = sha256_of(path)
    if actual != meta.get("sha256"):
        raise ModelIntegrityError(
            f"model {path} has sha256 {actual[:12]}…, but its description records {str(meta.get('sha256'))[:12]}…; "
            "the file is damaged or was replaced"
        )
    config = meta.get("config")
    if not isinstance(config, dict):
        raise ModelIntegrityError(
            f"model {path.name}: its description {path.stem}.json gives no architecture ('config')"
        )
    try:
        reject_unknown_settings(config, ModelConfig, "model architecture")
        model = SE3AFM(ModelConfig(**config))
        model.load_state_dict(load_file(str(path), device="cpu"))
    except Exception as exc:  # a wrong key, value or layer size: the two files do not belong together
        problem = str(exc).strip().splitlines()
        raise ModelIntegrityError(
            f"model {path.name}: its weights do not fit the architecture its description gives "
            f"({problem[0] if len(problem) == 1 else ' '.join(line.strip() for line in problem[:2])})"
        ) from None
    meta["sigma"] = _sigma_model(path, meta.get("sigma_model"))
    return model.to(torch.device(device)).eval(), meta


def _sigma_model(path: Path, described):
    """The sidecar's σ model, checked once at load: a damaged one fails here, named, not mid-run."""
    from .sigma import SigmaModel

    if described is None:
        return None
    try:
        return SigmaModel.from_dict(described)
    except ValueError as exc:
        raise ModelIntegrityError(
            f"model {path.name}: the σ model in its description {path.stem}.json is damaged ({exc})"
        ) from None


def open_model(name_or_path: str | Path = DEFAULT_MODEL, device: str = "cpu", *, fresh: bool = False):
    """The verified model on ``device``, its weights file and its sidecar (architecture, training
    configuration, σ model as written, and under ``"sigma"`` the σ model checked and typed: a
    :class:`~napari_se3afm.nn.sigma.SigmaModel` or None), found and read once (cached until either
    file changes; ``fresh=True`` returns a private copy of the model to modify)."""
    path = find_model(name_or_path)
    if fresh:
        model, meta = _load(path, device)
    else:
        mtimes = (path.stat().st_mtime, path.with_suffix(".json").stat().st_mtime)
        model, meta = _cached(str(path.resolve()), mtimes, str(device))
    return model, path, meta


def load_model(name_or_path: str | Path = DEFAULT_MODEL, device: str = "cpu", *, fresh: bool = False):
    """Load a verified model on ``device`` (cached; ``fresh=True`` returns a private copy to modify)."""
    return open_model(name_or_path, device, fresh=fresh)[0]
