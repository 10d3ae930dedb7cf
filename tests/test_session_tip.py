"""The session tip: scans of one tip bound it jointly, and their tips average under that bound."""

from __future__ import annotations

import numpy as np
import pytest

from napari_se3afm.errors import ParameterError
from napari_se3afm.image.morphology import dilate
from napari_se3afm.nn.consistency import tip_bound
from napari_se3afm.tip import pyramid_tip
from napari_se3afm.wear.session import session_summary, session_tip, session_tips
from napari_se3afm.wear.track import TipState, WearEvent


def _state(tip: np.ndarray, sigma: np.ndarray | float, bound: np.ndarray | None = None) -> TipState:
    return TipState(
        source="x",
        acquired=None,
        tip=tip,
        tip_std=np.broadcast_to(np.asarray(sigma, dtype=float), tip.shape).copy(),
        pixel_nm=(2.0, 2.0),
        values={"apex_radius_nm": 5.0, "half_angle_deg": 30.0, "asymmetry": 0.0, "depth_nm": 20.0},
        sigmas={"apex_radius_nm": 1.0, "half_angle_deg": 1.0, "asymmetry": 0.01, "depth_nm": 1.0},
        double_tip=False,
        seconds=0.0,
        bound=bound,
    )


def test_the_session_tip_is_the_inverse_variance_mean_held_to_the_lowest_bound():
    sharp = pyramid_tip(15, 2.0, half_angle_deg=25.0)
    blunt = pyramid_tip(15, 2.0, half_angle_deg=45.0)
    loose, tight = np.zeros((15, 15)), 0.5 * (sharp + blunt)  # two bounds, the second the lower one
    session = session_tip([_state(sharp, 1.0, loose), _state(blunt, 2.0, tight)], first=3)
    mean = (sharp / 1.0 + blunt / 4.0) / (1 / 1.0 + 1 / 4.0)  # weights 1/σ²
    np.testing.assert_allclose(session.tip, np.minimum(mean, tight))
    np.testing.assert_array_equal(session.bound, tight)
    np.testing.assert_allclose(session.tip_std, np.sqrt((1.0 + 4.0) / 2))  # errors that repeat: not divided by √2
    assert (session.first, session.last, session.scans) == (3, 4, 2)
    assert session.tip[7, 7] == 0.0 and session.tip.max() == 0.0
    assert np.isfinite(session.sigmas["apex_radius_nm"]) and session.sigmas["apex_radius_nm"] > 0


def test_scans_of_one_tip_bound_it_together_tighter_than_each_and_still_above_it():
    """Two images of one pyramid, each of knife-edge ridges in one direction (their crest rising
    gently to a peak): each bound is tight across its ridges and loose along them; the joint bound
    is tight both ways and still above the true tip."""
    k, pixel = 15, 2.0
    tip = pyramid_tip(k, pixel, half_angle_deg=30.0)
    v = np.arange(96, dtype=float)
    images = []
    for axis in (0, 1):
        surface = np.zeros((96, 96))
        for c in (24, 48, 72):
            crest = 40.0 - 0.2 * np.abs(v - c)  # gentler than the tip's flanks: they never show along it
            if axis == 0:
                surface[c, :] = crest
            else:
                surface[:, c] = crest
        images.append(dilate(surface, tip))
    bounds = [tip_bound(z, k) for z in images]
    states = [_state(tip, 1.0, b) for b in bounds]
    joint = session_tip(states).bound
    assert np.all(joint >= tip - 1e-6)  # a bound: no lower than the tip that imaged both
    errors = [float(np.sqrt(np.mean((b - tip) ** 2))) for b in (*bounds, joint)]
    assert min(errors[:2]) > 2.0 and errors[2] < 0.01, errors  # each loose by nm; together, the tip itself


def test_one_session_tip_for_each_run_of_scans_between_events():
    tip = pyramid_tip(15, 2.0)
    states = [_state(tip, 1.0) for _ in range(5)]
    runs = session_tips(states, [WearEvent(index=2, kind="tip change", z=3.0, detail=""), WearEvent(4, "x", 3.0, "")])
    assert [(s.first, s.last) for s in runs] == [(0, 1), (2, 3), (4, 4)]
    assert runs[2].tip is states[4].tip and runs[2].sigmas == states[4].sigmas  # one scan: its own tip
    assert session_summary(runs[0]).startswith("scans 1–2: apex radius ")
    with pytest.raises(ParameterError, match="tip windows differ"):
        session_tip([_state(tip, 1.0), _state(pyramid_tip(21, 2.0), 1.0)])
