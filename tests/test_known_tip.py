"""A tip given beforehand: read back exactly from the files it is exported to, used as it is, and
refused with a reason where it cannot be the scan's tip."""

from __future__ import annotations

import numpy as np
import pytest
from tests.synthetic import random_asymmetric_tip, spike_array

from napari_se3afm.cli import main
from napari_se3afm.errors import AfmFileError, ParameterError
from napari_se3afm.image.morphology import dilate, erode
from napari_se3afm.io.tip_files import read_tip
from napari_se3afm.io.writers import write_gwy_channels, write_tip
from napari_se3afm.pipeline import reconstruct


def test_the_surface_under_a_known_tip_is_exact_where_certain_and_never_below_the_truth(rng):
    tip = random_asymmetric_tip(11, rng)
    surface = spike_array(96, 12, (5.0, 20.0), rng)
    image = dilate(surface, tip)
    result = reconstruct(image, 1.5, tip=tip, levelling=())
    assert result.method == "known-tip" and result.tip_std is None and result.surface_std is None
    np.testing.assert_array_equal(result.tip, tip)
    inner = (slice(10, -10),) * 2  # away from the edges, where the image does not hold the tip's reach
    assert np.all(result.surface[inner] >= surface[inner] - 1e-9)  # erosion by the true tip: an upper bound
    certain = result.certainty
    assert certain.sum() > 100
    np.testing.assert_allclose(result.surface[certain], surface[certain], atol=1e-9)  # and exact where certain
    mirrored = reconstruct(image, 1.5, tip=tip[::-1, ::-1].copy(), levelling=())  # the wrong way round
    assert np.abs(mirrored.surface - surface)[certain].max() > 1.0


def test_a_tip_comes_back_from_npz_and_gwy_as_it_was_asymmetric_and_with_its_pixels(tmp_path, rng):
    tip = random_asymmetric_tip(15, rng)
    write_tip(tip, (2.0, 2.5), tmp_path / "tip.npz", tip_std=np.ones_like(tip))
    back, pixel = read_tip(tmp_path / "tip.npz")
    np.testing.assert_array_equal(back, tip)
    assert pixel == (2.0, 2.5)
    # a Gwyddion tip field: one channel, the apex highest but not at 0, in metres in the file
    write_gwy_channels([("Estimated tip", tip + 7.0, "nm", (2.0, 2.0))], tmp_path / "tip.gwy")
    back, pixel = read_tip(tmp_path / "tip.gwy")
    np.testing.assert_allclose(back, tip, atol=1e-9)
    assert pixel == pytest.approx((2.0, 2.0))


def test_tips_that_cannot_be_the_scans_are_refused_with_the_reason(tmp_path, rng):
    tip = random_asymmetric_tip(11, rng)
    write_tip(tip, 2.0, tmp_path / "tip.tif")
    with pytest.raises(ParameterError, match="a volume or mesh is resampled"):
        read_tip(tmp_path / "tip.tif")
    np.savez(tmp_path / "maps.npz", image=np.zeros((8, 8)))
    with pytest.raises(AfmFileError, match="holds no 'tip' array"):
        read_tip(tmp_path / "maps.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    with pytest.raises(AfmFileError, match=r"not a readable \.npz"):
        read_tip(tmp_path / "broken.npz")
    np.savez(tmp_path / "off.npz", tip=np.roll(tip, 2, axis=1))
    with pytest.raises(AfmFileError, match=r"apex \(its highest point\) is not at its centre"):
        read_tip(tmp_path / "off.npz")
    image = np.zeros((64, 64))
    with pytest.raises(ParameterError, match=r"tip's pixels are 2 x 2 nm and the scan's 1 x 1 nm"):
        reconstruct(image, 1.0, tip=tip, tip_pixel_nm=2.0)
    with pytest.raises(ParameterError, match="replaces method 'btr'"):
        reconstruct(image, 1.0, tip=tip, method="btr")
    with pytest.raises(ParameterError, match="tip_px do not apply to a tip given"):
        reconstruct(image, 1.0, tip=tip, tip_px=9)
    with pytest.raises(ParameterError, match="a 23 px tip needs an image of at least 46x46 px"):
        reconstruct(np.zeros((40, 40)), 1.0, tip=random_asymmetric_tip(23, rng))


def test_reconstruct_cli_uses_an_exported_tip_and_never_writes_over_it(tmp_path, capsys, rng):
    tip = random_asymmetric_tip(11, rng)
    image = dilate(spike_array(96, 12, (5.0, 20.0), rng), tip)
    np.savez(tmp_path / "scan.npz", image=image, pixel_nm=1.5)
    out = tmp_path / "out"
    scan = str(tmp_path / "scan.npz")
    assert main(["reconstruct", scan, "--method", "btr", "--tip-file", "npz", "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    estimated, _ = read_tip(out / "scan_tip.npz")
    again = tmp_path / "again"
    argv = ["reconstruct", scan, "--tip", str(out / "scan_tip.npz"), "--no-level", "-o", str(again), "-q"]
    assert main(argv) == 0
    assert "the tip given on cpu" in capsys.readouterr().out
    with np.load(again / "scan.npz") as result:
        np.testing.assert_array_equal(result["tip"], estimated)
        np.testing.assert_allclose(result["surface"], erode(image, estimated))
    assert main(["info", str(out / "scan_tip.npz")]) == 2  # a tip is not a scan, and is said to be one
    assert "holds a tip, not a scan: give it to se3afm reconstruct --tip" in capsys.readouterr().err
    # the tip given is an input: an output of the same path is refused, even with --overwrite
    argv = ["reconstruct", scan, "--tip", str(out / "scan_tip.npz"), "--tip-file", "npz"]
    assert main([*argv, "-o", str(out), "--overwrite", "-q"]) == 2
    assert "is the input" in capsys.readouterr().err
    np.testing.assert_array_equal(read_tip(out / "scan_tip.npz")[0], estimated)
