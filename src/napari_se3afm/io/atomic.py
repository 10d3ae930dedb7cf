"""Write files atomically, never overwrite without being asked, and commit a run's outputs together."""

from __future__ import annotations

import contextlib
import contextvars
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import AfmFileError, FileExistsSe3afmError

__all__ = ["OutputSet", "atomic_write", "output_set"]

#: the set that :func:`atomic_write` adds its finished files to, inside :func:`output_set`
_CURRENT_SET: contextvars.ContextVar[OutputSet | None] = contextvars.ContextVar("se3afm_output_set", default=None)


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


def _name(tmp: Path, path: Path, overwrite: bool) -> None:
    """Give the finished temporary file ``tmp`` its final name ``path``."""
    if overwrite:
        os.replace(tmp, path)
    else:
        _link_new(tmp, path)
        tmp.unlink(missing_ok=True)


def atomic_write(path: Path, write: Callable[[Path], None], *, overwrite: bool = False) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    An error or an interruption (Ctrl-C; SIGTERM under the CLI) leaves no half-written file; only
    SIGKILL can leave the hidden ``.NAME.*.part`` file. An existing ``path`` is replaced only with
    ``overwrite=True``; without it the result is linked into place, which fails if ``path`` appeared
    meanwhile, so of several processes writing one new file exactly one succeeds. Inside
    :func:`output_set` the rename waits until the whole set is written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise _exists_error(path)
    if not path.parent.is_dir():
        raise AfmFileError(path, "its folder does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    except OSError as exc:
        raise AfmFileError(path, f"cannot be written ({exc.strerror or exc})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    outputs = _CURRENT_SET.get()
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp (or a writer that recreates the file) makes it private
        if outputs is None:
            _name(tmp, path, overwrite)
        else:
            outputs.pending.append((tmp, path, overwrite))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


class OutputSet:
    """The files written inside :func:`output_set`, named together by :meth:`commit`."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path, bool]] = []
        self.named: list[Path] = []

    def commit(self) -> list[Path]:
        """Give every finished file its name; if one cannot be, take back the new ones named so far."""
        done: list[Path] = []
        try:
            while self.pending:
                tmp, path, overwrite = self.pending[0]
                _name(tmp, path, overwrite)
                self.pending.pop(0)
                done.append(path)
                if not overwrite:
                    self.named.append(path)
        except BaseException:
            self.roll_back()
            raise
        self.named.clear()  # the set is whole: it stays, whatever happens next
        return done

    def roll_back(self) -> None:
        """Remove the temporary files and the new files of this set named so far (a replaced file
        stays replaced)."""
        for path in self.named:
            path.unlink(missing_ok=True)
        for tmp, _, _ in self.pending:
            tmp.unlink(missing_ok=True)
        self.named.clear()
        self.pending.clear()


@contextlib.contextmanager
def output_set() -> Iterator[OutputSet]:
    """Every :func:`atomic_write` inside the block joins one set: the files get their names together
    (at :meth:`OutputSet.commit`, or when the block ends without an error), and none of them does
    otherwise, so an interrupted run leaves all of its outputs or none."""
    outputs = OutputSet()
    token = _CURRENT_SET.set(outputs)
    try:
        yield outputs
        outputs.commit()
    except BaseException:
        outputs.roll_back()
        raise
    finally:
        _CURRENT_SET.reset(token)
