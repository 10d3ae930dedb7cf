"""Files no native reader claims, read through Gwyddion.

Gwyddion reads about a hundred SPM formats and converts any of them headless with
``gwyddion --convert-to-gwy=OUT.gwy FILE``. A file that none of this package's readers recognises is
converted into a temporary ``.gwy`` file, which :mod:`.gwy` then reads; the temporary folder is always
removed. No shell is involved, the conversion has a time limit, and Gwyddion's own settings folder is
redirected into the temporary folder so that the user's is never touched.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ..errors import AfmFileError
from ..scan import Scan

__all__ = ["CONVERT_TIMEOUT_S", "GWYDDION_SUFFIXES", "gwyddion_executable", "read_via_gwyddion"]

#: suffixes of formats Gwyddion reads and this package does not (napari offers them to this plugin)
GWYDDION_SUFFIXES = (
    ".gsf",  # Gwyddion simple field
    ".nid",  # Nanosurf
    ".nhf",  # Nanosurf (HDF5)
    ".mi",  # Molecular Imaging / Agilent PicoView
    ".mdt",  # NT-MDT
    ".stp",  # WSxM
    ".top",  # WSxM
    ".tfr",  # WSxM
    ".sm2",  # RHK
    ".sm3",  # RHK
    ".sm4",  # RHK
    ".sdf",  # Surface Data File (ISO 25178-71)
    ".flt",  # Omicron (data; its .par header must lie beside it)
    ".afm",  # Hitachi, Quesant and others
    ".spe",  # WITec, Createc
    ".dat",  # Createc, Omicron Matrix and others
)
#: seconds Gwyddion may take to convert one file before it is stopped
CONVERT_TIMEOUT_S = 60


def gwyddion_executable() -> str | None:
    """The ``gwyddion`` program on the PATH, or None when it is not installed."""
    return shutil.which("gwyddion")


def read_via_gwyddion(path: Path) -> Scan:
    """Read ``path`` by converting it with Gwyddion; the result is cached per file version.

    The cached scan is never handed out itself: each call returns copies of its channels.

    Raises
    ------
    AfmFileError
        Gwyddion is not installed, cannot read the file, or takes longer than :data:`CONVERT_TIMEOUT_S`.
    """
    path = Path(path).resolve()  # absolute: a name starting with '-' is never taken for an option
    stat = path.stat()
    scan = _cached(str(path), stat.st_mtime_ns, stat.st_size)
    return dataclasses.replace(scan, channels=[dataclasses.replace(ch, data=ch.data.copy()) for ch in scan.channels])


@functools.lru_cache(maxsize=4)  # napari asks whether it can read a file, then reads it: convert once
def _cached(path: str, mtime_ns: int, size: int) -> Scan:
    from .gwy import read_gwy

    source = Path(path)
    exe = gwyddion_executable()
    if exe is None:
        suffix = source.suffix or "such"
        raise AfmFileError(
            source,
            f"is not a format napari-se3afm reads itself; install Gwyddion (for example "
            f"'apt install gwyddion') to open {suffix} files through it",
        )
    with tempfile.TemporaryDirectory(prefix="se3afm-gwyddion-") as tmp:
        converted = Path(tmp) / "converted.gwy"
        env = {**os.environ, "HOME": tmp}
        env.pop("DISPLAY", None)  # converting needs no window
        returncode, stderr = _convert([exe, f"--convert-to-gwy={converted}", path], env, tmp, source)
        if returncode != 0 or not converted.is_file():
            raise AfmFileError(source, f"neither napari-se3afm nor Gwyddion can read it ({_reason(stderr, path)})")
        try:
            scan = read_gwy(converted)
        except AfmFileError as exc:  # named by the user's file, not the temporary one
            raise AfmFileError(source, f"Gwyddion reads it, but {exc.problem}") from None
    return Scan(
        channels=scan.channels,
        pixel_nm=scan.pixel_nm,
        source=path,
        format="gwyddion",
        metadata={"read_by": "Gwyddion (gwyddion --convert-to-gwy)"},
    )


def _convert(command: list[str], env: dict, cwd: str, source: Path) -> tuple[int, str]:
    """Run Gwyddion in a session of its own; past the time limit the whole session is killed."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=CONVERT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AfmFileError(source, f"Gwyddion did not finish converting it within {CONVERT_TIMEOUT_S} s") from None
    except BaseException:  # Ctrl-C: no Gwyddion left behind
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    return process.returncode, stderr


def _reason(stderr: str, path: str) -> str:
    """Gwyddion's own line about the file (``FILE: reason``), else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and "WARNING" not in line]
    for line in lines:
        if line.startswith(path + ":"):
            return line[len(path) + 1 :].strip().rstrip(".")
    return lines[-1].rstrip(".") if lines else "no reason given"
