"""The one scan model of the project: named 2-D channels in physical units, heights in nm.

Readers of every format return a :class:`Scan`; the rest of the library asks it for the height
channel (found without the user typing a name) and the pixel size ``(dy, dx)`` in nm. Channels that
are not heights keep their own physical unit (phase in deg, amplitude in V or nm, current in A...).
Row 0 of every channel is the top row as Gwyddion shows the scan.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import numpy as np

from .errors import ChannelNotFoundError

#: channel kinds recognised by name; "height" channels are in nm
KINDS = ("height", "phase", "amplitude", "deflection", "current", "other")

_HEIGHT_WORDS = ("height", "topograph", "zsensor", "z sensor", "z-sensor", "surface")
_NOT_HEIGHT_WORDS = ("uncertainty", "σ", "std", "error", "certainty")


def channel_kind(name: str) -> str:
    """Classify a channel by its name (case-insensitive)."""
    low = name.lower().replace("_", " ")
    if any(w in low for w in _NOT_HEIGHT_WORDS):
        return "other"
    if any(w in low for w in _HEIGHT_WORDS) or low.split(" ")[0] in ("z", "z-axis", "topo", "height"):
        return "height"
    for kind in ("phase", "amplitude", "deflection", "current"):
        if kind in low:
            return kind
    return "other"


@dataclass
class Channel:
    """One image channel: ``data`` (ny, nx) float64 in ``unit`` ("nm" for heights)."""

    name: str
    data: np.ndarray
    unit: str
    kind: str = "other"
    direction: str | None = None
    mask: np.ndarray | None = None

    @property
    def label(self) -> str:
        """Name with the scan direction, e.g. ``"Height (retrace)"``."""
        return f"{self.name} ({self.direction})" if self.direction else self.name


#: how AFM file headers write dates (Nanoscope, Asylum, Nanonis, JPK, ISO)
DATE_FORMATS = (
    "%I:%M:%S %p %a %b %d %Y",  # Nanoscope: 11:43:26 AM Wed Jun 22 2016
    "%Y-%m-%d %I:%M:%S %p",  # Asylum: 2021-10-11 3:52:01 PM
    "%d.%m.%Y %H:%M:%S",  # Nanonis: 10.03.2016 09:36:05
    "%Y-%m-%d %H:%M:%S.%f",  # JPK (the zone is cut off): 2017-01-16 16:00:32.334 GMT
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
)


def parse_date(text: object) -> datetime.datetime | None:
    """A header's date and time as a naive :class:`datetime.datetime` (the instrument's clock), or None."""
    if not isinstance(text, str) or not text.strip():
        return None
    words = text.strip().split()
    candidates = [" ".join(words)]
    if words[-1].isalpha() and words[-1].isupper() and len(words) > 2:  # a time zone name: GMT, UTC, CET
        candidates.append(" ".join(words[:-1]))
    for candidate in candidates:
        for fmt in DATE_FORMATS:
            try:
                return datetime.datetime.strptime(candidate, fmt)
            except ValueError:
                continue
    return None


@dataclass
class Scan:
    """A scan file's content: channels, pixel size ``(dy, dx)`` in nm, source and metadata."""

    channels: list[Channel]
    pixel_nm: tuple[float, float]
    source: str = ""
    format: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """Shape (ny, nx) of the first channel."""
        return tuple(self.channels[0].data.shape)  # type: ignore[return-value]

    @property
    def scan_size_nm(self) -> tuple[float, float]:
        """Physical size (y, x) in nm."""
        ny, nx = self.shape
        return (ny * self.pixel_nm[0], nx * self.pixel_nm[1])

    @property
    def acquired(self) -> datetime.datetime | None:
        """When the scan was taken, from the date its header records (``metadata["date"]``), or None."""
        return parse_date(self.metadata.get("date"))

    def channel(self, name: str | None = None) -> Channel:
        """Return the named channel (exact label, then name, case-insensitive), or the height channel.

        Raises :class:`ChannelNotFoundError` listing the available channels.
        """
        if name is None:
            return self.height_channel()
        want = name.strip().casefold()
        for attr in ("label", "name"):
            for ch in self.channels:
                if getattr(ch, attr).casefold() == want:
                    return ch
        raise ChannelNotFoundError(
            self.source, f"no channel {name!r}; available: {', '.join(repr(c.label) for c in self.channels)}"
        )

    def height_channel(self) -> Channel:
        """The height channel: a height-kind channel in nm, preferring plain "height" and trace/forward."""
        heights = [c for c in self.channels if c.kind == "height" and c.unit == "nm"]
        if not heights:
            raise ChannelNotFoundError(
                self.source,
                "no height channel in nm; channels: " + ", ".join(f"{c.label} [{c.unit}]" for c in self.channels),
            )

        def rank(c: Channel) -> tuple[int, int, int]:
            low = c.name.lower()
            plain = 0 if low in ("height", "z", "topography", "heighttrace", "heightretrace") else 1
            measured = 1 if "measured" in low or "sensor" in low else 0
            direction = 0 if (c.direction or "").lower() in ("trace", "forward", "") else 1
            return (measured, plain, direction)

        return min(heights, key=rank)


@dataclass
class HeightMap:
    """One height channel in nm, its pixel size ``(dy, dx)`` in nm when known, and where it came from:
    what the readers hand to the rest of the library."""

    height: np.ndarray
    pixel_nm: tuple[float, float] | None
    source: str = ""
    metadata: dict = field(default_factory=dict)
