"""The ``se3afm`` command line.

``se3afm reconstruct INPUT... -o OUTDIR`` writes ``OUTDIR/<scan name>.npz`` per input (the file name
without its suffix; a Nanoscope file keeps its number, ``scan.002.npz``, and scans that share a
name keep their suffixes, ``sample.top.npz``). Errors a user
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
from .console import (
    ProgressBar,
    Terminated,
    nonnegative_float,
    odd_int,
    pixel_size,
    positive_float,
    signals_deferred,
    terminate_cleanly,
)
from .errors import Se3afmError
from .nn.consistency import CONSISTENCY, DEFAULT_CONSISTENCY

SAMPLE_NAME = "spikes_sample.npz"


def _sample_path() -> Path:
    return Path(str(resources.files("napari_se3afm") / "data" / SAMPLE_NAME))


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes end, like every other error, in one line and status 2
    (``se3afm reconstruct --help`` shows the usage)."""

    def error(self, message: str):
        self.exit(2, f"se3afm: error: {message} (see '{self.prog} --help')\n")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model, --mc-samples and --device, as every command that runs the model takes them."""
    from .nn.registry import DEFAULT_MODEL
    from .options import MC_SAMPLES

    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"model name or .safetensors file (default {DEFAULT_MODEL})"
    )
    parser.add_argument(
        "--mc-samples", type=int, default=MC_SAMPLES, help=f"Monte-Carlo dropout samples (default {MC_SAMPLES})"
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``se3afm`` (all sub-commands)."""
    from .image.levelling import DEFAULT_STEPS
    from .io.writers import TIP_SUFFIXES
    from .options import METHODS

    parser = _Parser(
        prog="se3afm",
        description="Blind tip reconstruction and surface recovery for AFM images (heights in nm).",
    )
    parser.add_argument("--version", action="version", version=f"se3afm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    rec = sub.add_parser(
        "reconstruct",
        help="estimate the tip and the true surface of AFM images",
        description=(
            "Estimate the tip and the true surface of each INPUT and write OUTDIR/<name>.npz (the file "
            "name without its suffix; a Nanoscope file keeps its number, scan.002.npz, and scans that share "
            "a name keep their suffixes, sample.top.npz) with "
            "float64 arrays image, surface, tip, certainty and tip_volume (heights in nm) and the "
            "pixel size pixel_nm. Inputs: Gwyddion .gwy, Bruker Nanoscope .spm/.000-.999, Asylum "
            ".ibw, JPK .jpk, Nanonis .sxm, Park .tiff, .npy/.npz/.tif height maps in nm, and any other "
            "format Gwyddion reads (.nid, .mdt, .sm4, ...) where Gwyddion is installed. The "
            "image is levelled first (robust plane; see --level) unless --no-level is given."
        ),
    )
    rec.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="AFM files or height maps (nm), folders of scans, or quoted globs"
    )
    rec.add_argument("--channel", help="channel to use (default: the height channel; see se3afm info)")
    lev = rec.add_mutually_exclusive_group()
    lev.add_argument("--no-level", action="store_true", help="use the image as it is, without levelling")
    lev.add_argument(
        "--level",
        type=lambda text: tuple(t.strip() for t in text.split(",") if t.strip()),
        default=DEFAULT_STEPS,
        metavar="STEPS",
        help="comma-separated levelling steps: plane, align-rows (row medians), align-rows-diff "
        "(median of differences), scars (scan lines far off their neighbours filled from them), polyN, "
        "zero-min (default: plane,scars,zero-min)",
    )
    rec.add_argument("--gwy", action="store_true", help="also write OUTDIR/<name>.gwy (surface, maps, tip)")
    rec.add_argument(
        "--tip-file",
        choices=[s.lstrip(".") for s in TIP_SUFFIXES],
        help="also export the tip as OUTDIR/<name>_tip.EXT (height map: npz, which --tip reads back; "
        "volume: tif, npy, vti, vtk; mesh: stl, ply, obj)",
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
    rec.add_argument(
        "--tip",
        type=Path,
        metavar="TIP_FILE",
        help="use this tip as it is instead of estimating one: the surface is the image eroded by it. "
        "A tip height map: a reconstruction's .npz or .gwy, a tip exported as .npz (--tip-file npz; "
        "se3afm track's session tips), or a Gwyddion tip .gwy; its pixel size must be the scan's",
    )
    size = rec.add_mutually_exclusive_group()
    size.add_argument("--tip-px", type=odd_int, help="tip window in pixels (odd; default 31 or what fits)")
    size.add_argument("--tip-nm", type=positive_float, help="tip window in nm (rounded to odd pixels)")
    rec.add_argument(
        "--pixel-nm",
        type=pixel_size,
        help="pixel size in nm, for files that record none (overrides, with a warning, what a file records)",
    )
    rec.add_argument(
        "--threshold-nm",
        type=nonnegative_float,
        help="BTR noise threshold in nm (default: chosen per scan from the estimated image noise)",
    )
    rec.add_argument("--steps", type=int, default=200, help="optimiser steps for dbtr (default 200)")
    _add_model_options(rec)
    rec.add_argument("--finetune-steps", type=int, default=0, help="fine-tune the model on each scan first (default 0)")
    rec.add_argument(
        "--consistency",
        choices=CONSISTENCY,
        default=DEFAULT_CONSISTENCY,
        help="hold the model's output to its image: 'tip' clips the tip to the blind (BTR) bound, "
        "'image' also raises the surface until it reproduces the image within the noise, "
        "'tight' does so with the bound tightened where the image is left unexplained "
        "(slower; fits real scans closest), "
        f"'none' keeps the network's output (default {DEFAULT_CONSISTENCY})",
    )
    rec.add_argument("--overwrite", action="store_true", help="replace existing result files")
    rec.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    track = sub.add_parser(
        "track",
        help="follow a tip over a session of scans: descriptors with σ, and the changes",
        description="Reconstruct the tip of every scan (the default model, with its σ), order the scans by "
        "acquisition time where every file records one, and write OUTDIR/tip_wear.csv (a row per scan: "
        "file, time, apex radius, half-angle, asymmetry, apex volume, the width added at half height to "
        "features 1, 2, 5 and 10 nm high, each with σ, double-tip flag, event), tip_wear.png (the plot) "
        "and tip_wear.npz (the tips and their σ, and the session tips). An event is flagged where "
        "consecutive tips differ by more than twice their combined σ or a descriptor's ± 2σ error bars part. "
        "The scans between two events make one session tip: their tips averaged and held to the tightest "
        "bound all of them allow.",
    )
    track.add_argument("inputs", nargs="+", metavar="INPUT", help="scan files, folders of scans, or quoted globs")
    track.add_argument("-o", "--outdir", type=Path, required=True, help="folder for the report")
    track.add_argument("--channel", help="channel of each scan (default: its height channel)")
    track.add_argument(
        "--tip-file",
        choices=[s.lstrip(".") for s in TIP_SUFFIXES],
        help="also export each session tip as OUTDIR/session_tip_N.EXT (N = 1, 2, ... in scan order; "
        "height map: npz, which se3afm reconstruct --tip uses; volume: tif, npy, vti, vtk; mesh: stl, ply, obj)",
    )
    _add_model_options(track)
    track.add_argument("--overwrite", action="store_true", help="replace an existing report")
    track.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    info = sub.add_parser(
        "info",
        help="list the channels, units, sizes and metadata of AFM files",
        description="List each file's channels (name, direction, unit, kind, size, value range), pixel "
        "size and scan size in nm, and instrument metadata. The height channel is marked with *.",
    )
    info.add_argument("files", nargs="+", metavar="FILE")
    lab = sub.add_parser(
        "lab",
        help="make and judge models: SimTip data, benchmark, training, export, σ calibration",
        description="Commands for whoever trains and judges models (CONTRIBUTING.md, docs/model.md).",
    )
    from .lab.cli import add_commands

    add_commands(lab.add_subparsers(dest="lab_command", metavar="COMMAND", required=True))
    return parser


def _track(args: argparse.Namespace) -> int:
    from .errors import ParameterError
    from .io import find_scans, read_scan
    from .io.writers import tip_suffix_problem, write_tip
    from .options import reconstruct_options
    from .progress import run_to_completion
    from .wear.report import REPORT_FILES, write_wear_report
    from .wear.session import session_summary
    from .wear.track import iter_track_tip

    files = find_scans(args.inputs)
    if args.tip_file and (problem := tip_suffix_problem(args.tip_file)):
        raise ParameterError(problem)
    written = [args.outdir / name for name in REPORT_FILES]
    if args.tip_file:  # as many as the session tips found: every one already there is refused
        written += sorted(args.outdir.glob(f"session_tip_*.{args.tip_file}"))
    _check_outdir(args.outdir, written, args.overwrite, files)
    options = reconstruct_options("model", model=args.model, mc_samples=args.mc_samples, device=args.device)
    scans = [read_scan(f) for f in files]  # every file checked before the long work starts
    bar = ProgressBar("tip wear", args.quiet)
    start = time.perf_counter()
    try:
        track = run_to_completion(iter_track_tip(scans, channel=args.channel, options=options), bar)
    finally:
        bar.close()
    count = len(track.sessions) if args.tip_file else 0
    tip_files = [args.outdir / f"session_tip_{n}.{args.tip_file}" for n in range(1, count + 1)]
    with signals_deferred():  # the writers run to their end; an interruption then still leaves no report
        written = write_wear_report(track, args.outdir, overwrite=args.overwrite)
        for session, path in zip(track.sessions[:count], tip_files, strict=True):
            written.append(
                write_tip(session.tip, session.pixel_nm, path, tip_std=session.tip_std, overwrite=args.overwrite)
            )
    for path in written:
        print(f"wrote {path}")
    print(
        f"{len(track.states)} scans ({track.ordered_by}) in {time.perf_counter() - start:.1f} s; "
        f"{len(track.events)} change(s)"
        + "".join(f"\n  before scan {e.index + 1}: {e.kind} ({e.detail})" for e in track.events)
    )
    for n, session in enumerate(track.sessions, 1):
        print(f"session tip {n}: {session_summary(session)}")
    if args.tip_file:  # an earlier report's tips beyond this one's are neither replaced nor removed
        stale = sorted(set(args.outdir.glob(f"session_tip_*.{args.tip_file}")) - set(tip_files), key=str)
        for path in stale:
            print(f"se3afm: warning: {path} is an earlier report's session tip, left as it was", file=sys.stderr)
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
            if ch is height and (scars := _scars_of(ch.data)):
                print(f"    {scars}")
        for key, value in scan.metadata.items():
            if value not in (None, "", {}):
                print(f"    {key}: {value}")
    return status


def _scars_of(height: np.ndarray) -> str:
    """The scan-line scars the default levelling fills in a height channel, for people ("" if none)."""
    from .image.levelling import DEFAULT_STEPS, level
    from .image.scars import scar_lines_text

    found: dict = {}
    if np.isfinite(height).all():
        level(height, DEFAULT_STEPS, found)
    if not found.get("scar_lines"):
        return ""
    where = scar_lines_text(found["scar_lines"])
    return (
        f"scan-line scars on {where} ({found['scar_pixels']} pixels): reconstruction fills them "
        "(to keep them: --level plane,zero-min)"
    )


def summary(result, seconds: float) -> list[str]:
    """What a microscopist reads first: the method and where it ran, the tip's apex radius,
    half-angle and depth (± their σ where the method gives one: the tip's σ map and its Monte-Carlo
    spread carried into them), how much it widens features of 1–10 nm, and how the surface differs
    from the image."""
    from .classical.btr import threshold_text
    from .image.scars import scar_text
    from .tip import describe_tip
    from .tip.broadening import broadening_text, tip_broadening
    from .tip.descriptors import descriptor_text

    info = result.info
    d = describe_tip(result.tip, result.pixel_nm)
    spread = info.get("tip_descriptors_std") or {}

    def value(name: str, number: float, unit: str) -> str:
        return descriptor_text(name, number, spread.get(name), unit, result.pixel_nm)

    method = {"model": f"model {Path(info.get('model', '')).stem}", "known-tip": "the tip given"}.get(
        result.method, result.method
    )
    threads = info.get("threads")
    where = info.get("device", "cpu") + (f", {threads} thread{'s' * (threads > 1)}" if threads else "")
    lowered = result.image - result.surface
    rough = float(np.std(result.surface)), float(np.std(result.image))
    chosen = threshold_text(info)  # classical BTR's, chosen per scan (or as asked)
    lines = [
        f"  {method} on {where}: {seconds:.1f} s" + (f"; {chosen}" if chosen else ""),
        f"  tip: apex radius {value('apex_radius_nm', d.apex_radius_nm, ' nm')}, half-angle "
        f"{value('half_angle_deg', d.half_angle_deg, '°')}, {d.depth_nm:.3g} nm deep in its window"
        + (", double tip" if d.double_tip else ""),
        f"  surface: RMS {rough[0]:.3g} nm against the image's {rough[1]:.3g} nm "
        f"({100 * (rough[0] / rough[1] - 1) if rough[1] > 0 else 0.0:+.1f} %), lowered by "
        f"{float(np.mean(lowered)):.3g} nm on average (at most {float(np.max(lowered)):.3g} nm)",
    ]
    pixel = float(np.sqrt(result.pixel_nm[0] * result.pixel_nm[1]))
    widening = broadening_text(tip_broadening(result.tip, result.pixel_nm), spread, pixel)
    if widening:
        lines.insert(2, f"  tip {widening}")
    if result.surface_std is not None:
        lines[-1] += f"; σ median {float(np.median(result.surface_std)):.2g} nm"
    if scars := scar_text(info):
        lines.insert(1, f"  image: {scars}")
    return lines


def _check_outdir(outdir: Path, outputs: list[Path], overwrite: bool, inputs: list[Path] = ()) -> None:
    """Refuse, before any work, an output folder that is a file or cannot be written, an output path
    that is a folder or one of the inputs (never written over, even with ``overwrite``), and (without
    ``overwrite``) outputs that exist; create the folder."""
    import tempfile

    from .errors import ParameterError

    if outdir.exists() and not outdir.is_dir():
        raise ParameterError(f"-o {outdir} is a file, not a folder")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=outdir):  # what the writers will do; os.access can say yes wrongly
            pass
    except OSError as exc:
        raise ParameterError(f"cannot write into the output folder {outdir}: {exc.strerror or exc}") from None
    for out in outputs:
        for src in inputs:
            if out.resolve() == src.resolve() or (out.exists() and src.exists() and out.samefile(src)):
                raise ParameterError(f"{out} is the input {src}; a result is never written over its input")
    folders = [str(o) for o in outputs if o.is_dir()]
    if folders:
        raise ParameterError(f"{', '.join(folders)} is a folder; the result would be written there")
    existing = [str(o) for o in outputs if o.exists()]
    if existing and not overwrite:
        raise ParameterError(f"{', '.join(existing)} exist(s); use --overwrite to replace")


def _reconstruct(args: argparse.Namespace) -> int:
    from .errors import ParameterError
    from .io import find_scans, read_height_map, result_names, write_reconstruction
    from .io.atomic import output_set
    from .io.tip_files import read_tip
    from .io.writers import tip_suffix_problem, write_tip
    from .options import reconstruct_options
    from .pipeline import iter_reconstruct
    from .progress import run_to_completion

    # files, folders of scans and quoted globs, as for se3afm track
    inputs = (find_scans(args.inputs) if args.inputs else []) + ([_sample_path()] if args.sample else [])
    if not inputs:
        raise ParameterError("no INPUT given (or use --sample)")
    if args.tip_file and (problem := tip_suffix_problem(args.tip_file)):
        raise ParameterError(problem)
    names = result_names(inputs)
    npz_files = [args.outdir / f"{name}.npz" for name in names]
    extras = [
        [args.outdir / f"{name}.gwy"] * args.gwy + [args.outdir / f"{name}_tip.{args.tip_file}"] * bool(args.tip_file)
        for name in names
    ]
    written = npz_files + [e for group in extras for e in group]
    # creates the folder; the tip given is an input too, never written over
    _check_outdir(args.outdir, written, args.overwrite, inputs + ([args.tip] if args.tip else []))
    tip, tip_pixel = read_tip(args.tip) if args.tip else (None, None)
    options = reconstruct_options(  # every option checked before any file is read
        args.method,
        tip=tip,
        tip_pixel_nm=tip_pixel,
        tip_px=args.tip_px,
        tip_nm=args.tip_nm,
        threshold_nm=args.threshold_nm,
        steps=args.steps,
        device=args.device,
        levelling=() if args.no_level else args.level,
        model=args.model,
        mc_samples=args.mc_samples,
        finetune_steps=args.finetune_steps,
        consistency=args.consistency,
    )
    # read and check every input before the long work starts
    maps = []
    for src in inputs:
        data = read_height_map(src, args.channel)
        pixel = (args.pixel_nm, args.pixel_nm) if args.pixel_nm else data.pixel_nm
        if args.pixel_nm and data.pixel_nm is not None and not np.allclose(data.pixel_nm, pixel, rtol=1e-6):
            dy, dx = data.pixel_nm
            print(
                f"se3afm: warning: {src}: the file records {dx:.6g} x {dy:.6g} nm pixels (x, y); "
                f"using --pixel-nm {args.pixel_nm:g} as asked",
                file=sys.stderr,
            )
        if pixel is None:
            raise ParameterError(f"{src}: the file records no pixel size; give --pixel-nm")
        maps.append((data, pixel))
    with output_set() as outputs:  # the outputs of the run appear together at its end, or none of them
        for (data, pixel), src, out, extra in zip(maps, inputs, npz_files, extras, strict=True):
            bar = ProgressBar(src.name, args.quiet)
            start = time.perf_counter()
            try:
                result = run_to_completion(iter_reconstruct(data.height, pixel, options), bar)
            except Se3afmError as exc:
                raise (type(exc)(f"{src}: {exc}") if not str(exc).startswith(str(src)) else exc) from None
            finally:
                bar.close()
            result.info.update(input=str(src), channel=data.metadata.get("channel"))
            print("\n".join(summary(result, time.perf_counter() - start)))
            with signals_deferred():  # no writer is stopped half-way inside its library
                write_reconstruction(result, out, overwrite=args.overwrite)
                for path in extra:
                    if path.suffix == ".gwy":
                        write_reconstruction(result, path, overwrite=args.overwrite)
                    else:
                        write_tip(
                            result.tip,
                            result.pixel_nm,
                            path,
                            volume=result.tip_volume,
                            tip_std=result.tip_std,
                            overwrite=args.overwrite,
                        )
        with signals_deferred():
            done = outputs.commit()
    for path in done:
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``se3afm``; returns the exit status."""
    logging.basicConfig(level=logging.WARNING, format="se3afm: %(levelname)s: %(message)s")
    try:
        with terminate_cleanly():
            parser = build_parser()
            args = parser.parse_args(argv)
            if args.command == "reconstruct":
                return _reconstruct(args)
            if args.command == "info":
                return _info(args)
            if args.command == "track":
                return _track(args)
            if args.command == "lab":
                from .lab.cli import run

                return run(args)
            parser.print_help()
            return 2
    except Se3afmError as exc:
        print(f"se3afm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("se3afm: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("se3afm: terminated", file=sys.stderr)
        return 143


def entry_point() -> None:
    """The ``se3afm`` program: :func:`main`, then SIGTERM ignored while the interpreter shuts down (the
    command has ended: its outputs are complete and its line is said), so that no signal ends the
    process without its line."""
    import signal

    status = main()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry_point()
