"""A tip-wear track as files and a picture: CSV, NPZ with the tips, PNG plot (also drawn in napari)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write, output_set
from ..tip.descriptors import apex_radius_floor_nm
from .track import DESCRIPTORS, ERROR_BAR_SIGMAS, WearTrack, error_bar

__all__ = ["REPORT_FILES", "draw_wear", "write_wear_report"]

#: the files :func:`write_wear_report` writes into its folder
REPORT_FILES = ("tip_wear.csv", "tip_wear.png", "tip_wear.npz")
LABELS = {
    "apex_radius_nm": "apex radius\n(nm)",
    "half_angle_deg": "half-angle\n(°)",
    "asymmetry": "asymmetry",
    "apex_volume_nm3": "apex volume\n(nm³)",
}
SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _volume_unit(values: np.ndarray) -> tuple[float, str]:
    """A power of ten (a multiple of 3) that brings apex volumes to 0.1–1000 and its axis label, so
    that the axis shows plain numbers instead of an offset like "1e8"."""
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    power = 3 * int(np.floor(np.log10(top) / 3)) if top >= 1e3 else 0
    label = "apex volume\n(nm³)" if power == 0 else f"apex volume\n(10{str(power).translate(SUPERSCRIPTS)} nm³)"
    return 10.0**power, label


def draw_wear(track: WearTrack, figure) -> list:
    """Draw the descriptors against scan with the error bars that decide an event
    (:func:`~napari_se3afm.wear.track.error_bar`, ± 2σ), events marked, and each session tip's
    descriptors with ± 2σ over its scans, on a matplotlib ``figure``; return the axes. The grey band
    under the apex radius is what a scan's pixels do not resolve (a pixel)."""
    figure.clear()
    axes = figure.subplots(len(DESCRIPTORS), 1, sharex=True)
    x = np.arange(len(track.states))
    for ax, name in zip(axes, DESCRIPTORS, strict=True):
        values = np.array([s.values[name] for s in track.states])
        bars = np.array([error_bar(s, name) for s in track.states])
        unit, label = _volume_unit(values) if name == "apex_volume_nm3" else (1.0, LABELS[name])
        yerr = np.array([values - bars[:, 0], bars[:, 1] - values]) / unit
        ax.errorbar(x, values / unit, yerr=yerr, fmt="o-", ms=4, capsize=3, color="C0")
        if name == "apex_radius_nm":  # below a pixel, a radius is an upper limit only
            floors = np.array([apex_radius_floor_nm(s.pixel_nm) for s in track.states])
            ax.fill_between(x, 0, floors, step="mid", color="0.5", alpha=0.25, lw=0, label="under a pixel")
        for event in track.events:
            ax.axvline(event.index - 0.5, color="C3", ls="--", lw=1)
        _draw_sessions(ax, track, name, unit)
        if name == "apex_radius_nm":
            ax.legend(fontsize=6, loc="upper left", frameon=False)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for event in track.events:
        axes[0].annotate(
            event.kind, (event.index - 0.5, 1.02), xycoords=("data", "axes fraction"), color="C3", fontsize=7
        )
    labels = [s.acquired.strftime("%H:%M") if s.acquired else str(i + 1) for i, s in enumerate(track.states)]
    axes[-1].set_xticks(x, labels, fontsize=7)
    axes[-1].set_xlim(-0.4, len(x) - 0.6)  # the first and last error bars clear of the frame
    axes[-1].set_xlabel(f"scan ({track.ordered_by})", fontsize=8)
    figure.suptitle(
        f"Tip over {len(track.states)} scans: {len(track.events)} change(s); bars ± {ERROR_BAR_SIGMAS:g}σ", fontsize=9
    )
    return list(axes)


def _draw_sessions(ax, track: WearTrack, name: str, unit: float) -> None:
    """Each session tip's value of descriptor ``name`` as a line over its scans, with the band its
    :func:`~napari_se3afm.wear.track.error_bar` spans, as a scan's bar does."""
    for n, session in enumerate(track.sessions):
        if name not in session.values or not np.isfinite(session.values[name]):
            continue
        x = [session.first - 0.4, session.last + 0.4]
        value = session.values[name] / unit
        ax.plot(x, [value, value], color="C2", lw=1.5, label="session tip ± 2σ" if n == 0 else None)
        low, high = error_bar(session, name)
        if np.isfinite(low):
            ax.fill_between(x, low / unit, high / unit, color="C2", alpha=0.15, lw=0)


def write_wear_report(track: WearTrack, outdir: Path, *, overwrite: bool = False) -> list[Path]:
    """Write ``tip_wear.csv`` (a row per scan), ``tip_wear.png`` (the plot) and ``tip_wear.npz``
    (tips, their σ, pixel sizes, files; the session tips, their σ and joint bounds (NaN where none),
    and the first and last scan of each) into ``outdir``, all three or none; nothing is replaced
    without ``overwrite``."""
    from matplotlib.figure import Figure

    outdir = Path(outdir)
    rows = track.rows()
    sessions = track.sessions

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def write_png(tmp: Path) -> None:
        figure = Figure(figsize=(6.5, 7.5), dpi=120, layout="constrained")
        draw_wear(track, figure)
        figure.savefig(tmp, format="png")

    def write_npz(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                tips=np.stack([s.tip for s in track.states]),
                tip_std=np.stack([s.tip_std for s in track.states]),
                pixel_nm=np.array([s.pixel_nm for s in track.states]),
                files=np.array([s.source for s in track.states]),
                session_tips=np.stack([t.tip for t in sessions]),
                session_tip_std=np.stack([t.tip_std for t in sessions]),
                session_bounds=np.stack(
                    [np.full(t.tip.shape, np.nan) if t.bound is None else t.bound for t in sessions]
                ),
                session_scans=np.array([(t.first, t.last) for t in sessions], dtype=np.int64).reshape(-1, 2),
                info=json.dumps({"volume_depth_nm": track.volume_depth_nm, "ordered_by": track.ordered_by}),
            )

    paths = [outdir / name for name in REPORT_FILES]
    with output_set():  # the three files together, or none of them
        for path, write in zip(paths, (write_csv, write_png, write_npz), strict=True):
            atomic_write(path, write, overwrite=overwrite)
    return paths
