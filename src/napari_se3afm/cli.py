"""The ``se3afm`` command line.

``se3afm reconstruct INPUT... -o OUTDIR`` writes ``OUTDIR/<input stem>.npz`` per input. Errors a user
can cause end with one line on stderr and exit status 2; nothing is overwritten without
``--overwrite``; progress goes to stderr, the paths written to stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np

from . import __version__
from .consistency import CONSISTENCY, DEFAULT_CONSISTENCY
from .errors import Se3afmError
from .progress import Progress

SAMPLE_NAME = "spikes_sample.npz"


class _ProgressBar:
    """A one-line text progress bar on stderr (silent when ``quiet``)."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.quiet = quiet
        self.tty = sys.stderr.isatty()

    def __call__(self, report: Progress) -> None:
        if self.quiet:
            return
        width = 24
        filled = int(round(report.fraction * width))
        loss = f" loss {report.loss:.4g}" if report.loss is not None else ""
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {report.message}{loss}"
        if self.tty:
            sys.stderr.write("\r" + line[:120].ljust(120))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _nonnegative_float(text: str) -> float:
    value = _positive_float(text) if text.strip() not in ("0", "0.0") else 0.0
    return value


def _odd_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 3 or value % 2 == 0:
        raise argparse.ArgumentTypeError(f"{value} must be odd and >= 3")
    return value


def _sample_path() -> Path:
    return Path(str(resources.files("napari_se3afm") / "data" / SAMPLE_NAME))


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``se3afm`` (all sub-commands)."""
    from .io.writers import TIP_SUFFIXES
    from .levelling import DEFAULT_STEPS
    from .pipeline import METHODS

    parser = argparse.ArgumentParser(
        prog="se3afm",
        description="Blind tip reconstruction and surface recovery for AFM images (heights in nm).",
    )
    parser.add_argument("--version", action="version", version=f"se3afm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    rec = sub.add_parser(
        "reconstruct",
        help="estimate the tip and the true surface of AFM images",
        description=(
            "Estimate the tip and the true surface of each INPUT and write OUTDIR/<stem>.npz with "
            "float64 arrays image, surface, tip, certainty and tip_volume (heights in nm) and the "
            "pixel size pixel_nm. Inputs: Gwyddion .gwy, Bruker Nanoscope .spm/.000-.999, Asylum "
            ".ibw, JPK .jpk, Nanonis .sxm, Park .tiff, and .npy/.npz/.tif height maps in nm. The "
            "image is levelled first (robust plane; see --level) unless --no-level is given."
        ),
    )
    rec.add_argument("inputs", nargs="*", metavar="INPUT", help="AFM files or height maps (nm)")
    rec.add_argument("--channel", help="channel to use (default: the height channel; see se3afm info)")
    lev = rec.add_mutually_exclusive_group()
    lev.add_argument("--no-level", action="store_true", help="use the image as it is, without levelling")
    lev.add_argument(
        "--level",
        type=lambda text: tuple(t.strip() for t in text.split(",") if t.strip()),
        default=DEFAULT_STEPS,
        metavar="STEPS",
        help="comma-separated levelling steps: plane, align-rows (row medians), align-rows-diff "
        "(median of differences), polyN, zero-min (default: plane,zero-min)",
    )
    rec.add_argument("--gwy", action="store_true", help="also write OUTDIR/<stem>.gwy (surface, maps, tip)")
    rec.add_argument(
        "--tip-file",
        choices=[s.lstrip(".") for s in TIP_SUFFIXES],
        help="also export the tip as OUTDIR/<stem>_tip.EXT (volume: tif, npy, vti, vtk; mesh: stl, ply, obj)",
    )
    rec.add_argument("--sample", action="store_true", help="also process the bundled spike-array sample scan")
    rec.add_argument("-o", "--outdir", type=Path, required=True, help="folder for the results (created if missing)")
    rec.add_argument(
        "--method",
        choices=("auto", *METHODS),
        default="auto",
        help="auto (default): model when its weights are installed and no tip size or threshold is "
        "given, else btr; model: the SE(3)-equivariant joint model with uncertainty maps (see "
        "--model); btr: classical blind tip estimate on sharp maxima; btr-full: on every point; "
        "dbtr: differentiable BTR refining the classical estimate",
    )
    size = rec.add_mutually_exclusive_group()
    size.add_argument("--tip-px", type=_odd_int, help="tip window in pixels (odd; default 31 or what fits)")
    size.add_argument("--tip-nm", type=_positive_float, help="tip window in nm (rounded to odd pixels)")
    rec.add_argument("--pixel-nm", type=_positive_float, help="pixel size in nm, for files that record none")
    rec.add_argument(
        "--threshold-nm",
        type=_nonnegative_float,
        help="BTR noise threshold in nm (default: from the estimated image noise)",
    )
    rec.add_argument("--steps", type=int, default=200, help="optimiser steps for dbtr (default 200)")
    rec.add_argument("--model", default="se3afm-v1", help="model name or .safetensors file for --method model")
    rec.add_argument("--mc-samples", type=int, default=16, help="Monte-Carlo dropout samples for --method model (default 16)")
    rec.add_argument("--finetune-steps", type=int, default=0, help="fine-tune the model on each scan first (default 0)")
    rec.add_argument("--consistency", choices=CONSISTENCY, default=DEFAULT_CONSISTENCY,
                     help="hold the model's output to its image: 'tip' clips the tip to the blind (BTR) bound, "
                          "'image' also raises the surface until it reproduces the image within the noise, "
                          "'tight' does so with the bound tightened where the image is left unexplained "
                          "(slower; fits real scans closest), "
                          f"'none' keeps the network's output (default {DEFAULT_CONSISTENCY})")
    rec.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N")
    rec.add_argument("--overwrite", action="store_true", help="replace existing result files")
    rec.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    info = sub.add_parser(
        "info",
        help="list the channels, units, sizes and metadata of AFM files",
        description="List each file's channels (name, direction, unit, kind, size, value range), pixel "
        "size and scan size in nm, and instrument metadata. The height channel is marked with *.",
    )
    info.add_argument("files", nargs="+", metavar="FILE")
    _add_simtip_commands(sub)
    return parser


def _add_simtip_commands(sub: argparse._SubParsersAction) -> None:
    from .baselines import DEFAULT_METHODS
    from .simtip.config import SPLIT_SEEDS

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
    sim.add_argument("--tip-px", type=_odd_int, help="tip window in pixels (odd; default 31)")
    sim.add_argument("--clean", action="store_true", help="switch every imaging artefact off (noise, drift, ...)")
    sim.add_argument("--batch-size", type=int, default=64, help="triplets generated at once (default 64)")
    sim.add_argument("--device", default="cpu", help="cpu (default), auto, cuda or cuda:N")
    sim.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    sim.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    bench = sub.add_parser(
        "bench",
        help="score methods on a SimTip split and write the benchmark tables",
        description=(
            "Run METHODS on the scans of a SimTip split (a file from se3afm simulate, or the fixed "
            "test split generated on the fly) and write OUTDIR/records.json (every metric of every "
            "scan) and OUTDIR/tables.md (overall, by tip type, by surface type, calibration, "
            "compute; mean +- std). Metrics are defined in docs/metrics.md."
        ),
    )
    bench.add_argument("--split", type=Path, help="SimTip split file (default: the test split, generated)")
    bench.add_argument("-n", "--count", type=int, default=400, help="scans of the generated test split (default 400)")
    bench.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                       help=f"comma-separated methods (default {','.join(DEFAULT_METHODS)})")
    bench.add_argument("--limit", type=int, help="use only the first LIMIT scans of the split")
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
    tr.add_argument("--max-minutes", type=float, metavar="M",
                    help="stop (checkpointed) after the step that ends M minutes in; rerun to continue")
    tr.add_argument("-o", "--outdir", type=Path, required=True, help="run folder (created; resumed if it holds a run)")
    tr.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    ex = sub.add_parser(
        "export-model",
        help="turn a training run into shipped weights (safetensors + sha256 + card)",
        description="Write RUN's weights as OUTDIR/NAME.safetensors with NAME.json (architecture, sha256, "
        "training configuration); an existing model is replaced only with --overwrite.",
    )
    ex.add_argument("run", type=Path, metavar="RUN", help="training run folder (from se3afm train)")
    ex.add_argument("-o", "--outdir", type=Path, default=Path("models"), help="folder for the model (default models/)")
    ex.add_argument("--name", default="se3afm-v1", help="model name (default se3afm-v1)")
    ex.add_argument("--card", type=Path, help="markdown model card to copy beside the weights")
    ex.add_argument("--overwrite", action="store_true", help="replace an existing model of that name")
    ex.add_argument("--calibrate", type=int, default=256, metavar="N",
                    help="fit the σ model on N validation scans (default 256; 0 = leave σ raw)")

    cal = sub.add_parser(
        "calibrate-model",
        help="re-fit a model's σ on the SimTip validation split (rewrites its sidecar's σ model)",
        description="Reconstruct N validation scans with MODEL (a name in models/ or a .safetensors path) "
        "and fit its σ model to their errors (docs/model.md, Uncertainty). Only the sigma_model entry of "
        "MODEL.json changes, atomically once the fit is done; the weights and their sha256 do not.",
    )
    cal.add_argument("model", metavar="MODEL", help="model name or .safetensors path")
    cal.add_argument("-n", type=int, default=256, metavar="N", help="validation scans (default 256)")


def _train(args: argparse.Namespace) -> int:
    import dataclasses

    from .errors import ParameterError
    from .progress import Progress, run_to_completion
    from .training import TrainConfig, iter_train, load_train_config

    cfg = load_train_config(args.config) if args.config else TrainConfig()
    if args.steps is not None:
        cfg = dataclasses.replace(cfg, steps=args.steps)
    if args.max_minutes is not None and not args.max_minutes >= 0:
        raise ParameterError(f"--max-minutes must be >= 0, got {args.max_minutes!r}")
    bar, last = _ProgressBar("train", args.quiet), [None]

    def report(progress: Progress) -> None:
        last[0] = progress
        bar(progress)

    limit = None if args.max_minutes is None else 60.0 * args.max_minutes
    try:
        path = run_to_completion(iter_train(cfg, args.outdir, max_seconds=limit), report)
    finally:
        bar.close()
    if last[0] is not None and last[0].step < cfg.steps:
        print(f"stopped at step {last[0].step} of {cfg.steps} after {args.max_minutes:g} min; "
              "rerun the same command to continue")
    print(f"wrote {path}")
    return 0


def _calibrate(model: str | Path, n: int) -> None:
    """Fit and store ``model``'s σ model on ``n`` validation scans, with a progress bar and a summary."""
    from .progress import run_to_completion
    from .uncertainty import iter_calibrate_model

    bar = _ProgressBar("calibrate", False)
    try:
        fit = run_to_completion(iter_calibrate_model(model, n), bar)
    finally:
        bar.close()
    surf = ", ".join(f"{t} {w:.3g}" for t, w in zip(fit["surface"]["terms"], fit["surface"]["weights"]))
    print(f"sigma model (surface): {surf}, times a scan scale from {len(fit['surface']['scale']['stats'])} "
          "scan statistics")


def _calibrate_model(args: argparse.Namespace) -> int:
    from .registry import find_model

    path = find_model(args.model)
    _calibrate(path, args.n)
    print(f"wrote {path.with_suffix('.json')}")
    return 0


def _export_model(args: argparse.Namespace) -> int:
    from .errors import ParameterError
    from .registry import export_model

    card = ""
    if args.card is not None:
        try:
            card = args.card.read_text()
        except OSError as exc:
            raise ParameterError(f"cannot read model card {args.card}: {exc.strerror or exc}") from None
    if args.calibrate != 0:  # checked before anything is written
        from .uncertainty import check_calibration_scans

        check_calibration_scans(args.calibrate)
    path = export_model(args.run, args.outdir, args.name, card=card, overwrite=args.overwrite)
    if args.calibrate > 0:
        _calibrate(path, args.calibrate)
    print(f"wrote {path}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import dataclasses

    from .device import resolve_device
    from .errors import ParameterError
    from .progress import run_to_completion
    from .simtip import SPLIT_SEEDS, SimTipConfig, load_config
    from .simtip.config import ImagingConfig
    from .simtip.storage import iter_write_split

    if args.count < 1 or args.batch_size < 1:
        raise ParameterError("-n and --batch-size must be >= 1")
    cfg = load_config(args.config) if args.config else SimTipConfig()
    changes = {k: v for k, v in (("image_px", args.image_px), ("tip_px", args.tip_px)) if v is not None}
    if args.clean:
        off = {f.name: False for f in dataclasses.fields(ImagingConfig) if f.type in (bool, "bool")}
        changes["imaging"] = dataclasses.replace(cfg.imaging, **off)
    cfg = dataclasses.replace(cfg, **changes) if changes else cfg
    seed = SPLIT_SEEDS[args.split] if args.split else args.seed
    device = str(resolve_device(args.device))
    bar = _ProgressBar(args.output.name, args.quiet)
    try:
        path = run_to_completion(
            iter_write_split(args.output, args.count, seed=seed, config=cfg, batch_size=args.batch_size,
                             device=device, overwrite=args.overwrite),
            bar,
        )
    finally:
        bar.close()
    print(f"wrote {path}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .benchmark import iter_benchmark, write_results
    from .errors import ParameterError
    from .progress import run_to_completion
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

        if args.count < 1:
            raise ParameterError(f"-n must be >= 1, got {args.count}")
        split = run_to_completion(iter_generate_split(args.count, seed=SPLIT_SEEDS["test"]))
        title = f"SimTip test split (seed {SPLIT_SEEDS['test']})"
    bar = _ProgressBar("bench", args.quiet)
    try:
        result = run_to_completion(iter_benchmark(split, methods, limit=args.limit), bar)
    finally:
        bar.close()
    for path in write_results(result, args.outdir, overwrite=args.overwrite, title=title):
        print(f"wrote {path}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from .io import read_scan

    status = 0
    for name in args.files:
        try:
            scan = read_scan(name)
        except Se3afmError as exc:
            print(f"se3afm: error: {exc}", file=sys.stderr)
            status = 2
            continue
        try:
            height = scan.height_channel()
        except Se3afmError:
            height = None
        ny, nx = scan.shape
        print(f"{name}  [{scan.format}]")
        if scan.pixel_nm is not None:
            dy, dx = scan.pixel_nm
            sy, sx = scan.scan_size_nm
            print(f"  size {nx} x {ny} px, pixel {dx:.4g} x {dy:.4g} nm (x, y), scan {sx:.4g} x {sy:.4g} nm")
        else:
            print(f"  size {nx} x {ny} px, pixel size not recorded (give --pixel-nm)")
        for ch in scan.channels:
            mark = "*" if ch is height else " "
            lo, hi = float(ch.data.min()), float(ch.data.max())
            print(f"  {mark} {ch.label:<32} {ch.kind:<10} [{ch.unit or '-'}]  range {lo:.4g} .. {hi:.4g}")
        for key, value in scan.metadata.items():
            if value not in (None, "", {}):
                print(f"    {key}: {value}")
    return status


def _resolve_method(args: argparse.Namespace) -> str:
    """``auto`` → the model when weights are installed and no BTR-only option is given, else BTR."""
    from .errors import ParameterError, Se3afmError
    from .registry import find_model

    btr_options = [o for o, v in (("--tip-px", args.tip_px), ("--tip-nm", args.tip_nm),
                                  ("--threshold-nm", args.threshold_nm)) if v is not None]
    if args.method == "model" and btr_options:
        raise ParameterError(f"{', '.join(btr_options)} do not apply to --method model (its tip window is fixed)")
    if args.method != "auto":
        return args.method
    if btr_options:
        return "btr"
    try:
        find_model(args.model)
    except Se3afmError:
        return "btr"
    return "model"


def summary(result, seconds: float) -> list[str]:
    """What a microscopist reads first: the method and where it ran, the tip's apex radius,
    half-angle and depth (± their Monte-Carlo σ where the method gives one) and how the surface
    differs from the image."""
    from .tip import describe_tip

    info = result.info
    d = describe_tip(result.tip, result.pixel_nm)
    spread = info.get("tip_descriptors_std") or {}

    def value(name: str, number: float, unit: str) -> str:
        sigma = spread.get(name)
        return f"{number:.3g}" + ("" if sigma is None else f" ± {sigma:.2g}") + unit

    method = f"model {Path(info['model']).stem}" if result.method == "model" else result.method
    threads = info.get("threads")
    where = info.get("device", "cpu") + (f", {threads} thread{'s' * (threads > 1)}" if threads else "")
    lowered = result.image - result.surface
    rough = float(np.std(result.surface)), float(np.std(result.image))
    lines = [
        f"  {method} on {where}: {seconds:.1f} s",
        f"  tip: apex radius {value('apex_radius_nm', d.apex_radius_nm, ' nm')}, half-angle "
        f"{value('half_angle_deg', d.half_angle_deg, '°')}, {d.depth_nm:.3g} nm deep in its window"
        + (", double tip" if d.double_tip else ""),
        f"  surface: RMS {rough[0]:.3g} nm against the image's {rough[1]:.3g} nm "
        f"({100 * (rough[0] / rough[1] - 1) if rough[1] > 0 else 0.0:+.1f} %), lowered by "
        f"{float(np.mean(lowered)):.3g} nm on average (at most {float(np.max(lowered)):.3g} nm)",
    ]
    if result.surface_std is not None:
        lines[-1] += f"; σ median {float(np.median(result.surface_std)):.2g} nm"
    return lines


def _reconstruct(args: argparse.Namespace) -> int:
    from .errors import ParameterError
    from .io import read_height_map, write_reconstruction
    from .io.writers import write_tip
    from .levelling import level
    from .pipeline import iter_reconstruct
    from .progress import run_to_completion

    inputs = [Path(p) for p in args.inputs] + ([_sample_path()] if args.sample else [])
    if not inputs:
        raise ParameterError("no INPUT given (or use --sample)")
    outputs = [args.outdir / f"{p.stem}.npz" for p in inputs]
    extras = [
        [args.outdir / f"{p.stem}.gwy"] * args.gwy + [args.outdir / f"{p.stem}_tip.{args.tip_file}"] * bool(args.tip_file)
        for p in inputs
    ]
    seen: dict[Path, Path] = {}
    for src, out in zip(inputs, outputs, strict=True):
        if out in seen:
            raise ParameterError(f"{seen[out]} and {src} would both be written to {out}")
        seen[out] = src
    if not args.overwrite:
        existing = [str(o) for o in outputs + [e for group in extras for e in group] if o.exists()]
        if existing:
            raise ParameterError(f"{', '.join(existing)} exist(s); use --overwrite to replace")
    level(np.zeros((2, 2)), () if args.no_level else args.level)  # reject unknown steps before any work
    args.method = _resolve_method(args)
    if args.steps < 0:
        raise ParameterError(f"--steps must be >= 0, got {args.steps}")
    # read and check every input before the long work starts
    maps = []
    for src in inputs:
        data = read_height_map(src, args.channel)
        pixel = (args.pixel_nm, args.pixel_nm) if args.pixel_nm else data.pixel_nm
        if pixel is None:
            raise ParameterError(f"{src}: the file records no pixel size; give --pixel-nm")
        maps.append((data, pixel))
    args.outdir.mkdir(parents=True, exist_ok=True)
    for (data, pixel), src, out, extra in zip(maps, inputs, outputs, extras, strict=True):
        bar = _ProgressBar(src.name, args.quiet)
        start = time.perf_counter()
        try:
            result = run_to_completion(
                iter_reconstruct(
                    data.height, pixel, method=args.method, tip_px=args.tip_px, tip_nm=args.tip_nm,
                    threshold_nm=args.threshold_nm, steps=args.steps, device=args.device,
                    levelling=() if args.no_level else args.level, model=args.model,
                    mc_samples=args.mc_samples, finetune_steps=args.finetune_steps,
                    consistency=args.consistency,
                ),
                bar,
            )
        except Se3afmError as exc:
            raise type(exc)(f"{src}: {exc}") if not str(exc).startswith(str(src)) else exc
        finally:
            bar.close()
        result.info.update(input=str(src), channel=data.metadata.get("channel"))
        print("\n".join(summary(result, time.perf_counter() - start)))
        write_reconstruction(result, out, overwrite=args.overwrite)
        print(f"wrote {out}")
        for path in extra:
            if path.suffix == ".gwy":
                write_reconstruction(result, path, overwrite=args.overwrite)
            else:
                write_tip(result.tip, result.pixel_nm, path, volume=result.tip_volume, overwrite=args.overwrite)
            print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``se3afm``; returns the exit status."""
    logging.basicConfig(level=logging.WARNING, format="se3afm: %(levelname)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "reconstruct":
            return _reconstruct(args)
        if args.command == "info":
            return _info(args)
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "bench":
            return _bench(args)
        if args.command == "train":
            return _train(args)
        if args.command == "export-model":
            return _export_model(args)
        if args.command == "calibrate-model":
            return _calibrate_model(args)
    except Se3afmError as exc:
        print(f"se3afm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("se3afm: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
