"""A training run's weights as a named model: safetensors, the JSON sidecar with its sha256, the card.

What :mod:`napari_se3afm.nn.registry` loads and verifies is made here, from a run of
:mod:`napari_se3afm.lab.training` (``se3afm lab export-model``).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ParameterError
from ..nn.registry import DEFAULT_MODEL, sha256_of

__all__ = ["export_model"]


def export_model(
    checkpoint_dir: str | Path,
    outdir: str | Path,
    name: str = DEFAULT_MODEL,
    *,
    card: str = "",
    overwrite: bool = False,
) -> Path:
    """Write a training run's weights as ``outdir/NAME.safetensors`` with its ``.json`` sidecar and ``.md`` card."""
    from safetensors.torch import load_file, save_file

    from ..io.atomic import atomic_write

    checkpoint_dir, outdir = Path(checkpoint_dir), Path(outdir)
    try:
        state = json.loads((checkpoint_dir / "checkpoint.json").read_text())
        tensors = load_file(str(checkpoint_dir / "checkpoint.safetensors"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{checkpoint_dir} holds no complete training run ({exc})") from None
    weights = {k[6:]: v.float().contiguous() for k, v in tensors.items() if k.startswith("model.")}
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / f"{name}.safetensors"
    atomic_write(target, lambda tmp: save_file(weights, str(tmp), metadata={"name": name}), overwrite=overwrite)
    meta = {
        "name": name,
        "config": state["model_config"],
        "sha256": sha256_of(target),
        "steps": state["step"],
        "train_config": state["train_config"],
    }
    atomic_write(
        target.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(meta, indent=1)), overwrite=overwrite
    )
    if card:
        atomic_write(target.with_suffix(".md"), lambda tmp: tmp.write_text(card), overwrite=overwrite)
    return target
