"""Tip wear on simulated sessions with known wear (napari_se3afm.lab.cases.worn_tip_session).

    .venv/bin/python bench/bench_wear.py [SEEDS]

Seven SimTip scans per session, one pyramid that wears slowly (apex radius 8 → 9 nm), chips before
scan 3 (24 nm) and picks up a second apex before scan 5. For each session and scan: the true and the
tracked apex radius with its σ, the tip error (RMSE, clipped at the probe depth) of the default model
and of classical BTR, the RMS z between consecutive tips and the descriptors that jump beyond their
error bars (either makes an event); then the events found, missed and flagged wrongly.

Then the session tips (napari_se3afm.wear.session): the tip error of each scan's own tip against the
session tip of the runs the track found and of the true runs (scans 0–2, 3–4, 5–6), of each scan's
blind bound against the runs' joint bound, and how often the session tip's σ covers its error; the
surface of the default against the image eroded by the session tip (``se3afm reconstruct --tip``); and
how far each scan's tip lies above the joint bound of the scans before it in its true run — what a
bound-based test of a change would read. Prints markdown.
"""

import sys

import numpy as np

from napari_se3afm.image.morphology import erode
from napari_se3afm.lab.cases import WORN_SESSION_EVENTS, worn_tip_session
from napari_se3afm.lab.metrics import probe_depth, surface_errors, tip_errors
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.scan import Channel, Scan
from napari_se3afm.tip import describe_tip
from napari_se3afm.wear import track as wear_track
from napari_se3afm.wear.session import session_tip
from napari_se3afm.wear.track import ERROR_BAR_SIGMAS, EVENT_Z, compare_tips, track_tip

#: the runs of one tip in every simulated session: between the chip (scan 3) and the pick-up (scan 5)
TRUE_RUNS = ((0, 3), (3, 5), (5, 7))


def _jumped(event) -> str:
    """The descriptors an event's error bars parted on, as the event's detail names them."""
    _, found, names = event.detail.partition("beyond the error bars: ")
    return f"; bars part: {names}" if found else ""


def _stats(values) -> str:
    v = np.asarray(values)
    return f"{v.mean():.2f} / {np.median(v):.2f} / {v.max():.2f}"


def main() -> None:
    seeds = range(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    found = missed = wrong = 0
    within = total = 0
    errors = {k: [] for k in ("scan", "found runs", "true runs", "bound", "joint bound")}
    covered, excess = [], {"change": [], "same tip": [], "change, the true tip": []}
    surfaces = {k: [] for k in ("the default's", "eroded by the session tip of its true run", "eroded by the true tip")}
    print(
        f"An event is flagged where the RMS z of consecutive tips exceeds {EVENT_Z} or a descriptor's "
        f"± {ERROR_BAR_SIGMAS:g}σ error bars of consecutive scans do not overlap.\n"
    )
    print(
        "| session | scan | event | true apex radius (nm) | tracked (nm) | tip RMSE model / BTR (nm) | z to previous |"
    )
    print("|---|---|---|---|---|---|---|")
    for seed in seeds:
        session = worn_tip_session(seed=seed)
        scans = [
            Scan([Channel("Height", s["image"], "nm", "height")], (s["pixel_nm"],) * 2, source=str(i))
            for i, s in enumerate(session)
        ]
        track = track_tip(scans, levelling=None)
        flagged = {e.index for e in track.events}
        wear_track.EVENT_Z = 0.0  # every pair's z, not only the events'
        z = {k: compare_tips(track.states[k - 1], track.states[k], k).z for k in range(1, len(session))}
        wear_track.EVENT_Z = EVENT_Z
        events = {e.index: e for e in track.events}
        found += len(flagged & set(WORN_SESSION_EVENTS))
        missed += len(set(WORN_SESSION_EVENTS) - flagged)
        wrong += len(flagged - set(WORN_SESSION_EVENTS))
        run_tips = [session_tip(track.states[a:b], a) for a, b in TRUE_RUNS]
        true_runs = {i: t for t in run_tips for i in range(t.first, t.last + 1)}
        found_runs = {i: t for t in track.sessions for i in range(t.first, t.last + 1)}
        for i, (s, st) in enumerate(zip(session, track.states, strict=True)):
            truth = describe_tip(s["tip"], s["pixel_nm"]).apex_radius_nm
            est, sig = st.values["apex_radius_nm"], st.sigmas["apex_radius_nm"]
            total += 1
            within += abs(est - truth) <= 2 * sig
            depth = probe_depth(s["surface"], 31)
            btr = reconstruct(s["image"], s["pixel_nm"], method="btr", levelling=None, tip_px=31)

            def rmse(tip, truth_tip=s["tip"], depth=depth):
                return tip_errors(tip, truth_tip, depth)["tip_rmse"]

            model_error, btr_error = rmse(st.tip), rmse(btr.tip)
            run = true_runs[i]
            for name, tip in (
                ("scan", st.tip),
                ("found runs", found_runs[i].tip),
                ("true runs", run.tip),
                ("bound", st.bound),
                ("joint bound", run.bound),
            ):
                errors[name].append(rmse(tip))
            default = reconstruct(s["image"], s["pixel_nm"], levelling=None).surface
            for name, surface in zip(
                surfaces, (default, erode(s["image"], run.tip), erode(s["image"], s["tip"])), strict=True
            ):
                surfaces[name].append(surface_errors(surface, s["surface"], border=30)["surface_rmse"])
            probed = s["tip"] > -depth
            probed[15, 15] = False
            error = np.abs(run.tip - s["tip"])[probed]
            independent = run.tip_std[probed] / np.sqrt(run.scans)  # as if the scans erred independently
            covered.append((np.mean(error <= 2 * run.tip_std[probed]), np.mean(error <= 2 * independent)))
            # the scan's tip above the joint bound of the scans before it with the same tip (after a
            # change: of the run before, whose tip it would be if nothing had changed)
            a, b = next((a, b) for a, b in TRUE_RUNS if a <= i < b)
            if i in WORN_SESSION_EVENTS:
                a, b = next((p, q) for p, q in TRUE_RUNS if q == i)
            before = [p.bound for p in track.states[a : min(b, i)]]
            if before:
                joint = np.min(before, axis=0)
                over = np.maximum(st.tip - joint, 0.0)
                excess["change" if i in WORN_SESSION_EVENTS else "same tip"].append(float(over.max()))
                if i in WORN_SESSION_EVENTS:
                    excess["change, the true tip"].append(float(np.maximum(s["tip"] - joint, 0.0).max()))
            step = (f"{z[i]:.2f}" if i in z else "") + (
                f" ({events[i].kind}{_jumped(events[i])})" if i in flagged else ""
            )
            print(
                f"| {seed} | {i} | {s['event'] or ''} | {truth:.1f} | {est:.1f} ± {sig:.1f} | "
                f"{model_error:.1f} / {btr_error:.1f} | {step} |",
                flush=True,
            )
    print(
        f"\nevents found {found}, missed {missed}, flagged wrongly {wrong}; "
        f"tracked apex radius within 2σ of the truth on {within} of {total} scans\n"
    )
    print("| tip of each scan | tip RMSE mean / median / worst (nm) |\n|---|---|")
    labels = {
        "scan": "its own (the model)",
        "found runs": "session tip of the runs the track found",
        "true runs": "session tip of the true runs",
        "bound": "its own blind bound",
        "joint bound": "joint bound of the true runs",
    }
    for name, values in errors.items():
        print(f"| {labels[name]} | {_stats(values)} |")
    shares = 100 * np.array(covered)
    print(
        f"\nsession tip (true runs) within 2σ of the truth on {shares[:, 0].mean():.0f} % of the probed pixels "
        f"(median scan {np.median(shares[:, 0]):.0f} %); with σ divided by √n, as for independent errors, "
        f"{shares[:, 1].mean():.0f} %"
    )
    print("\n| surface of each scan | surface RMSE mean / median / worst (nm) |\n|---|---|")
    for name, values in surfaces.items():
        print(f"| {name} | {_stats(values)} |")
    for kind, values in excess.items():
        print(f"a scan's tip above the joint bound of the scans before it, {kind}: at most {_stats(values)} nm")


if __name__ == "__main__":
    main()
