"""Fuzz the command line the way a user's mistakes and interruptions do, and count what happens.

    .venv/bin/python bench/fuzz_cli.py [--quick] [--signals N]

Categories, each case checked for its exit status, its stderr (one line for a refusal) and the
inputs' bytes (never changed):

* **options**: every count, size and choice option of ``se3afm reconstruct`` with zero, negative,
  huge, tiny, non-finite, empty and non-numeric values;
* **outputs**: the output folder being the input's folder (with and without ``--overwrite``), a file,
  a folder that cannot be written, an output name taken by a folder, a model without its description;
* **signals** (skipped with ``--quick``): SIGTERM and SIGINT at N moments spread over a BTR run of a
  real scan with three outputs (``--gwy --tip-file vti``): all three outputs or none, one line;
* **concurrent** (skipped with ``--quick``): two runs writing the same new outputs at once: one
  succeeds with whole files, the other refuses in one line;
* **Gwyddion fallback**: Gwyddion Simple Field files with absurd sizes and pixel sizes.

Outcomes: *ok* (status 0), *refused* (status 2, one line), *interrupted* (130/143, one line, all outputs
or none) and *defect* (anything else: a traceback, several lines, a changed input, a partial output
set, a hang). Prints a table per category and every defect; exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from napari_se3afm.cli import main as se3afm

ROOT = Path(__file__).resolve().parents[1]
REAL_SCAN = ROOT.parent / "shared" / "data" / "real" / "topostats__old_bruker.002"
BAD_NUMBERS = ("0", "-1", "1e9", "1000000000", "1e308", "1e-30", "nan", "inf", "", "x")
NUMERIC_OPTIONS = (
    "--mc-samples",
    "--steps",
    "--finetune-steps",
    "--tip-px",
    "--tip-nm",
    "--pixel-nm",
    "--threshold-nm",
)
CHOICE_OPTIONS = {"--device": ("", "gpu", "cuda:x", "CPU "), "--method": ("", "BTR"), "--level": ("", "plane,,x")}
HANG_S = 60


def _digest(paths: list[Path]) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def _in_process(argv: list[str]) -> tuple[int, str]:
    """Run ``se3afm ARGV`` in this process under an alarm: (status, stderr)."""
    err = io.StringIO()
    signal.alarm(HANG_S)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                status = se3afm(argv)
            except SystemExit as stop:
                status = int(stop.code)
            except TimeoutError:
                status = -999
            except Exception as exc:  # a traceback the user would see
                status, _ = -1, err.write(f"{type(exc).__name__}: {exc}\n")
    finally:
        signal.alarm(0)
    return status, err.getvalue()


def _judge(status: int, err: str, unchanged: bool, outputs_whole: bool = True) -> str:
    lines = err.strip().splitlines()
    if not unchanged or not outputs_whole or status not in (0, 2, 130, 143):
        return "defect"
    if status == 0:
        return "ok"
    if len(lines) != 1 or not lines[0].startswith("se3afm: "):
        return "defect"
    return "refused" if status == 2 else "interrupted"


def option_cases(tmp: Path) -> list[tuple[str, list[str]]]:
    scan = tmp / "in" / "scan.npz"
    cases = []
    for option in NUMERIC_OPTIONS:
        for value in BAD_NUMBERS:
            method = ["--method", "dbtr"] if option == "--steps" else []
            cases.append(
                (f"{option} {value!r}", ["reconstruct", str(scan), "-o", str(tmp / "o"), option, value, *method])
            )
    for option, values in CHOICE_OPTIONS.items():
        cases += [(f"{option} {v!r}", ["reconstruct", str(scan), "-o", str(tmp / "o"), option, v]) for v in values]
    return cases


def output_cases(tmp: Path) -> list[tuple[str, list[str]]]:
    scan = tmp / "in" / "scan.npz"
    afile = tmp / "afile"
    afile.write_text("x")
    (tmp / "taken" / "scan.npz").mkdir(parents=True)
    bare = tmp / "bare.safetensors"
    shutil.copyfile(ROOT / "models" / "se3afm-v1.safetensors", bare)
    btr = ["--method", "btr", "-q"]
    cases = [
        ("-o the input's folder", ["reconstruct", str(scan), "-o", str(scan.parent), *btr]),
        ("-o the input's folder --overwrite", ["reconstruct", str(scan), "-o", str(scan.parent), *btr, "--overwrite"]),
        ("-o a file", ["reconstruct", str(scan), "-o", str(afile), *btr]),
        ("-o /sys/kernel", ["reconstruct", str(scan), "-o", "/sys/kernel", *btr]),
        ("-o /dev/null", ["reconstruct", str(scan), "-o", "/dev/null", *btr]),
        ("output taken by a folder", ["reconstruct", str(scan), "-o", str(tmp / "taken"), *btr, "--overwrite"]),
        ("--model without its .json", ["reconstruct", str(scan), "-o", str(tmp / "m"), "--model", str(bare), "-q"]),
        ("track -o the input's folder", ["track", str(scan), "-o", str(scan.parent), "--overwrite", "-q"]),
    ]
    return cases


def gwyddion_cases(tmp: Path) -> list[tuple[str, list[str]]]:
    if not shutil.which("gwyddion"):
        return []
    cases = []
    for what, (res, real) in {
        "XRes 0": ("0", "1.6e-08"),
        "XReal nan": ("16", "nan"),
        "XReal 1e300": ("16", "1e300"),
        "XReal 1e-300": ("16", "1e-300"),
        "XReal -1e-6": ("16", "-1e-6"),
        "XReal 0": ("16", "0"),
    }.items():
        header = (
            f"Gwyddion Simple Field 1.0\nXRes = {res}\nYRes = 16\nXReal = {real}\nYReal = 1.6e-08\n"
            "XYUnits = m\nZUnits = m\nTitle = Topography\n"
        ).encode()
        path = tmp / "in" / f"gsf {what}.gsf".replace(" ", "_")
        data = (np.random.default_rng(0).random((16, 16)) * 1e-9).astype("<f4").tobytes()
        path.write_bytes(header + b"\0" * (4 - len(header) % 4) + data)
        for command in ("info", "reconstruct"):
            argv = [command, str(path)] + (["-o", str(tmp / "g"), "--method", "btr", "-q"] if command != "info" else [])
            cases.append((f"{what}: {command}", argv))
    return cases


def _spawn(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from napari_se3afm.cli import entry_point; entry_point()", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def signal_cases(tmp: Path, count: int) -> list[tuple[str, int, str, bool]]:
    """(what, status, stderr, outputs whole) for SIGTERM and SIGINT at ``count`` moments each."""
    names = ["topostats__old_bruker.002.gwy", "topostats__old_bruker.002.npz", "topostats__old_bruker.002_tip.vti"]
    out = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        for i, delay in enumerate(np.linspace(0.3, 4.5, count)):
            folder = tmp / f"sig{signum}_{i}"
            process = _spawn(
                [
                    "reconstruct",
                    str(REAL_SCAN),
                    "-o",
                    str(folder),
                    "--method",
                    "btr",
                    "--gwy",
                    "--tip-file",
                    "vti",
                    "-q",
                ]
            )
            time.sleep(float(delay))
            process.send_signal(signum)
            _, err = process.communicate(timeout=HANG_S)
            found = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            whole = found == [] if process.returncode != 0 else found == names
            out.append((f"{signal.Signals(signum).name} at {delay:.2f} s", process.returncode, err, whole))
    return out


def concurrent_cases(tmp: Path, count: int) -> list[tuple[str, int, str, bool]]:
    """Two runs racing for the same new outputs: one wins with whole files, the other refuses."""
    out = []
    for i in range(count):
        folder = tmp / f"race{i}"
        argv = ["reconstruct", str(REAL_SCAN), "-o", str(folder), "--method", "btr", "--gwy", "-q"]
        first, second = _spawn(argv), _spawn(argv)
        results = [(p.wait(timeout=HANG_S), p.stderr.read()) for p in (first, second)]
        statuses = sorted(status for status, _ in results)
        files = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        whole = statuses == [0, 2] and files == ["topostats__old_bruker.002.gwy", "topostats__old_bruker.002.npz"]
        for status, err in results:
            out.append((f"race {i}", status, err, whole))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="options, outputs and Gwyddion only (seconds)")
    parser.add_argument("--signals", type=int, default=12, help="moments per signal (default 12)")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError()))
    tmp = Path(tempfile.mkdtemp(prefix="se3afm-fuzz-cli-"))
    start = time.perf_counter()
    defects: list[str] = []
    rows: list[tuple[str, Counter]] = []
    try:
        (tmp / "in").mkdir()
        yy, xx = np.mgrid[:48, :48]
        np.savez(tmp / "in" / "scan.npz", image=10 * np.sin(xx / 3) * np.cos(yy / 4), pixel_nm=2.0)
        for category, make in (
            ("options", option_cases),
            ("outputs", output_cases),
            ("Gwyddion fallback", gwyddion_cases),
        ):
            counts: Counter = Counter()
            for what, argv in make(tmp):
                inputs = sorted((tmp / "in").iterdir())
                before = _digest(inputs)
                status, err = _in_process(argv)
                outcome = _judge(status, err, _digest(inputs) == before)
                counts[outcome] += 1
                if outcome == "defect":
                    defects.append(f"{category}, {what}: status {status}: {err.strip()!r}")
            rows.append((category, counts))
        if not args.quick and REAL_SCAN.is_file():
            for category, cases in (
                ("signals during a run", signal_cases(tmp, args.signals)),
                ("concurrent runs", concurrent_cases(tmp, 3)),
            ):
                counts = Counter()
                for what, status, err, whole in cases:
                    outcome = _judge(status, err, True, whole)
                    counts[outcome] += 1
                    if outcome == "defect":
                        defects.append(f"{category}, {what}: status {status}, outputs whole {whole}: {err.strip()!r}")
                rows.append((category, counts))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("| category | cases | ok | refused (one line, status 2) | interrupted (all or none) | defects |")
    print("|---|---|---|---|---|---|")
    for category, c in rows:
        print(f"| {category} | {sum(c.values())} | {c['ok']} | {c['refused']} | {c['interrupted']} | {c['defect']} |")
    print(f"\n{time.perf_counter() - start:.0f} s")
    for line in defects:
        print("DEFECT", line)
    return 1 if defects else 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
