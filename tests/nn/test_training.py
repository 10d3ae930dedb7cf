"""Training: losses fall on a tiny model, checkpoints resume to the same weights, DDP on CPU (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("e3nn")
from safetensors.torch import load_file

from napari_se3afm.cli import main
from napari_se3afm.errors import ParameterError
from napari_se3afm.lab.training import TrainConfig, train
from synthetic import TINY_MODEL, TINY_SIMTIP

TINY = {
    "model": {**TINY_MODEL, "dropout": 0.1},
    "simtip": TINY_SIMTIP,
    "batch_size": 2,
    "validate_every": 2,
    "validation_size": 2,
    "checkpoint_every": 2,
    "learning_rate": 0.01,
}


def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train(TrainConfig(**TINY, steps=4), whole)
    train(TrainConfig(**TINY, steps=2), split)  # a run stopped after 2 steps and extended to 4 ...
    train(TrainConfig(**TINY, steps=4), split)
    a, b = load_file(str(whole / "checkpoint.safetensors")), load_file(str(split / "checkpoint.safetensors"))
    for key in a:  # ... ends with the same weights and optimiser state
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    log = [json.loads(line) for line in (whole / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert {"val_tip_rmse", "val_surface_rmse"} <= set(log[1]) and all(
        torch.isfinite(torch.tensor(r["total"])) for r in log
    )


def test_time_limit_stops_at_a_checkpoint_that_resumes_exactly(tmp_path, capsys):
    whole, limited = tmp_path / "whole", tmp_path / "limited"
    train(TrainConfig(**TINY, steps=3), whole)
    train(TrainConfig(**TINY, steps=3), limited, max_seconds=0)  # out of time after the first step
    log = [json.loads(line) for line in (limited / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1] and "val_tip_rmse" in log[0]  # validated where it stopped
    assert json.loads((limited / "checkpoint.json").read_text())["step"] == 1
    train(TrainConfig(**TINY, steps=3), limited)  # the same call without the limit finishes the run
    a, b = load_file(str(whole / "checkpoint.safetensors")), load_file(str(limited / "checkpoint.safetensors"))
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(TINY))
    run = ["lab", "train", "--config", str(cfg), "--steps", "3", "-o", str(tmp_path / "cli"), "-q"]
    assert main([*run, "--max-minutes", "0"]) == 0
    assert "stopped at step 1 of 3 after 0 min; rerun the same command to continue" in capsys.readouterr().out
    assert main([*run, "--max-minutes", "-1"]) == 2
    assert "--max-minutes must be >= 0" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="time limit"):
        train(TrainConfig(**TINY, steps=1), tmp_path / "x", max_seconds=float("nan"))


def test_cli_train_and_bad_configs(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(TINY))
    assert main(["lab", "train", "--config", str(cfg), "--steps", "1", "-o", str(tmp_path / "run"), "-q"]) == 0
    assert (tmp_path / "run" / "checkpoint.safetensors").exists()
    other = dict(TINY, learning_rate=0.5)
    cfg.write_text(json.dumps(other))
    assert main(["lab", "train", "--config", str(cfg), "--steps", "2", "-o", str(tmp_path / "run"), "-q"]) == 2
    assert "another configuration" in capsys.readouterr().err
    cfg.write_text(json.dumps({"epochs": 3}))
    assert main(["lab", "train", "--config", str(cfg), "-o", str(tmp_path / "x")]) == 2
    assert "epochs" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="tip_px"):
        TrainConfig(model={"tip_px": 9}, simtip={"tip_px": 7})
    cfg.write_text(json.dumps({"model": {"shell_extnt": 3.0}}))  # a typo in the architecture: named, not a TypeError
    assert main(["lab", "train", "--config", str(cfg), "-o", str(tmp_path / "y")]) == 2
    assert "shell_extnt" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="shell_extent"):
        TrainConfig(model={"shell_extent": 0.0})


def test_two_processes_with_gloo(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**TINY, "steps": 2}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "napari_se3afm.cli",
        "lab",
        "train",
        "--config",
        str(cfg),
        "-o",
        str(tmp_path / "ddp"),
        "-q",
    ]
    subprocess.run(cmd, check=True, env=env, timeout=300, capture_output=True)
    log = [json.loads(line) for line in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]  # only rank 0 writes
    # a time limit: the processes agree to stop at the same step (else one would wait forever)
    subprocess.run(
        [*cmd[:-3], "--steps", "3", "--max-minutes", "0", "-o", str(tmp_path / "ddp-limited"), "-q"],
        check=True,
        env=env,
        timeout=300,
        capture_output=True,
    )
    assert json.loads((tmp_path / "ddp-limited" / "checkpoint.json").read_text())["step"] == 1


@pytest.mark.parametrize(
    ("device", "gpus", "local_rank", "expected", "backend"),
    [
        ("cuda", 2, 1, "cuda:1", "nccl"),  # one GPU per process
        ("cuda", 1, 1, "cuda:0", "gloo"),  # two processes share one GPU: NCCL would refuse
        ("cpu", 2, 1, "cpu", "gloo"),
    ],  # the CPU asked for on a GPU machine
)
def test_each_torchrun_process_gets_its_own_device_and_a_backend_that_fits(
    monkeypatch, device, gpus, local_rank, expected, backend
):
    import torch.distributed as dist

    from napari_se3afm.lab import training

    for name, value in {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "LOCAL_RANK": str(local_rank)}.items():
        monkeypatch.setenv(name, value)
    chosen = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: None)
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda name: chosen.append(name))
    monkeypatch.setattr(dist, "get_rank", lambda: local_rank)
    rank, world, got = training._distributed(torch.device(device))
    assert (rank, world, str(got), chosen) == (local_rank, 2, expected, [backend])


def test_probe_depths_in_torch_match_the_metric():
    import numpy as np

    from napari_se3afm.lab.metrics import probe_depth
    from napari_se3afm.lab.training import probe_depths

    surfaces = torch.from_numpy(np.cumsum(np.random.default_rng(1).normal(size=(3, 40, 40)), axis=2))
    np.testing.assert_allclose(probe_depths(surfaces, 7).numpy(), [probe_depth(s, 7) for s in surfaces.numpy()])


def test_validation_in_chunks_equals_one_pass():
    from napari_se3afm.lab.simtip import config_from_dict, simulate
    from napari_se3afm.lab.training import _tip_bounds, _validate
    from napari_se3afm.nn.model import SE3AFM, ModelConfig

    torch.manual_seed(0)
    model = SE3AFM(ModelConfig(**TINY["model"]))
    val = simulate(5, seed=3, config=config_from_dict(TINY["simtip"]))
    bounds = _tip_bounds(val.image, TINY["model"]["tip_px"])
    whole = _validate(model, val, torch.device("cpu"), 6, bounds, chunk=5)
    pieces = _validate(model, val, torch.device("cpu"), 6, bounds, chunk=2)  # 2 + 2 + 1 scans
    assert whole["val_tip_rmse"] > 0 and whole["val_surface_rmse"] > 0
    assert pieces == pytest.approx(whole, rel=1e-5)


def test_cosine_schedule_values():
    cfg = TrainConfig(**TINY, steps=110, lr_schedule="cosine", warmup_steps=10)
    lr = cfg.learning_rate
    assert cfg.learning_rate_at(0) == pytest.approx(lr / 10)  # linear warm-up: 1/10, ..., 10/10
    assert cfg.learning_rate_at(9) == pytest.approx(lr)
    assert cfg.learning_rate_at(10) == pytest.approx(lr)  # cosine starts at the full rate ...
    assert cfg.learning_rate_at(60) == pytest.approx(lr * (0.05 + 0.95 * 0.5))  # ... is halfway at mid-span ...
    assert cfg.learning_rate_at(110) == pytest.approx(lr * 0.05)  # ... and ends at 5 %
    assert TrainConfig(**TINY).learning_rate_at(500) == lr
    with pytest.raises(ParameterError, match="lr_schedule"):
        TrainConfig(**TINY, lr_schedule="step")


def test_init_from_starts_at_the_given_weights(tmp_path):
    from napari_se3afm.lab.export import export_model

    train(TrainConfig(**TINY, steps=2), tmp_path / "first")
    source = export_model(tmp_path / "first", tmp_path / "models", "first")
    # a learning rate of 1e-12 leaves the weights where the first step started
    train(TrainConfig(**{**TINY, "learning_rate": 1e-12}, steps=1, init_from=str(source)), tmp_path / "second")
    a, b = load_file(str(source)), load_file(str(tmp_path / "second" / "checkpoint.safetensors"))
    assert all(torch.allclose(a[k], b[f"model.{k}"], atol=1e-9) for k in a)
    train(TrainConfig(**{**TINY, "learning_rate": 1e-12}, steps=1), tmp_path / "third")  # without: the random start
    c = load_file(str(tmp_path / "third" / "checkpoint.safetensors"))
    assert not all(torch.allclose(a[k], c[f"model.{k}"], atol=1e-6) for k in a)
    other = {**TINY, "model": {**TINY["model"], "unet_base": 4}}
    with pytest.raises(ParameterError, match="another architecture"):
        train(TrainConfig(**other, steps=1, init_from=str(source)), tmp_path / "fourth")
    # more radial shells at the same spacing: grown, every other weight as the source's
    wider = {**TINY, "learning_rate": 1e-12, "model": {**TINY["model"], "shells": 3, "shell_extent": 3.0}}
    train(TrainConfig(**wider, steps=1, init_from=str(source)), tmp_path / "fifth")
    d = load_file(str(tmp_path / "fifth" / "checkpoint.safetensors"))
    assert all(torch.allclose(a[k], d[f"model.{k}"], atol=1e-9) for k in a if not k.startswith("tip_net.head."))
    assert d["model.tip_net.head.weight"].numel() == a["tip_net.head.weight"].numel() * 3 // 2
    with pytest.raises(ParameterError, match="cannot grow"):
        train(
            TrainConfig(**{**wider, "model": {**wider["model"], "shell_extent": 2.0}}, steps=1, init_from=str(source)),
            tmp_path / "sixth",
        )


def test_training_on_tips_held_to_the_blind_bound(tmp_path, monkeypatch):
    import napari_se3afm.lab.training as training
    from napari_se3afm.nn.consistency import tip_bound

    seen = []
    real = training._tip_bounds

    def spy(images, tip_px):
        bounds = real(images, tip_px)
        seen.append((images.detach().clone(), bounds))
        return bounds

    monkeypatch.setattr(training, "_tip_bounds", spy)
    train(TrainConfig(**TINY, steps=2, tip_bound=True), tmp_path / "run")
    assert len(seen) == 3  # the validation scans once, then each training batch
    images, bounds = seen[-1]
    assert bounds.shape == (2, 7, 7)
    assert torch.allclose(bounds[1].double(), torch.from_numpy(tip_bound(images[1].double().numpy(), 7)), atol=1e-6)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and "val_surface_rmse" in log[1]


def test_rmse_supervision_is_the_benchmarks_own_figure():
    """``supervision="rmse"``: the tip and surface terms are the mean over scans of the benchmark's
    per-scan tip RMSE (clipped at the probe depth) and surface RMSE (border excluded), as
    :mod:`napari_se3afm.lab.metrics` computes them; the default keeps the normalised MSE."""
    import numpy as np

    from napari_se3afm.lab.metrics import probe_depth, surface_errors, tip_errors
    from napari_se3afm.lab.simtip import config_from_dict, simulate
    from napari_se3afm.lab.training import RMSE_EPS_NM2, losses

    cfg = TrainConfig(**TINY, supervision="rmse")
    batch = simulate(3, seed=5, config=config_from_dict({"image_px": 32, "tip_px": 7}))
    gen = torch.Generator().manual_seed(0)
    tips = torch.minimum(batch.tip + 0.5 * torch.randn(batch.tip.shape, generator=gen), torch.tensor(0.0))
    tips[:, 3, 3] = 0.0
    surfaces = batch.surface + 2.0 * torch.randn(batch.surface.shape, generator=gen)
    terms = losses((tips, surfaces), batch, cfg, border=6)
    t, s, truth = (x.double().numpy() for x in (tips, surfaces, batch.surface))
    depths = [probe_depth(truth[i], 7) for i in range(3)]
    tip_rmse = [tip_errors(t[i], batch.tip[i].double().numpy(), depths[i])["tip_rmse"] for i in range(3)]
    surf_rmse = [surface_errors(s[i], truth[i], 6)["surface_rmse"] for i in range(3)]
    eps = RMSE_EPS_NM2 / (2 * min(tip_rmse))  # what the regularised root adds at most
    assert float(terms["tip"]) == pytest.approx(np.mean(tip_rmse), rel=1e-4, abs=eps)
    assert float(terms["surface"]) == pytest.approx(np.mean(surf_rmse), rel=1e-4, abs=eps)
    assert min(tip_rmse) > 0.05 and min(surf_rmse) > 1.5  # real errors, far from RMSE = MSE = 1
    plain = losses((tips, surfaces), batch, TrainConfig(**TINY), border=6)
    var = batch.image.flatten(1).var(dim=1).double().numpy() + 1.0
    expected = np.mean([(surf_rmse[i] ** 2) / var[i] for i in range(3)])
    assert float(plain["surface"]) == pytest.approx(expected, rel=1e-4)
    expected = np.mean([tip_rmse[i] ** 2 / max(depths[i], 0.1) ** 2 for i in range(3)])
    assert float(plain["tip"]) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ParameterError, match="supervision"):
        TrainConfig(**TINY, supervision="mae")


def test_a_tip_drawn_too_sharp_can_weigh_more_than_one_drawn_too_blunt():
    from napari_se3afm.lab.training import _clipped_tip_mse

    true = torch.zeros(1, 3, 3)
    true[0, 0, 0] = -20.0
    pred = true.clone()
    pred[0, 1, 1] = -1.0  # 1 nm sharper here
    pred[0, 2, 2] = 2.0  # 2 nm blunter there
    pred[0, 0, 0] = -50.0  # below the probe depth, as the truth there: no error
    depth = torch.tensor([10.0])
    assert _clipped_tip_mse(pred, true, depth).item() == pytest.approx((1.0 + 4.0) / 9)
    assert _clipped_tip_mse(pred, true, depth, 3.0).item() == pytest.approx((3.0 + 4.0) / 9)
    with pytest.raises(ParameterError, match="tip_sharp_weight must be a finite number > 0"):
        TrainConfig(tip_sharp_weight=0.0)
