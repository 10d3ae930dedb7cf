"""``se3afm lab``: the commands that make and judge models — SimTip splits, the benchmark, training,
export and σ calibration. Users of the software need none of them; see CONTRIBUTING.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..console import ProgressBar, odd_int
from ..nn.consistency import CONSISTENCY
from ..nn.registry import DEFAULT_MODEL
from .baselines import DEFAULT_METHODS
from .simtip.config import SPLIT_SEEDS

__all__ = ["COMMANDS", "add_commands", "run"]


#: the most SimTip samples one command makes or scores, samples per batch, and pixels a side: a
#: mistyped count is refused at once instead of running for days or filling the memory
MAX_SIMTIP_SAMPLES = 1_000_000
MAX_BATCH = 1024
MAX_IMAGE_PX = 4096


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the lab's commands to ``se3afm lab``'s sub-parsers (light: no torch is imported)."""

    sim = sub.add_parser(
        "simulate",
        help="generate SimTip synthetic tip-surface-image triplets",
        description=(
            "Generate N SimTip triplets (true tip, true surface, simulated AFM image; heights in nm) "
            "and write them to one compressed .npz. Sample i of a seed is always the same, whatever "
            "the batch size or device. --split names the fixed validation or test split "
            f"({', '.join(f'{k}: seed {v}' for k, v in SPLIT_SEEDS.items())})."
        ),
    )
    sim.add_argument("-n", "--count", type=int, required=True, help="number of triplets")
    sim.add_argument("-o", "--output", type=Path, required=True, help="output file (.npz)")
    seed = sim.add_mutually_exclusive_group()
    seed.add_argument("--split", choices=sorted(SPLIT_SEEDS), help="write the fixed validation or test split")
    seed.add_argument("--seed", type=int, default=0, help="stream seed (default 0; the training stream)")
    sim.add_argument("--config", type=Path, help="JSON file overriding SimTip parameter ranges (see docs/simtip.md)")
    sim.add_argument("--image-px", type=int, help="image size in pixels (default 128)")
    sim.add_argument("--tip-px", type=odd_int, help="tip window in pixels (odd; default 31)")
    sim.add_argument("--clean", action="store_true", help="switch every imaging artefact off (noise, drift, ...)")
    sim.add_argument("--batch-size", type=int, default=64, help="triplets generated at once (default 64)")
    sim.add_argument("--device", default="cpu", help="cpu (default), auto, cuda or cuda:N")
    sim.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    sim.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    bench = sub.add_parser(
        "bench",
        help="score methods on a SimTip split and write the benchmark tables",
        description=(
            "Run METHODS on the scans of a SimTip split (a file from se3afm lab simulate, or the fixed "
            "test split generated on the fly) and write OUTDIR/records.json (every metric of every "
            "scan) and OUTDIR/tables.md (overall, by tip type, by surface type, calibration, "
            "compute; mean +- std). Metrics are defined in docs/metrics.md."
        ),
    )
    bench.add_argument("--split", type=Path, help="SimTip split file (default: the test split, generated)")
    bench.add_argument("-n", "--count", type=int, default=400, help="scans of the generated test split (default 400)")
    bench.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated methods (default {','.join(DEFAULT_METHODS)})",
    )
    bench.add_argument("--limit", type=int, help="use only the first LIMIT scans of the split")
    bench.add_argument(
        "--model", help="model name or .safetensors file of the 'model' method (default: the default model)"
    )
    bench.add_argument(
        "--consistency", choices=CONSISTENCY, help="consistency of the 'model' method (default: the pipeline's)"
    )
    bench.add_argument("-o", "--outdir", type=Path, required=True, help="folder for records.json and tables.md")
    bench.add_argument("--overwrite", action="store_true", help="replace existing result files")
    bench.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    tr = sub.add_parser(
        "train",
        help="train the joint model on SimTip generated on the fly",
        description=(
            "Train (or resume) the SE(3)-equivariant joint model into OUTDIR: checkpoint.safetensors "
            "and checkpoint.json (resumable; rerun the same command to continue), log.jsonl (losses "
            "every step, validation tip and surface RMSE on the fixed validation split). Run under "
            "torchrun for several processes or GPUs. The config is JSON; see docs/model.md."
        ),
    )
    tr.add_argument("--config", type=Path, help="JSON training configuration (default: the built-in CPU-sized one)")
    tr.add_argument("--steps", type=int, help="override the number of optimiser steps")
    tr.add_argument(
        "--max-minutes",
        type=float,
        metavar="M",
        help="stop (checkpointed) after the step that ends M minutes in; rerun to continue",
    )
    tr.add_argument("-o", "--outdir", type=Path, required=True, help="run folder (created; resumed if it holds a run)")
    tr.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    ex = sub.add_parser(
        "export-model",
        help="turn a training run into shipped weights (safetensors + sha256 + card)",
        description="Write RUN's weights as OUTDIR/NAME.safetensors with NAME.json (architecture, sha256, "
        "training configuration); an existing model is replaced only with --overwrite.",
    )
    ex.add_argument("run", type=Path, metavar="RUN", help="training run folder (from se3afm lab train)")
    ex.add_argument("-o", "--outdir", type=Path, default=Path("models"), help="folder for the model (default models/)")
    ex.add_argument("--name", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL})")
    ex.add_argument("--card", type=Path, help="markdown model card to copy beside the weights")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing model of that name")
    ex.add_argument(
        "--calibrate",
        type=int,
        default=256,
        metavar="N",
        help="fit the σ model on N validation scans (default 256; 0 = leave σ raw)",
    )

    ti = sub.add_parser(
        "tip-independence",
        help="do the same molecules measure the same whatever the tip? (raw, erosion, the default model)",
        description="Image DNA-like strands and loops (2 nm) and proteins (2-20 nm) with tips from sharp "
        "(apex 2 nm, 15°) to blunt (20 nm, 35°) and SimTip's artefacts; measure every feature's height, "
        "area, width at half maximum and volume on the raw images, their erosion by the true and by the "
        "classical BTR tip, and the default model's surfaces; write OUTDIR/tip_independence.md (spread "
        "over the tips, bias against the truth, 2σ coverage) and tip_independence.json (docs/benchmarks.md).",
    )
    ti.add_argument("-o", "--outdir", type=Path, required=True, help="folder for the table and the records")
    ti.add_argument("--size", type=int, default=256, help="scan size in pixels (default 256)")
    ti.add_argument("--pixel-nm", type=float, default=1.0, help="pixel size in nm (default 1)")
    ti.add_argument("--seed", type=int, default=0, help="seed of the surfaces and the noise (default 0)")
    ti.add_argument("--overwrite", action="store_true", help="replace existing result files")
    ti.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    rep = sub.add_parser(
        "report",
        help="the figures of se3afm lab bench runs against classical BTR, as markdown",
        description=(
            "For runs of se3afm lab bench that include btr: mean, median and worst tip and surface RMSE, "
            "their ratio to classical BTR's and the time per scan; then the σ maps' ECE per scan (median, "
            "90th percentile) and pooled, and their coverage on the worst scans; with --per-scan, the "
            "model against BTR scan by scan, the scans worse than 1.5 x BTR counted and the ten worst "
            "listed with their tip bias."
        ),
    )
    rep.add_argument("runs", nargs="+", type=Path, help="run folders (holding records.json)")
    rep.add_argument("--per-scan", action="store_true", help="scan by scan against BTR instead")
    rc = sub.add_parser(
        "real-checks",
        help="truth-free checks of reconstructions of real scans: speckle, checkerboard, frame, fit, halves",
        description=(
            "Reconstruct every scan file of FOLDER (e.g. ../shared/data/real) and print, as markdown, the "
            "checks of napari_se3afm.lab.real_checks (pits, high-frequency shares of surface and σ, the "
            "edge band's lowering, the re-dilation residual) and the same-tip halves; every failed bar "
            "is listed and makes the exit status 1."
        ),
    )
    rc.add_argument("folder", type=Path, help="a folder of real scan files")
    rc.add_argument("--method", default="auto", help="the method to check (default auto: the default model)")
    rc.add_argument("--model", help="model name or .safetensors file (default: the default model)")
    rc.add_argument("--no-halves", action="store_true", help="skip the same-tip halves (faster)")
    rc.add_argument("--only", help="only files whose name contains this")
    cmp = sub.add_parser(
        "compare",
        help="two benchmark runs of the same scans, paired scan by scan",
        description="Mean tip and surface RMSE of A and B, their paired difference and its standard error, "
        "overall, by tip type, by surface type and by thirds of the probe depth.",
    )
    cmp.add_argument("run_a", type=Path, help="run folder or records.json (A)")
    cmp.add_argument("run_b", type=Path, help="run folder or records.json (B)")
    cmp.add_argument("--methods", default="model", help="METHOD_A[,METHOD_B] (default model)")

    cal = sub.add_parser(
        "calibrate-model",
        help="re-fit a model's σ on the SimTip validation split (rewrites its sidecar's σ model)",
        description="Reconstruct N validation scans with MODEL (a name in models/ or a .safetensors path) "
        "and fit its σ model to their errors (docs/uncertainty.md). Only the sigma_model entry of "
        "MODEL.json changes, atomically once the fit is done; the weights and their sha256 do not.",
    )
    cal.add_argument("model", metavar="MODEL", help="model name or .safetensors path")
    cal.add_argument("-n", type=int, default=256, metavar="N", help="validation scans (default 256)")


def _train(args: argparse.Namespace) -> int:
    import dataclasses

    from ..errors import ParameterError
    from ..progress import Progress, run_to_completion
    from .training import TrainConfig, iter_train, load_train_config

    cfg = load_train_config(args.config) if args.config else TrainConfig()
    if args.steps is not None:
        cfg = dataclasses.replace(cfg, steps=args.steps)
    if args.max_minutes is not None and not args.max_minutes >= 0:
        raise ParameterError(f"--max-minutes must be >= 0, got {args.max_minutes!r}")
    bar, last = ProgressBar("train", args.quiet), [None]

    def report(progress: Progress) -> None:
        last[0] = progress
        bar(progress)

    limit = None if args.max_minutes is None else 60.0 * args.max_minutes
    finished = False
    try:
        path = run_to_completion(iter_train(cfg, args.outdir, max_seconds=limit), report)
        finished = True
    finally:
        bar.close()
        _leave_process_group(wait=finished)
    if last[0] is not None and last[0].step < cfg.steps:
        print(
            f"stopped at step {last[0].step} of {cfg.steps} after {args.max_minutes:g} min; "
            "rerun the same command to continue"
        )
    print(f"wrote {path}")
    return 0


def _leave_process_group(*, wait: bool) -> None:
    """Under torchrun, close the process group before the process exits, having waited (``wait``:
    the run finished) for the others: a process that leaves while another still talks to it, or with
    the group's threads running into the interpreter's shutdown, aborts now and then. After an error
    it does not wait: the others may never arrive."""
    import sys

    if "torch.distributed" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            if wait:
                dist.barrier()
            dist.destroy_process_group()


def _calibrate(model: str | Path, n: int) -> None:
    """Fit and store ``model``'s σ model on ``n`` validation scans, with a progress bar and a summary."""
    from ..progress import run_to_completion
    from .calibration import iter_calibrate_model

    bar = ProgressBar("calibrate", False)
    try:
        fit = run_to_completion(iter_calibrate_model(model, n), bar)
    finally:
        bar.close()
    surf = ", ".join(f"{t} {w:.3g}" for t, w in zip(fit["surface"]["terms"], fit["surface"]["weights"], strict=False))
    print(
        f"sigma model (surface): {surf}, times a scan scale from {len(fit['surface']['scale']['stats'])} "
        "scan statistics"
    )


def _calibrate_model(args: argparse.Namespace) -> int:
    from ..nn.registry import find_model
    from .calibration import check_calibration_scans

    check_calibration_scans(args.n)
    path = find_model(args.model)
    _calibrate(path, args.n)
    print(f"wrote {path.with_suffix('.json')}")
    return 0


def _export_model(args: argparse.Namespace) -> int:
    from ..errors import ParameterError
    from .export import export_model

    card = ""
    if args.card is not None:
        try:
            card = args.card.read_text()
        except OSError as exc:
            raise ParameterError(f"cannot read model card {args.card}: {exc.strerror or exc}") from None
    if args.calibrate != 0:  # checked before anything is written
        from .calibration import check_calibration_scans

        check_calibration_scans(args.calibrate)
    path = export_model(args.run, args.outdir, args.name, card=card, overwrite=args.overwrite)
    if args.calibrate > 0:
        _calibrate(path, args.calibrate)
    print(f"wrote {path}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import dataclasses

    from ..device import resolve_device
    from ..errors import ParameterError
    from ..progress import run_to_completion
    from .simtip import SPLIT_SEEDS, SimTipConfig, load_config
    from .simtip.config import ImagingConfig
    from .simtip.storage import iter_write_split

    if not (1 <= args.count <= MAX_SIMTIP_SAMPLES and 1 <= args.batch_size <= MAX_BATCH):
        raise ParameterError(f"-n must lie in 1..{MAX_SIMTIP_SAMPLES:,} and --batch-size in 1..{MAX_BATCH}")
    if args.image_px is not None and not 16 <= args.image_px <= MAX_IMAGE_PX:
        raise ParameterError(f"--image-px must lie in 16..{MAX_IMAGE_PX}, got {args.image_px}")
    cfg = load_config(args.config) if args.config else SimTipConfig()
    changes = {k: v for k, v in (("image_px", args.image_px), ("tip_px", args.tip_px)) if v is not None}
    if args.clean:
        off = {f.name: False for f in dataclasses.fields(ImagingConfig) if f.type in (bool, "bool")}
        changes["imaging"] = dataclasses.replace(cfg.imaging, **off)
    cfg = dataclasses.replace(cfg, **changes) if changes else cfg
    seed = SPLIT_SEEDS[args.split] if args.split else args.seed
    device = str(resolve_device(args.device))
    bar = ProgressBar(args.output.name, args.quiet)
    try:
        path = run_to_completion(
            iter_write_split(
                args.output,
                args.count,
                seed=seed,
                config=cfg,
                batch_size=args.batch_size,
                device=device,
                overwrite=args.overwrite,
            ),
            bar,
        )
    finally:
        bar.close()
    print(f"wrote {path}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from ..errors import ParameterError
    from ..progress import run_to_completion
    from .benchmark import iter_benchmark, write_results
    from .simtip import SPLIT_SEEDS
    from .simtip.storage import read_split

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.limit is not None and args.limit < 1:
        raise ParameterError(f"--limit must be >= 1, got {args.limit}")
    if not args.overwrite:
        existing = [str(p) for p in (args.outdir / "records.json", args.outdir / "tables.md") if p.exists()]
        if existing:
            raise ParameterError(f"{', '.join(existing)} exist(s); use --overwrite to replace")
    if args.split is not None:
        split = read_split(args.split)
        title = f"SimTip benchmark on {args.split.name}"
    else:
        from .simtip.storage import iter_generate_split

        if not 1 <= args.count <= MAX_SIMTIP_SAMPLES:
            raise ParameterError(f"-n must lie in 1..{MAX_SIMTIP_SAMPLES:,}, got {args.count}")
        split = run_to_completion(iter_generate_split(args.count, seed=SPLIT_SEEDS["test"]))
        title = f"SimTip test split (seed {SPLIT_SEEDS['test']})"
    bar = ProgressBar("bench", args.quiet)
    try:
        result = run_to_completion(
            iter_benchmark(split, methods, limit=args.limit, model=args.model, consistency=args.consistency), bar
        )
    finally:
        bar.close()
    for path in write_results(result, args.outdir, overwrite=args.overwrite, title=title):
        print(f"wrote {path}")
    return 0


def _tip_independence(args: argparse.Namespace) -> int:
    from ..errors import ParameterError
    from ..progress import run_to_completion
    from .tip_independence import REPORT_FILES, iter_tip_independence, write_report

    if not 96 <= args.size <= MAX_IMAGE_PX:
        raise ParameterError(f"--size must lie in 96..{MAX_IMAGE_PX}, got {args.size}")
    if not 0.1 <= args.pixel_nm <= 5.0:
        raise ParameterError(f"--pixel-nm must lie in 0.1..5 nm (molecules 2-20 nm high), got {args.pixel_nm}")
    if not args.overwrite:
        existing = [str(p) for p in (args.outdir / name for name in REPORT_FILES) if p.exists()]
        if existing:
            raise ParameterError(f"{', '.join(existing)} exist(s); use --overwrite to replace")
    bar = ProgressBar("tip-independence", args.quiet)
    try:
        results = run_to_completion(
            iter_tip_independence(size_px=args.size, pixel_nm=args.pixel_nm, seed=args.seed), bar
        )
    finally:
        bar.close()
    title = f"Tip independence: {args.size}² scans, {args.pixel_nm:g} nm pixels, seed {args.seed}"
    args.outdir.mkdir(parents=True, exist_ok=True)
    for path in write_report(results, args.outdir, title=title, overwrite=args.overwrite):
        print(f"wrote {path}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .reports import calibration_table, per_scan_table, summary_table

    if args.per_scan:
        print(per_scan_table(args.runs))
    else:
        print("\n\n".join(t for t in (summary_table(args.runs), calibration_table(args.runs)) if t))
    return 0


def _real_checks(args: argparse.Namespace) -> int:
    from .real_checks import real_checks_report

    table, failures = real_checks_report(
        args.folder, method=args.method, model=args.model, halves=not args.no_halves, only=args.only
    )
    print(table)
    for line in failures:
        print("FAIL", line)
    return 1 if failures else 0


def _compare(args: argparse.Namespace) -> int:
    from ..errors import ParameterError
    from .reports import compare_runs

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not 1 <= len(methods) <= 2:
        raise ParameterError(f"--methods takes one or two method names, got {args.methods!r}")
    print(compare_runs(args.run_a, args.run_b, *methods))
    return 0


#: each command of ``se3afm lab`` and the function that runs it
COMMANDS = {
    "tip-independence": _tip_independence,
    "simulate": _simulate,
    "bench": _bench,
    "train": _train,
    "export-model": _export_model,
    "calibrate-model": _calibrate_model,
    "report": _report,
    "compare": _compare,
    "real-checks": _real_checks,
}


def run(args: argparse.Namespace) -> int:
    """Run the lab command that ``args`` name; returns the exit status."""
    return COMMANDS[args.lab_command](args)
