"""Tip wear on simulated sessions with known wear (napari_se3afm.lab.cases.worn_tip_session).

    .venv/bin/python bench/bench_wear.py [SEEDS]

Seven SimTip scans per session, one pyramid that wears slowly (apex radius 8 → 9 nm), chips before
scan 3 (24 nm) and picks up a second apex before scan 5. For each session and scan: the true and the
tracked apex radius with its σ, the tip error (RMSE, clipped at the probe depth) of the default model
and of classical BTR, the RMS z between consecutive tips and the descriptors that jump beyond their
error bars (either makes an event); then the events found, missed and flagged wrongly. Prints markdown.
"""

import sys

from napari_se3afm.lab.cases import WORN_SESSION_EVENTS, worn_tip_session
from napari_se3afm.lab.metrics import probe_depth, tip_errors
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.scan import Channel, Scan
from napari_se3afm.tip import describe_tip
from napari_se3afm.wear import track as wear_track
from napari_se3afm.wear.track import ERROR_BAR_SIGMAS, EVENT_Z, compare_tips, track_tip


def _jumped(event) -> str:
    """The descriptors an event's error bars parted on, as the event's detail names them."""
    _, found, names = event.detail.partition("beyond the error bars: ")
    return f"; bars part: {names}" if found else ""


def main() -> None:
    seeds = range(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    found = missed = wrong = 0
    within = total = 0
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
        for i, (s, st) in enumerate(zip(session, track.states, strict=True)):
            truth = describe_tip(s["tip"], s["pixel_nm"]).apex_radius_nm
            est, sig = st.values["apex_radius_nm"], st.sigmas["apex_radius_nm"]
            total += 1
            within += abs(est - truth) <= 2 * sig
            depth = probe_depth(s["surface"], 31)
            btr = reconstruct(s["image"], s["pixel_nm"], method="btr", levelling=None, tip_px=31)
            errors = [tip_errors(t, s["tip"], depth)["tip_rmse"] for t in (st.tip, btr.tip)]
            step = (f"{z[i]:.2f}" if i in z else "") + (
                f" ({events[i].kind}{_jumped(events[i])})" if i in flagged else ""
            )
            print(
                f"| {seed} | {i} | {s['event'] or ''} | {truth:.1f} | {est:.1f} ± {sig:.1f} | "
                f"{errors[0]:.1f} / {errors[1]:.1f} | {step} |",
                flush=True,
            )
    print(
        f"\nevents found {found}, missed {missed}, flagged wrongly {wrong}; "
        f"tracked apex radius within 2σ of the truth on {within} of {total} scans"
    )


if __name__ == "__main__":
    main()
