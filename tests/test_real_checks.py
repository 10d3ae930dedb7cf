"""Truth-free checks of real-scan reconstructions: the checks see speckle, a checkerboard and a frame,
and the default reconstruction of real scans shows none of them."""

from __future__ import annotations

import numpy as np
import pytest

from napari_se3afm.lab.metrics import edge_band_means
from napari_se3afm.lab.real_checks import descriptor_z, high_frequency_share, pit_share, scan_checks
from napari_se3afm.results import Reconstruction


def test_the_checks_see_pits_a_checkerboard_and_a_frame(rng):
    yy, xx = np.mgrid[:96, :96]
    smooth = 20 * np.sin(xx / 9.0) * np.cos(yy / 7.0)
    pitted = smooth.copy()
    pitted[rng.random(smooth.shape) < 0.05] -= 30
    assert pit_share(smooth, 3.0) == 0.0
    assert 0.03 < pit_share(pitted, 3.0) < 0.06  # pits side by side are not counted
    checkerboard = 1.0 + 0.5 * ((yy + xx) % 2)
    assert high_frequency_share(smooth) < 0.001 and high_frequency_share(checkerboard) > 0.9
    framed = np.full(smooth.shape, 10.0)
    framed[:5] = 2.0
    edge, inside = edge_band_means(framed, 10)
    assert inside == 10.0 and edge < 9.0


def test_descriptors_of_one_tip_are_compared_in_their_combined_sigma():
    from types import SimpleNamespace

    v = np.arange(-7, 8, dtype=float)
    r2 = v[:, None] ** 2 + v[None, :] ** 2

    def paraboloid(radius, spread):  # h = r² / 2R: the apex radius fit is exact (1 nm pixels)
        return SimpleNamespace(tip=-r2 / (2 * radius), pixel_nm=(1.0, 1.0), info={"tip_descriptors_std": spread})

    z = descriptor_z(paraboloid(10.0, {"apex_radius_nm": 3.0}), paraboloid(18.0, {"apex_radius_nm": 4.0}))
    assert z["apex_radius_nm"] == pytest.approx(8.0 / 5.0)  # |10 − 18| / hypot(3, 4)
    assert np.isnan(z["half_angle_deg"])  # no σ known: nothing to compare with


def _result(image, surface, sigma, tip_px=7) -> Reconstruction:
    from napari_se3afm.tip import cone_tip
    from napari_se3afm.tip.geometry import tip_to_volume

    tip = cone_tip(tip_px, 1.0, half_angle_deg=30)
    return Reconstruction(
        image=image,
        surface=surface,
        tip=tip,
        certainty=np.zeros(image.shape, bool),
        tip_volume=tip_to_volume(tip, (1.0, 1.0)),
        pixel_nm=(1.0, 1.0),
        method="model",
        surface_std=sigma,
    )


def test_a_speckled_surface_and_a_dotted_sigma_map_fail_their_bars(rng):
    yy, xx = np.mgrid[:96, :96]
    image = 20 * np.sin(xx / 9.0) * np.cos(yy / 7.0) + rng.normal(0, 0.05, (96, 96))
    speckled = image - 1.0 - 30 * (rng.random(image.shape) < 0.05)
    dots = 1.0 + ((yy % 2) & (xx % 2))
    checks = scan_checks(_result(image, speckled, dots.astype(float)))
    failures = " ".join(checks.failures)
    assert "pits" in failures and "σ map" in failures and "surface high-frequency" in failures
    assert {"pits", "surface", "sigma"} <= set(checks.failed_bars)  # the same bars, by name
    from napari_se3afm.image.morphology import erode
    from napari_se3afm.tip import cone_tip

    lowered = erode(image, cone_tip(7, 1.0, half_angle_deg=30)) - 1.0  # below the bound, evenly
    assert scan_checks(_result(image, lowered, np.ones_like(image))).failures == []


@pytest.mark.parametrize("name", ["topostats__old_bruker.002", "nanoafmr__kpg20080408.007"])
def test_the_default_on_real_scans_has_no_speckle_checkerboard_or_frame(real_data_dir, name):
    """Before the pits between lifted pixels were opened and σ's per-pixel terms averaged: 7.1 and
    6.0 % pits (image 0.4 and 0.8 %), σ maps with 25 and 18 % of their power above 0.35 cycles/px."""
    from napari_se3afm import reconstruct

    result = reconstruct(real_data_dir / name, method="model", mc_samples=4, device="cpu")
    checks = scan_checks(result)
    assert checks.failures == []
    assert checks.pits_surface <= checks.pits_image + 0.002


def test_the_lab_command_checks_every_scan_of_a_folder_and_fails_on_a_bar(tmp_path, capsys, monkeypatch):
    """``se3afm lab real-checks``: a row per scan file with the checks of its reconstruction, the
    halves, and exit status 1 with the failed bar named when one fails."""
    from napari_se3afm.cli import main
    from napari_se3afm.lab import real_checks

    z = np.random.default_rng(2).normal(0, 1.0, (96, 96)).cumsum(axis=1)
    np.savez(tmp_path / "scan.npz", image=z, pixel_nm=2.0)
    assert main(["lab", "real-checks", str(tmp_path), "--method", "btr"]) == 0
    out = capsys.readouterr().out
    assert "| scan.npz | 2 |" in out and "| scan.npz | rows |" in out and "| scan.npz | columns |" in out
    assert "FAIL" not in out  # the erosion by BTR's own tip: no speckle, no frame
    monkeypatch.setattr(real_checks.ScanChecks, "failures", property(lambda self: ["speckled: 9 % pits"]))
    assert main(["lab", "real-checks", str(tmp_path), "--method", "btr", "--no-halves"]) == 1
    out = capsys.readouterr().out
    assert "FAIL scan.npz: speckled: 9 % pits" in out and "| rows |" not in out
    assert main(["lab", "real-checks", str(tmp_path / "empty")]) == 2
    assert main(["lab", "real-checks", str(tmp_path), "--model", "no-such-model", "--no-halves"]) == 2
    assert "no model 'no-such-model'" in capsys.readouterr().err  # the model asked for is the one run
