"""The scan files a command names (files, folders, glob patterns) and the name each result carries."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ParameterError
from .detect import detect_format

__all__ = ["find_scans", "result_names", "scan_name"]


def scan_name(path: str | Path) -> str:
    """The name a scan's results and layers carry: the file name without its suffix, except where the
    suffix is the scan's number in a session (Nanoscope ``scan.000``–``scan.999``), which it keeps, so
    that ``scan.002`` and ``scan.004`` never share a result file or a layer name."""
    p = Path(path)
    return p.name if re.fullmatch(r"\.\d{3}", p.suffix) else p.stem


def result_names(paths: list[str | Path]) -> list[str]:
    """The name each scan's results carry when they are written side by side: :func:`scan_name`,
    or the whole file name where two scans share one (``sample.top`` and ``sample.jpk-qi-image``
    from one folder). Two files of one name from different folders would still collide, and are
    refused: results are never written over one another."""
    names = [scan_name(p) for p in paths]
    shared = {n for n in names if names.count(n) > 1}
    names = [Path(p).name if n in shared else n for p, n in zip(paths, names, strict=True)]
    first: dict[str, Path] = {}
    for p, n in zip(paths, names, strict=True):
        if n in first:
            raise ParameterError(
                f"{first[n]} and {p} would both give results named {n}; write them to different folders"
            )
        first[n] = Path(p)
    return names


def find_scans(inputs: list[str | Path]) -> list[Path]:
    """The scan files named by files, folders (every file in them that is a scan) and glob patterns,
    in the order given, each once.

    Raises
    ------
    ParameterError
        A name that is no file, a folder without scans, a pattern that matches nothing.
    """
    import glob

    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = [p for p in sorted(path.iterdir()) if p.is_file() and detect_format(p)]
            if not found:
                raise ParameterError(f"{path}: no AFM scan in this folder")
            files += found
        elif path.exists():
            files.append(path)
        elif glob.has_magic(str(item)):
            found = [Path(p) for p in sorted(glob.glob(str(item))) if Path(p).is_file()]
            if not found:
                raise ParameterError(f"{item}: no file matches")
            files += found
        else:
            raise ParameterError(f"{path}: no such file")
    return list(dict.fromkeys(files))
