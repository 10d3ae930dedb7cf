"""Training the joint model on SimTip generated on the fly (``se3afm lab train --config FILE``).

Losses (the paper's Eq. 4–7, as implemented here; by default every term is divided by the image's
variance plus 1 nm², or by the probe depth squared, so rough and flat scans weigh alike):

* reconstruction through the differentiable simulator: ``‖dilate(Ŝ, P̂) − I‖² / var(I)``;
* supervision on SimTip ground truth: tip error clipped at the probe depth (as the benchmark
  measures it) and surface error away from the border; by default each scan's mean squared error
  divided by its probe depth² (tip) or image variance (surface), or, with ``supervision="rmse"``,
  each scan's RMSE in nm, the quantity whose mean over scans the benchmark reports;
* physics: surface smoothness (squared gradient of Ŝ − S is not known at test time, so of Ŝ itself,
  small weight); the tip's ``P ≤ 0`` with apex 0 and the surface's erosion bound hold by
  construction (see :mod:`napari_se3afm.nn`);
* prior: AdamW weight decay.

Checkpoints are safetensors (model, optimiser and RNG state as tensors) plus a JSON file; nothing
is unpickled. A run resumes from its checkpoint with the same SimTip stream position, so a run
split over several sessions sees the same data as an uninterrupted one. Under ``torchrun`` each
process trains on its own slice of the stream and gradients are averaged (DDP; gloo on CPU, NCCL
on CUDA).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import ParameterError, reject_unknown_settings
from ..image.morphology import dilate
from ..nn.model import SE3AFM, ModelConfig
from ..progress import Progress, ProgressGenerator, run_to_completion
from .metrics import probe_depth, surface_errors, tip_errors
from .simtip import SPLIT_SEEDS, config_from_dict, simulate
from .simtip.config import read_json_file

__all__ = ["TrainConfig", "iter_train", "load_train_config", "train"]

CHECKPOINT = "checkpoint.safetensors"
STATE = "checkpoint.json"
LOG = "log.jsonl"


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; ``model`` and ``simtip`` are partial dictionaries of their configs."""

    model: dict = field(default_factory=lambda: {"tip_px": 15, "patches": 4, "stride": 3})
    simtip: dict = field(default_factory=lambda: {"image_px": 64, "tip_px": 15})
    steps: int = 1000
    batch_size: int = 8
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    w_reconstruction: float = 1.0
    w_tip: float = 1.0
    w_surface: float = 1.0
    w_smooth: float = 0.01
    #: False: the surface losses do not train the tip network (the "without joint optimisation" ablation)
    joint: bool = True
    seed: int = 0
    validate_every: int = 100
    validation_size: int = 32
    checkpoint_every: int = 50
    device: str = "auto"
    amp: bool = True
    #: "constant", or "cosine": from ``learning_rate`` down to 5 % of it at ``steps`` (after ``warmup_steps``
    #: of linear rise); the rate is a function of the step alone, so a resumed run follows the same curve
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    #: start from these weights (a model name or ``.safetensors`` path, sha256-checked like any model)
    #: instead of a random initialisation; the architecture must be the same. Used only at step 0.
    init_from: str | None = None
    #: clip the tips to each scan's blind (BTR) bound before the surface network, as
    #: ``reconstruct(consistency="tip" or "image")`` does: the surface network then learns on the tips
    #: it is given at inference (costs one BTR per scan, about 0.04 s at 128²)
    tip_bound: bool = False
    #: "normalised": each scan's supervised MSE over its probe depth² (tip) or image variance + 1 nm²
    #: (surface), so that flat and rough scans weigh alike; "rmse": each scan's RMSE in nm, the
    #: benchmark's own figure, so that the training minimises the mean it reports (deep and rough
    #: scans, whose errors are largest in nm, then weigh more)
    supervision: str = "normalised"
    #: weight of the squared tip error where the tip is drawn sharper (lower) than the truth, against
    #: 1 where it is drawn blunter: a tip drawn too sharp is what makes the default's catastrophic
    #: scans (docs/scan_by_scan.md), while a blunter one stays under the blind bound
    tip_sharp_weight: float = 1.0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "validate_every", "validation_size", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.learning_rate > 0:
            raise ParameterError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ParameterError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if int(self.warmup_steps) < 0:
            raise ParameterError(f"warmup_steps must be >= 0, got {self.warmup_steps!r}")
        if not (math.isfinite(self.tip_sharp_weight) and self.tip_sharp_weight > 0):
            raise ParameterError(f"tip_sharp_weight must be a finite number > 0, got {self.tip_sharp_weight!r}")
        if self.supervision not in ("normalised", "rmse"):
            raise ParameterError(f"supervision must be 'normalised' or 'rmse', got {self.supervision!r}")
        reject_unknown_settings(self.model, ModelConfig, "model")
        if ModelConfig(**self.model).tip_px != self.simtip.get("tip_px", 31):  # with ModelConfig's own checks
            raise ParameterError("model.tip_px and simtip.tip_px must be equal")

    def learning_rate_at(self, step: int) -> float:
        """The learning rate for the update that follows ``step`` completed steps."""
        if step < self.warmup_steps:
            return self.learning_rate * (step + 1) / self.warmup_steps
        if self.lr_schedule == "constant":
            return self.learning_rate
        span = max(self.steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / span, 1.0)
        return self.learning_rate * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def load_train_config(path: str | Path) -> TrainConfig:
    """Read a JSON training configuration (any subset of :class:`TrainConfig`'s fields)."""
    data = read_json_file(path, "training config")
    reject_unknown_settings(data, TrainConfig, "training")
    return TrainConfig(**data)


def _distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """(rank, world size, this process's device) under torchrun, initialising the process group
    once; (0, 1, ``device``) otherwise.

    On CUDA each process takes the GPU of its local rank, and NCCL is used when every local process
    has a GPU of its own; otherwise (the CPU, or more processes than GPUs) gloo, which NCCL's
    one-process-per-GPU rule would refuse."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    import torch.distributed as dist

    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        own_gpus = device.type == "cuda" and torch.cuda.device_count() >= local
        dist.init_process_group("nccl" if own_gpus else "gloo")
    return dist.get_rank(), world, device


#: added to a mean squared error (nm²) before its square root, so that a perfect scan has a finite gradient
RMSE_EPS_NM2 = 1e-4


def _clipped_tip_mse(
    pred: torch.Tensor, true: torch.Tensor, depth: torch.Tensor, sharp_weight: float = 1.0
) -> torch.Tensor:
    """Mean squared tip error per sample (nm²), both tips clipped at the probe depth; errors where the
    prediction lies below the truth (sharper) weigh ``sharp_weight``."""
    d = depth.view(-1, 1, 1)
    error = torch.maximum(pred, -d) - torch.maximum(true, -d)
    weight = torch.where(error < 0, sharp_weight, 1.0) if sharp_weight != 1.0 else 1.0
    return (weight * error**2).mean(dim=(-2, -1))


def probe_depths(surfaces: torch.Tensor, tip_size: int) -> torch.Tensor:
    """:func:`napari_se3afm.lab.metrics.probe_depth` of each surface (B, H, W), on the surfaces' device.

    Computed in torch so that a GPU training step never copies the batch to the CPU.
    """
    c = tip_size // 2
    rise = torch.nn.functional.max_pool2d(surfaces[:, None], tip_size, stride=1)[:, 0]
    return (rise - surfaces[:, c : surfaces.shape[1] - c, c : surfaces.shape[2] - c]).flatten(1).amax(dim=1)


def losses(
    model_out: tuple[torch.Tensor, torch.Tensor], batch, cfg: TrainConfig, border: int
) -> dict[str, torch.Tensor]:
    """The loss terms for one batch (each a scalar tensor) and their weighted sum ``total``."""
    tips, surfaces = model_out
    img = batch.image
    # image variance plus 1 nm²: scale-free on rough scans, no blow-up on atomically flat ones
    var = img.flatten(1).var(dim=1) + 1.0
    rec = ((dilate(surfaces, tips) - img) ** 2).flatten(1).mean(dim=1) / var
    depth = probe_depths(batch.surface, tips.shape[-1]).to(img.dtype)
    tip_mse = _clipped_tip_mse(tips, batch.tip, depth, cfg.tip_sharp_weight)
    b = border
    surf_mse = ((surfaces - batch.surface)[:, b:-b, b:-b] ** 2).flatten(1).mean(dim=1)
    if cfg.supervision == "rmse":
        tip, surf = (tip_mse + RMSE_EPS_NM2).sqrt(), (surf_mse + RMSE_EPS_NM2).sqrt()
    else:
        tip, surf = tip_mse / depth.clamp_min(0.1) ** 2, surf_mse / var
    smooth = (torch.diff(surfaces, dim=-1) ** 2).flatten(1).mean(dim=1) / var + (
        torch.diff(surfaces, dim=-2) ** 2
    ).flatten(1).mean(dim=1) / var
    terms = {"reconstruction": rec.mean(), "tip": tip.mean(), "surface": surf.mean(), "smooth": smooth.mean()}
    terms["total"] = (
        cfg.w_reconstruction * terms["reconstruction"]
        + cfg.w_tip * terms["tip"]
        + cfg.w_surface * terms["surface"]
        + cfg.w_smooth * terms["smooth"]
    )
    return terms


def _flat_state(model: torch.nn.Module, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    sd = opt.state_dict()
    scalars: dict = {"param_groups": sd["param_groups"], "state": {}}
    for pid, st in sd["state"].items():
        for key, value in st.items():
            if isinstance(value, torch.Tensor):
                tensors[f"opt.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars["state"].setdefault(str(pid), {})[key] = value
    tensors["rng.torch"] = torch.get_rng_state()
    return tensors, scalars


def _restore(model: torch.nn.Module, opt: torch.optim.Optimizer, tensors: dict, scalars: dict) -> None:
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, st in scalars["state"].items():
        state.setdefault(int(pid), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])


def _tip_bounds(images: torch.Tensor, tip_px: int) -> torch.Tensor:
    """The blind upper bound of each scan's tip, (B, K, K), on the images' device.

    Classical BTR on the CPU, one scan per thread: its numpy work releases the interpreter lock
    (measured 1.7× on 2 cores for a batch of 32), which matters when a GPU waits for it."""
    from concurrent.futures import ThreadPoolExecutor

    from ..nn.consistency import tip_bound

    scans = [image.detach().double().cpu().numpy() for image in images]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=max(1, min(len(scans), cores))) as pool:
        bounds = list(pool.map(lambda scan: tip_bound(scan, tip_px), scans))
    return torch.tensor(np.stack(bounds), dtype=images.dtype, device=images.device)


def _validate(
    model: SE3AFM, val, device, border: int, bounds: torch.Tensor | None, chunk: int = 16
) -> dict[str, float]:
    """Mean tip and surface RMSE on the validation scans, as the benchmark measures them.

    The scans go through the model ``chunk`` at a time (each scan's output does not depend on the
    others), so a large validation split needs no more memory than a training batch."""
    model.eval()
    tips, surfaces = [], []
    with torch.no_grad():
        for a in range(0, len(val), chunk):
            t, s = model(
                val.image[a : a + chunk].to(device),
                val.pixel_nm[a : a + chunk].to(device),
                tip_bound=None if bounds is None else bounds[a : a + chunk].to(device),
            )
            tips.append(t.cpu())
            surfaces.append(s.cpu())
    tips, surfaces = torch.cat(tips), torch.cat(surfaces)
    model.train()
    tip_rmse, surf_rmse = [], []
    for i in range(len(val)):
        truth = val.surface[i].double().numpy()
        depth = probe_depth(truth, tips.shape[-1])
        tip_rmse.append(tip_errors(tips[i].double().cpu().numpy(), val.tip[i].double().numpy(), depth)["tip_rmse"])
        surface = surfaces[i].double().cpu().numpy()
        surf_rmse.append(surface_errors(surface, truth, border)["surface_rmse"])
    return {"val_tip_rmse": sum(tip_rmse) / len(tip_rmse), "val_surface_rmse": sum(surf_rmse) / len(surf_rmse)}


def grow_shells(source: SE3AFM, config: ModelConfig) -> SE3AFM:
    """A model of ``config`` that renders exactly the tips and surfaces of ``source``, with more shells.

    ``config`` may differ from ``source.config`` only in ``shells`` (more) and ``shell_extent``, at
    the same shell spacing: the old shells keep their radii and weights, the new ones lie beyond them
    with zero coefficients until training moves them (``init_from`` a model with fewer shells).
    """
    old = source.config
    if old.tip_head != "e3nn":
        raise ParameterError("only the e3nn tip head can grow radial shells")
    same_rest = ModelConfig(**{**config.as_dict(), "shells": old.shells, "shell_extent": old.shell_extent}) == old
    spacing = old.shell_extent / max(old.shells - 1, 1), config.shell_extent / max(config.shells - 1, 1)
    if not same_rest or config.shells < old.shells or abs(spacing[0] - spacing[1]) > 1e-9 * spacing[0]:
        raise ParameterError(
            f"cannot grow a model of {old.shells} shells to {old.shell_extent:g} into {config.shells} shells to "
            f"{config.shell_extent:g}: only more shells at the same spacing ({spacing[0]:.4g}), all else equal"
        )
    grown = SE3AFM(config).to(next(source.parameters()))
    state = source.state_dict()
    head_keys = [k for k in state if k.startswith("tip_net.head.")]
    missing, unexpected = grown.load_state_dict({k: v for k, v in state.items() if k not in head_keys}, strict=False)
    assert not unexpected and set(missing) <= set(head_keys), (missing, unexpected)
    with torch.no_grad():
        grown.tip_net.head.weight.zero_()
        for i in range(len(grown.tip_net.head.instructions)):
            target = grown.tip_net.head.weight_view_for_instruction(i)
            target[:, : old.shells].copy_(source.tip_net.head.weight_view_for_instruction(i))
    return grown


def _initial_weights(name_or_path: str, mcfg: ModelConfig) -> dict[str, torch.Tensor]:
    """The weights of a verified model whose architecture is ``mcfg`` (``init_from``).

    A model with fewer radial shells at the same spacing is grown into ``mcfg`` (:func:`grow_shells`:
    the same tips until training moves the new shells); any other difference is an error.
    """
    from ..nn.registry import load_model

    source = load_model(name_or_path, "cpu", fresh=True)
    if source.config == mcfg:
        return source.state_dict()
    if source.config.shells != mcfg.shells:
        return grow_shells(source, mcfg).state_dict()
    raise ParameterError(f"init_from {name_or_path!r} has another architecture than the training config's model")


def iter_train(cfg: TrainConfig, outdir: str | Path, *, max_seconds: float | None = None) -> ProgressGenerator[Path]:
    """Train (or resume) into ``outdir``, yielding :class:`Progress` every step; returns the checkpoint path.

    ``max_seconds``: stop after the first step that ends this long after the first step began (the
    setup before it is not counted), validated and checkpointed, so the same call resumes it later:
    for job time limits and leased machines."""
    if max_seconds is not None and not max_seconds >= 0:
        raise ParameterError(f"the time limit must be >= 0 s, got {max_seconds!r}")
    from safetensors.torch import load_file, save_file

    from ..device import resolve_device

    rank, world, device = _distributed(resolve_device(cfg.device))
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed + rank)
    sim_cfg = config_from_dict(cfg.simtip)
    try:
        mcfg = ModelConfig(**cfg.model)
    except TypeError as exc:
        raise ParameterError(f"bad model setting in the training config: {exc}") from None
    model = SE3AFM(mcfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    step = 0
    ckpt, state_path = outdir / CHECKPOINT, outdir / STATE
    if ckpt.exists() and state_path.exists():
        state = json.loads(state_path.read_text())
        # a run may be extended (more steps); any other change would mix two experiments. Settings
        # added to TrainConfig after the run started count with their defaults.
        stored = dataclasses.asdict(TrainConfig(**state["train_config"]))
        stored.pop("steps")
        if stored != {k: v for k, v in dataclasses.asdict(cfg).items() if k != "steps"}:
            raise ParameterError(f"{outdir} holds a run with another configuration; use a new folder")
        _restore(model, opt, load_file(str(ckpt)), state["optimizer"])
        step = int(state["step"])
        log = outdir / LOG
        if rank == 0 and log.exists():  # steps after the checkpoint are redone: forget their lines
            kept = [line for line in log.read_text().splitlines() if json.loads(line)["step"] <= step]
            log.write_text("".join(line + "\n" for line in kept))
    elif cfg.init_from:
        model.load_state_dict(_initial_weights(cfg.init_from, mcfg))
    ddp = model
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    use_amp = cfg.amp and device.type == "cuda"
    border = mcfg.tip_px - 1
    val = simulate(cfg.validation_size, seed=SPLIT_SEEDS["validation"], config=sim_cfg) if rank == 0 else None
    val_bounds = _tip_bounds(val.image, mcfg.tip_px) if val is not None and cfg.tip_bound else None
    model.train()
    start = time.perf_counter()
    record: dict = {"total": 0.0}
    while step < cfg.steps:
        first = (step * world + rank) * cfg.batch_size  # each process its own slice of the stream
        batch = simulate(range(first, first + cfg.batch_size), seed=cfg.seed, config=sim_cfg, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            out = ddp(
                batch.image,
                batch.pixel_nm,
                joint=cfg.joint,
                tip_bound=_tip_bounds(batch.image, mcfg.tip_px) if cfg.tip_bound else None,
            )
        terms = losses((out[0].float(), out[1].float()), batch, cfg, border)
        for group in opt.param_groups:
            group["lr"] = cfg.learning_rate_at(step)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        record = {
            "step": step,
            **{k: float(v.detach()) for k, v in terms.items()},
            "seconds": time.perf_counter() - start,
        }
        last = step == cfg.steps or _out_of_time(start, max_seconds, world, device)
        if rank == 0 and (step % cfg.validate_every == 0 or last):
            record.update(_validate(model, val, device, border, val_bounds))
        if rank == 0:
            with open(outdir / LOG, "a") as fh:
                fh.write(json.dumps(record) + "\n")
            if step % cfg.checkpoint_every == 0 or last:
                tensors, scalars = _flat_state(model, opt)
                tmp = outdir / (CHECKPOINT + ".part")
                save_file(tensors, str(tmp), metadata={"step": str(step)})
                os.replace(tmp, ckpt)
                state_path.write_text(
                    json.dumps(
                        {
                            "step": step,
                            "train_config": dataclasses.asdict(cfg),
                            "model_config": mcfg.as_dict(),
                            "optimizer": scalars,
                        }
                    )
                )
        yield Progress(step, cfg.steps, f"training (loss {record['total']:.4g})", loss=record["total"])
        if last:
            break
    if not math.isfinite(record["total"]):
        raise ParameterError("training diverged (loss is not finite); lower the learning rate")
    return ckpt


def _out_of_time(start: float, max_seconds: float | None, world: int, device: torch.device) -> bool:
    """Whether the time limit is reached; with several processes, as soon as any of them says so
    (all must stop at the same step, or the others would wait for it forever)."""
    if max_seconds is None:
        return False
    over = time.perf_counter() - start >= max_seconds
    if world > 1:
        flag = torch.tensor([float(over)], device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        over = bool(flag.item())
    return over


def train(cfg: TrainConfig, outdir: str | Path, *, max_seconds: float | None = None) -> Path:
    """Run :func:`iter_train` to completion and return the checkpoint path."""
    return run_to_completion(iter_train(cfg, outdir, max_seconds=max_seconds))
