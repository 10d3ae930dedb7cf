"""Write files atomically and never overwrite without being asked."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import AfmFileError, FileExistsSe3afmError


def _exists_error(path: Path) -> FileExistsSe3afmError:
    return FileExistsSe3afmError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")


def _link_new(tmp: Path, path: Path) -> None:
    """Give ``tmp``'s content the name ``path`` only if no file has that name (atomically where the
    file system has hard links)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError:  # no hard links here (some network and FAT file systems): check, then rename
        if path.exists():
            raise _exists_error(path) from None
        os.replace(tmp, path)


def atomic_write(path: Path, write: Callable[[Path], None], *, overwrite: bool = False) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    An error or an interruption (Ctrl-C; SIGTERM under the CLI) leaves no half-written file; only
    SIGKILL can leave the hidden ``.NAME.*.part`` file. An existing ``path`` is replaced only with
    ``overwrite=True``; without it the result is linked into place, which fails if ``path`` appeared
    meanwhile, so of several processes writing one new file exactly one succeeds.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise _exists_error(path)
    if not path.parent.is_dir():
        raise AfmFileError(path, "its folder does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp (or a writer that recreates the file) makes it private
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
            tmp.unlink(missing_ok=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
