"""Fuzz every reader, native and through Gwyddion, and count what happens.

    .venv/bin/python tests/readers/fuzz_readers.py [--seed S] [--flips N]

Inputs: every real file in ../shared/data/real, the synthetic Nanoscope header variants of
synthetic_files.py beside it, a Gwyddion Simple Field file (read through Gwyddion) and plain arrays, each

* cut short at 24 evenly spaced lengths and at its structural boundaries (end of the text header,
  start of each data block, each NUL in a binary header's first 2 KB),
* with N single bytes flipped in its header and N in its data (default 24 each),
* with absurd numbers written into its header (10⁵ × 10⁵ samples, zero and negative scan sizes,
  data offsets past the end, 3 bytes per pixel) where the format has a text header,
* under every other format's suffix.

Each input is read by ``read_scan`` under a 30 s alarm. Outcomes: *read* (for a file cut short,
also whether its height channel equals the intact file's: a short file read as anything else
would be a silently wrong image), *refused* (the project's one error type), *crash* (any other
exception) and *hang* (the alarm). Prints the counts per source and every crash, hang and
suspicious read; exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from napari_se3afm.errors import Se3afmError
from napari_se3afm.io import read_scan, via_gwyddion

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "data" / "real"
SUFFIXES = (".gwy", ".spm", ".001", ".ibw", ".jpk", ".sxm", ".tiff", ".npy", ".npz", ".gsf", ".nid")
ALARM_S = 30


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def sources(tmp: Path) -> dict[str, Path]:
    """The intact inputs by name."""
    from synthetic_files import variants, write_gsf, write_nanoscope  # beside this script

    found = {p.name: p for p in sorted(REAL.glob("*.*")) if p.suffix != ".md"} if REAL.is_dir() else {}
    for name, variant in variants().items():
        found[f"nanoscope {name}"] = write_nanoscope(tmp / f"{name}.spm", variant)
    rng = np.random.default_rng(0)
    if via_gwyddion.gwyddion_executable():
        found["Gwyddion simple field"] = write_gsf(tmp / "field.gsf", rng.normal(0, 3, (64, 48)), 2.0)
    np.save(tmp / "heights.npy", rng.normal(0, 3, (64, 64)))
    np.savez(tmp / "heights.npz", image=rng.normal(0, 3, (64, 64)), pixel_nm=2.0)
    found["numpy .npy"] = tmp / "heights.npy"
    found["numpy .npz"] = tmp / "heights.npz"
    return found


def boundaries(blob: bytes) -> list[int]:
    """Offsets where a file's structure changes: header end, data offsets, NULs of a binary header."""
    cuts = set()
    for marker in (b"\\*File list end", b":SCANIT_END:", b"\x1a\x04"):
        at = blob.find(marker)
        if at >= 0:
            cuts.update((at, at + len(marker), at + len(marker) + 4))
    head = blob[:8192].decode("latin-1")
    cuts.update(int(m) for m in re.findall(r"\\Data offset: (\d+)", head))
    cuts.update(i for i in range(min(len(blob), 2048)) if blob[i] == 0 and i % 7 == 0)
    return sorted(c for c in cuts if 0 < c < len(blob))


def absurd_headers(blob: bytes) -> list[tuple[str, bytes]]:
    """Copies with impossible numbers in a text header (Nanoscope, Nanonis, GSF)."""
    edits = [  # (the key and its separator, as group 1; the value that follows it), the new value
        (rb"(\\Samps/line: )\d+", b"100000"),
        (rb"(\\Number of lines: )\d+", b"100000"),
        (rb"(\\Scan [Ss]ize: )[^\r\n]*", b"0 0 nm"),
        (rb"(\\Scan [Ss]ize: )[^\r\n]*", b"-5 -5 ~m"),
        (rb"(\\Data offset: )\d+", b"1000000000000"),
        (rb"(\\Bytes/pixel: )\d+", b"3"),
        (rb"(\\Data length: )\d+", b"0"),
        (rb"(:SCAN_PIXELS:\s+)\d+\s+\d+", b"100000 100000"),
        (rb"(:SCAN_RANGE:\s+)\S+\s+\S+", b"0 -1"),
        (rb"(XRes = )\d+", b"100000"),
        (rb"(XReal = )\S+", b"-1e-6"),
    ]
    out = []
    for pattern, value in edits:
        edited, n = re.subn(pattern, lambda m, v=value: m.group(1) + v, blob[:16384], count=1)
        if n:
            key = re.search(pattern, blob[:16384]).group(1).decode("latin-1").strip(" \\:=\r\n")
            out.append((f"{key} {value.decode()}", edited + blob[16384:]))
    return out


def attempt(path: Path) -> tuple[str, object]:
    """Read ``path`` under the alarm: (outcome, the height data or the exception)."""
    signal.alarm(ALARM_S)
    try:
        scan = read_scan(path)
        try:
            return "read", scan.height_channel().data
        except Se3afmError:
            return "read", None
    except Se3afmError as exc:
        return "refused", exc
    except Hang:
        return "hang", None
    except Exception as exc:  # what must never happen
        return "crash", exc
    finally:
        signal.alarm(0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flips", type=int, default=24)
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    via_gwyddion.CONVERT_TIMEOUT_S = ALARM_S - 5
    rng = np.random.default_rng(args.seed)
    problems: list[str] = []
    totals: Counter = Counter()
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="se3afm-fuzz-"))
    try:
        print("| source | inputs | read | refused | crash | hang | short file read as another image |")
        print("|---|---|---|---|---|---|---|")
        for name, source in sources(tmp).items():
            blob = source.read_bytes()
            intact = attempt(source)[1]
            cases: list[tuple[str, bytes, bool]] = []  # (what, bytes, is a truncation)
            lengths = sorted(set(np.linspace(1, len(blob) - 1, 24).astype(int)) | set(boundaries(blob)))
            cases += [(f"cut at {n}", blob[:n], True) for n in lengths]
            header_end = min(len(blob) // 4, 4096)
            for region, (lo, hi) in (("header", (0, header_end)), ("data", (header_end, len(blob)))):
                for at in rng.integers(lo, max(lo + 1, hi), size=args.flips):
                    flipped = bytearray(blob)
                    flipped[at] ^= 1 << int(rng.integers(8))
                    cases.append((f"{region} byte {at} flipped", bytes(flipped), False))
            cases += [(f"absurd {what}", edited, False) for what, edited in absurd_headers(blob)]
            counts: Counter = Counter()
            wrong = 0
            for i, (what, content, truncated) in enumerate(cases):
                path = tmp / f"case{i}{source.suffix}"
                path.write_bytes(content)
                outcome, detail = attempt(path)
                counts[outcome] += 1
                if outcome in ("crash", "hang"):
                    problems.append(f"{name}, {what}: {outcome} {detail!r}")
                elif outcome == "read" and truncated and not _same(detail, intact):
                    wrong += 1
                    problems.append(f"{name}, {what}: read as an image different from the intact file's")
                path.unlink()
            for suffix in SUFFIXES:
                if suffix != source.suffix:
                    path = tmp / f"renamed{suffix}"
                    shutil.copyfile(source, path)
                    outcome, detail = attempt(path)
                    counts[outcome] += 1
                    if outcome in ("crash", "hang"):
                        problems.append(f"{name} renamed {suffix}: {outcome} {detail!r}")
                    path.unlink()
            n = sum(counts.values())
            totals.update(counts)
            totals["inputs"] += n
            totals["wrong"] += wrong
            print(
                f"| {name} | {n} | {counts['read']} | {counts['refused']} | {counts['crash']} | {counts['hang']} "
                f"| {wrong} |",
                flush=True,
            )
        print(
            f"| **all** | **{totals['inputs']}** | {totals['read']} | {totals['refused']} | **{totals['crash']}** "
            f"| **{totals['hang']}** | **{totals['wrong']}** |"
        )
        print(f"\n{time.perf_counter() - start:.0f} s; seed {args.seed}")
        for line in problems:
            print("PROBLEM", line)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if problems else 0


def _same(a, b) -> bool:
    return a is not None and b is not None and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


if __name__ == "__main__":
    sys.exit(main())
