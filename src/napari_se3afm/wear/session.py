"""One tip from several scans taken with it: the session tip.

Every scan bounds its tip from above (the blind bound, Villarrubia): no tip above it could have
imaged the scan. Scans that share one tip therefore bound it by the minimum of their bounds — the
*joint bound*, tighter than any one scan's wherever another scan shows a sharper feature. The
session tip is the scans' tips averaged with weights 1/σ² and held to the joint bound.

Its σ is the scans' σ combined as errors that repeat (their root mean square), not divided by the
square root of their number as independent errors would be: the model errs alike on scans of one
tip (bench/bench_wear.py: on simulated sessions the divided σ covers the error within 2σ on 80 % of
the tip's pixels, the root mean square on 90 %). The descriptors' σ is carried from it as for one
scan (:func:`~napari_se3afm.tip.uncertainty.descriptor_sigmas`), the apex volume's as in a track.

A session tip is only as right as "these scans share one tip": :func:`session_tips` makes one for
each run of scans between the events a track found, and a change no event marks (the model's σ
hides most chips: docs/tip_wear.md) joins tips that differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..tip.descriptors import descriptor_text
from ..tip.shapes import in_tip_convention
from ..tip.uncertainty import apex_volume, descriptor_sigmas, descriptor_values

__all__ = ["SessionTip", "session_summary", "session_tip", "session_tips"]

#: the smallest σ a weight is taken from (nm): the apex, 0 by convention, has none
_SIGMA_FLOOR_NM = 1e-3


@dataclass(frozen=True)
class SessionTip:
    """The tip of scans ``first``–``last`` (indices in the track's order), their joint bound, and the
    descriptors with σ."""

    first: int
    last: int
    tip: np.ndarray
    tip_std: np.ndarray
    bound: np.ndarray | None
    pixel_nm: tuple[float, float]
    values: dict[str, float]
    sigmas: dict[str, float]

    @property
    def scans(self) -> int:
        return self.last - self.first + 1


def session_tip(states, first: int = 0, volume_depth_nm: float | None = None) -> SessionTip:
    """The session tip of ``states`` (:class:`~napari_se3afm.wear.track.TipState`, scans of one tip,
    one tip window and pixel size); ``first`` is the index of the first of them in its track. With
    ``volume_depth_nm`` its apex volume within that depth is described too."""
    states = list(states)
    if not states:
        raise ParameterError("a session tip needs at least one scan")
    shapes = {s.tip.shape for s in states}
    if len(shapes) > 1:
        raise ParameterError(f"the scans' tip windows differ ({', '.join(str(s[0]) for s in sorted(shapes))} px)")
    pixel_nm = states[0].pixel_nm
    if len(states) == 1:  # one scan: its own tip, bound and descriptors
        only = states[0]
        return SessionTip(first, first, only.tip, only.tip_std, only.bound, pixel_nm, only.values, only.sigmas)
    tips = np.stack([s.tip for s in states])
    stds = np.stack([s.tip_std for s in states])
    weights = 1.0 / np.maximum(stds, _SIGMA_FLOOR_NM) ** 2
    mean = (weights * tips).sum(0) / weights.sum(0)
    bounds = [s.bound for s in states if s.bound is not None]
    bound = np.min(bounds, axis=0) if bounds else None
    tip = in_tip_convention(mean if bound is None else np.minimum(mean, bound))
    tip_std = np.sqrt(np.mean(stds**2, axis=0))
    values = descriptor_values(tip, pixel_nm)
    sigmas = descriptor_sigmas(None, tip, tip_std, pixel_nm, bound)
    if volume_depth_nm:
        values["apex_volume_nm3"], sigmas["apex_volume_nm3"] = apex_volume(tip, tip_std, pixel_nm, volume_depth_nm)
    return SessionTip(
        first=first,
        last=first + len(states) - 1,
        tip=tip,
        tip_std=tip_std,
        bound=bound,
        pixel_nm=pixel_nm,
        values=values,
        sigmas=sigmas,
    )


def session_tips(states, events, volume_depth_nm: float | None = None) -> list[SessionTip]:
    """One :class:`SessionTip` for each run of ``states`` between the ``events``
    (:class:`~napari_se3afm.wear.track.WearEvent`; an event at scan k starts a new run there)."""
    starts = sorted({0, *(e.index for e in events)})
    ends = [*starts[1:], len(states)]
    return [session_tip(states[a:b], a, volume_depth_nm) for a, b in zip(starts, ends, strict=True)]


def session_summary(session: SessionTip) -> str:
    """One line for people: which scans, whether under their bounds, apex radius and half-angle with σ."""
    scans = f"scan {session.first + 1}" if session.scans == 1 else f"scans {session.first + 1}–{session.last + 1}"
    bound = "" if session.bound is None else (f", under the bound of all {session.scans}" if session.scans > 1 else "")
    radius = descriptor_text(
        "apex_radius_nm",
        session.values["apex_radius_nm"],
        session.sigmas.get("apex_radius_nm"),
        " nm",
        session.pixel_nm,
    )
    angle = descriptor_text(
        "half_angle_deg", session.values["half_angle_deg"], session.sigmas.get("half_angle_deg"), "°"
    )
    return f"{scans}{bound}: apex radius {radius}, half-angle {angle}"
