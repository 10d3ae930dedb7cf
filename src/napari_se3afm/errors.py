"""Exception types of napari-se3afm.

Every error a user can cause (a bad file, a bad parameter, a missing device) is one of these, with a
message that names the file or the parameter and says what is wrong, so the CLI can print one line and
napari can show one notification.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable


class Se3afmError(Exception):
    """Base class of every error napari-se3afm raises on purpose."""


class ParameterError(Se3afmError, ValueError):
    """A parameter is out of range or inconsistent with the data."""


def reject_unknown_settings(keys: Iterable[str], known: type | Iterable[str], what: str, prefix: str = "") -> None:
    """Raise :class:`ParameterError` naming every key that is not a field of the dataclass ``known``
    (or not one of the names ``known``).

    One message for every group of settings (training, model architecture, SimTip, fine-tuning), so
    that a typo is named with the settings that exist instead of surfacing as a ``TypeError`` from a
    constructor or a function.
    """
    known = {f.name for f in dataclasses.fields(known)} if isinstance(known, type) else set(known)
    unknown = sorted(set(keys) - known)
    if unknown:
        raise ParameterError(
            f"unknown {what} setting(s) {', '.join(prefix + k for k in unknown)}; known: {', '.join(sorted(known))}"
        )


class AfmFileError(Se3afmError):
    """A file cannot be read or written: missing, empty, truncated, corrupted or of unknown format."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ChannelNotFoundError(AfmFileError):
    """The requested channel is not in the file; the message lists the channels that are."""


class UnitError(Se3afmError):
    """A physical unit is missing or cannot be converted to nanometres."""


class DeviceError(Se3afmError):
    """The requested compute device is not available."""


class ModelIntegrityError(Se3afmError):
    """A weights file does not match its recorded sha256 checksum."""


class FileExistsSe3afmError(Se3afmError, FileExistsError):
    """An output file exists and overwriting was not allowed."""
