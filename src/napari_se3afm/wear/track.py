"""Tip wear across a session of scans: one tip per scan with σ, and the changes between scans.

Each scan is reconstructed by the default method (the model, with its Monte-Carlo σ); its tip is
described by apex radius, half-opening angle, asymmetry, double-tip flag and *apex volume* — the
volume of the tip within a reference depth below its apex, the same depth for the whole session (half
of the shallowest depth any of its tips captures), so that the volumes compare. Scans are ordered by
acquisition time where every file records one, else kept in the order given.

An **event** is flagged between consecutive scans when their tips differ by more than their
combined σ: the RMS over the tip pixels both probe of ``(P₂ − P₁) / sqrt(σ₁² + σ₂²)`` exceeds
:data:`EVENT_Z` (two scans of one tip stay far below it: docs/benchmarks.md, *One tip, two
scans*), or when a descriptor jumps beyond its error bars: the bars of the plot
(:func:`error_bar`, ± :data:`ERROR_BAR_SIGMAS` σ) of the two scans do not overlap. So a jump the
plot shows beyond its bars is always an event. The event is named by what changed most, in units
of its σ: a new double tip, a blunter apex (wear, a chip), a sharper or longer one (a pick-up), else
a tip change. The scans between two events make one *session tip* (:mod:`napari_se3afm.wear.session`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..progress import Progress, ProgressGenerator, run_to_completion
from ..scan import Scan
from ..tip.broadening import BROADENING_KEYS
from ..tip.descriptors import apex_radius_floor_nm
from ..tip.uncertainty import apex_volume, descriptor_values
from .session import SessionTip, session_tips

__all__ = [
    "DESCRIPTORS",
    "ERROR_BAR_SIGMAS",
    "EVENT_Z",
    "TipState",
    "WearEvent",
    "WearTrack",
    "error_bar",
    "iter_track_tip",
    "track_tip",
]

#: RMS of the tip difference over its combined σ above which consecutive tips count as different
EVENT_Z = 2.0
#: the error bars of the descriptors span this many σ on each side (a 95 % interval); bars of two
#: consecutive scans that do not overlap mark an event
ERROR_BAR_SIGMAS = 2.0
#: the numeric descriptors of each tip, plotted and in the CSV's order
DESCRIPTORS = ("apex_radius_nm", "half_angle_deg", "asymmetry", "apex_volume_nm3")
#: the values each descriptor can take: error bars end there
PHYSICAL_RANGE = {name: (0.0, 90.0 if name == "half_angle_deg" else np.inf) for name in DESCRIPTORS}


@dataclass(frozen=True)
class TipState:
    """One scan's tip: the height map with its σ, and its descriptors with theirs."""

    source: str
    acquired: dt.datetime | None
    tip: np.ndarray
    tip_std: np.ndarray
    pixel_nm: tuple[float, float]
    values: dict[str, float]
    sigmas: dict[str, float]
    double_tip: bool
    seconds: float
    bound: np.ndarray | None = None
    scar_pixels: int = 0  # scan-line scars the levelling filled before the tip was estimated


@dataclass(frozen=True)
class WearEvent:
    """A change of tip seen first at scan ``index`` (against scan ``index - 1``)."""

    index: int
    kind: str
    z: float
    detail: str


@dataclass
class WearTrack:
    """The tips of a session in acquisition order and the events between them."""

    states: list[TipState]
    events: list[WearEvent] = field(default_factory=list)
    volume_depth_nm: float = 0.0
    ordered_by: str = "file order"

    @cached_property
    def sessions(self) -> list[SessionTip]:
        """One session tip for each run of scans between events (:mod:`napari_se3afm.wear.session`)."""
        return session_tips(self.states, self.events, self.volume_depth_nm) if self.states else []

    def rows(self) -> list[dict]:
        """One row per scan for the CSV: file, time, descriptors with σ (and the apex radius's
        resolution floor, a pixel), double tip, the scan-line scar pixels filled before the tip was
        estimated, event, and the session tip (1, 2, ...) the scan is part of."""
        events = {e.index: e for e in self.events}
        rows = []
        for i, s in enumerate(self.states):
            row = {"scan": i, "file": s.source, "acquired": s.acquired.isoformat(sep=" ") if s.acquired else ""}
            for name in DESCRIPTORS + BROADENING_KEYS:  # then the broadening of 1–10 nm features
                row[name] = s.values[name]
                row[f"{name}_sigma"] = s.sigmas[name]
                if name == "apex_radius_nm":  # below it, the radius is an upper limit only
                    row["apex_radius_floor_nm"] = round(apex_radius_floor_nm(s.pixel_nm), 4)
            row["double_tip"] = s.double_tip
            row["scar_pixels_filled"] = s.scar_pixels
            event = events.get(i)
            row["event"] = event.kind if event else ""
            row["event_z"] = round(event.z, 3) if event else ""
            row["event_detail"] = event.detail if event else ""
            row["session"] = next((n + 1 for n, t in enumerate(self.sessions) if t.first <= i <= t.last), "")
            rows.append(row)
        return rows


def _scan_of(item) -> Scan:
    from ..io import read_scan

    if isinstance(item, Scan):
        return item
    if isinstance(item, (str, os.PathLike)):
        return read_scan(Path(item))
    raise ParameterError(f"track_tip takes file paths or Scan objects, got {type(item).__name__}")


def iter_track_tip(scans, *, channel: str | None = None, **settings) -> ProgressGenerator[WearTrack]:
    """Reconstruct the tip of every scan of a session and find the changes, yielding progress.

    Parameters
    ----------
    scans : sequence of paths or :class:`~napari_se3afm.scan.Scan`
        The session's scans (at least two), in any order: they are sorted by acquisition time where
        every one records it.
    channel : str, optional
        Channel of each scan (default: its height channel).
    **settings
        Options of :func:`napari_se3afm.pipeline.iter_reconstruct` (method, model, mc_samples, ...).
    """
    import time

    from ..pipeline import iter_reconstruct

    items = list(scans)
    if len(items) < 2:
        raise ParameterError(f"tracking a tip needs at least two scans, got {len(items)}")
    loaded = [_scan_of(item) for item in items]
    _check_one_pixel_size(loaded)
    times = [s.acquired for s in loaded]
    order = list(range(len(loaded)))
    ordered_by = "file order"
    if all(t is not None for t in times):
        order.sort(key=lambda i: times[i])
        ordered_by = "acquisition time"
    states: list[TipState] = []
    total = len(order)
    for n, i in enumerate(order):
        scan = loaded[i]
        name = Path(scan.source).name or f"scan {i + 1}"
        start = time.perf_counter()
        gen = iter_reconstruct(scan.channel(channel).data, scan.pixel_nm, **settings)
        while True:
            try:
                report = next(gen)
            except StopIteration as stop:
                result = stop.value
                break
            step = n * 100 + int(99 * report.fraction)
            yield Progress(step, total * 100, f"{name} ({n + 1}/{total}): {report.message}")
        if result.tip_std is None:
            raise ParameterError(f"tracking a tip needs σ maps: method {result.method!r} gives none; use the model")
        states.append(_state(scan.source or name, times[i], result, time.perf_counter() - start))
    depth = 0.5 * min(s.values["depth_nm"] for s in states)
    states = [_with_volume(s, depth) for s in states]
    yield Progress(total * 100, total * 100, "comparing consecutive tips; a session tip for each run between changes")
    events = [e for k in range(1, len(states)) if (e := compare_tips(states[k - 1], states[k], k)) is not None]
    return WearTrack(states=states, events=events, volume_depth_nm=depth, ordered_by=ordered_by)


def _check_one_pixel_size(scans: list[Scan]) -> None:
    """Tips are compared pixel by pixel: every scan of a session needs the first one's pixel size (1 %)."""
    for scan in scans:
        if scan.pixel_nm is None:
            raise ParameterError(f"{Path(scan.source).name or 'a scan'} records no pixel size")
    first = scans[0].pixel_nm
    odd = [s for s in scans if not np.allclose(s.pixel_nm, first, rtol=1e-2)]
    if odd:
        listed = ", ".join(f"{Path(s.source).name}: {s.pixel_nm[1]:.4g} nm" for s in [scans[0], *odd][:4])
        raise ParameterError(
            f"the scans of a session must share one pixel size, as their tips are compared pixel by pixel ({listed})"
        )


def track_tip(scans, *, channel: str | None = None, callback=None, **settings) -> WearTrack:
    """:func:`iter_track_tip` run to completion (``callback`` receives each :class:`Progress`)."""
    return run_to_completion(iter_track_tip(scans, channel=channel, **settings), callback)


def _state(source: str, acquired, result, seconds: float) -> TipState:
    from ..tip import describe_tip

    d = describe_tip(result.tip, result.pixel_nm)
    spread = result.info.get("tip_descriptors_std", {})
    values = descriptor_values(result.tip, result.pixel_nm, d)
    named = ("apex_radius_nm", "half_angle_deg", "asymmetry", *BROADENING_KEYS)
    sigmas = {name: float(spread.get(name, np.nan)) for name in named}
    return TipState(
        source=str(source),
        acquired=acquired,
        tip=result.tip,
        tip_std=result.tip_std,
        pixel_nm=tuple(float(v) for v in result.pixel_nm),
        values=values,
        sigmas=sigmas,
        double_tip=d.double_tip,
        seconds=seconds,
        bound=result.tip_bound,
        scar_pixels=int(result.info.get("scar_pixels") or 0),
    )


def _with_volume(state: TipState, depth_nm: float) -> TipState:
    volume, sigma = apex_volume(state.tip, state.tip_std, state.pixel_nm, depth_nm)
    return dataclasses.replace(
        state,
        values={**state.values, "apex_volume_nm3": volume},
        sigmas={**state.sigmas, "apex_volume_nm3": sigma},
    )


def error_bar(state: TipState | SessionTip, name: str) -> tuple[float, float]:
    """The interval the plot draws for a scan's (or a session tip's) descriptor ``name``: its value
    ± :data:`ERROR_BAR_SIGMAS` σ within the values the descriptor can take (:data:`PHYSICAL_RANGE`);
    an apex radius under a pixel, only an upper limit, from 0 to the pixel plus the bar. NaN where
    the descriptor or its σ is not known: no bar, and nothing to judge a jump by."""
    value, sigma = state.values.get(name, np.nan), state.sigmas.get(name, np.nan)
    if not (np.isfinite(value) and np.isfinite(sigma)):
        return (np.nan, np.nan)
    half = ERROR_BAR_SIGMAS * sigma
    low, high = value - half, value + half
    floor = apex_radius_floor_nm(state.pixel_nm) if name == "apex_radius_nm" else -np.inf
    if value < floor:  # an apex radius under a pixel: only an upper limit is known
        low, high = 0.0, floor + half
    lowest, highest = PHYSICAL_RANGE.get(name, (-np.inf, np.inf))
    return (max(low, lowest), min(high, highest))


def _jumps(before: TipState, after: TipState) -> list[str]:
    """The :data:`DESCRIPTORS` whose error bars (:func:`error_bar`) at two consecutive scans do not overlap."""
    out = []
    for name in DESCRIPTORS:
        (low, high), (low_after, high_after) = error_bar(before, name), error_bar(after, name)
        if low_after > high or low > high_after:  # False where either is NaN
            out.append(name)
    return out


def compare_tips(before: TipState, after: TipState, index: int) -> WearEvent | None:
    """The event between two consecutive tips, or None when their tips agree within :data:`EVENT_Z`
    and every descriptor within its error bars."""
    if before.tip.shape != after.tip.shape:
        raise ParameterError(
            f"{Path(after.source).name}: its tip window ({after.tip.shape[0]} px) differs from the previous "
            f"scan's ({before.tip.shape[0]} px); a session is tracked with one tip window"
        )
    depth = min(before.values.get("depth_nm", np.inf), after.values.get("depth_nm", np.inf))
    probed = (before.tip > -depth) | (after.tip > -depth) if np.isfinite(depth) else np.ones(before.tip.shape, bool)
    c = before.tip.shape[0] // 2
    probed[c, c] = False  # the apex is 0 in both by convention
    sigma = np.sqrt(before.tip_std**2 + after.tip_std**2)
    z = (after.tip - before.tip)[probed] / np.maximum(sigma[probed], 1e-9)
    z_rms = float(np.sqrt(np.mean(z**2))) if z.size else 0.0
    jumped = _jumps(before, after)
    if z_rms <= EVENT_Z and not jumped:
        return None
    detail = _detail(before, after)
    if jumped:
        names = ", ".join(name.rsplit("_", 1)[0].replace("_", " ") for name in jumped)
        detail += f"; beyond the error bars: {names}"
    return WearEvent(index=index, kind=_kind(before, after), z=z_rms, detail=detail)


def _change(before: TipState, after: TipState, name: str) -> float:
    """Change of a descriptor in units of the two scans' combined σ."""
    sigma = float(np.hypot(before.sigmas.get(name, 0.0), after.sigmas.get(name, 0.0)))
    return (after.values[name] - before.values[name]) / max(sigma, 1e-9)


def _kind(before: TipState, after: TipState) -> str:
    if after.double_tip and not before.double_tip:
        return "double tip"
    radius = _change(before, after, "apex_radius_nm")
    volume = _change(before, after, "apex_volume_nm3") if "apex_volume_nm3" in after.values else 0.0
    if max(radius, volume) > 2:
        return "blunter (wear or chip)"
    if min(radius, volume) < -2:
        return "sharper (pick-up)"
    return "tip change"


def _detail(before: TipState, after: TipState) -> str:
    parts = []
    for name, unit in (("apex_radius_nm", "nm"), ("half_angle_deg", "°"), ("apex_volume_nm3", "nm³")):
        if name in after.values and name in before.values:
            label = name.rsplit("_", 1)[0].replace("_", " ")
            parts.append(f"{label} {before.values[name]:.3g} → {after.values[name]:.3g} {unit}")
    return "; ".join(parts)
