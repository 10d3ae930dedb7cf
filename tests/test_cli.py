"""The se3afm command line: outputs, exit codes, refusal to overwrite, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from napari_se3afm.cli import main
from napari_se3afm.image.morphology import dilate
from napari_se3afm.tip import cone_tip
from synthetic import spike_array

EXPECTED = {"image", "surface", "tip", "certainty", "tip_volume", "pixel_nm"}


@pytest.fixture
def scan(tmp_path, rng):
    tip = cone_tip(11, 2.0, half_angle_deg=25, apex_radius_nm=3)
    image = dilate(spike_array(64, 20, (30, 40), rng), tip)
    path = tmp_path / "scan.npy"
    np.save(path, image)
    return path, image, tip


def test_reconstruct_npy_writes_the_documented_arrays(scan, tmp_path, capsys):
    path, image, tip = scan
    out = tmp_path / "out"
    argv = ["reconstruct", str(path), "-o", str(out), "--pixel-nm", "2", "--tip-px", "11", "--no-level", "-q"]
    assert main(argv) == 0
    assert f"wrote {out / 'scan.npz'}" in capsys.readouterr().out
    with np.load(out / "scan.npz") as res:
        assert EXPECTED <= set(res.files)
        assert float(res["pixel_nm"]) == 2.0
        for key in EXPECTED - {"pixel_nm"}:
            assert res[key].dtype == np.float64
        np.testing.assert_array_equal(res["image"], image)
        probed = tip > -25
        assert np.abs(res["tip"] - tip)[probed].max() < 1e-9  # noise-free spikes: exact
        assert res["tip_volume"].shape == (32, 32, 32)
        assert '"levelling": []' in str(res["info"])


def test_levelling_is_applied_by_default_and_recorded(tmp_path, rng):
    yy, xx = np.mgrid[:64, :64]
    jumps = 5.0 * (rng.random(64)[:, None] > 0.5)
    np.save(tmp_path / "tilted.npy", 0.3 * xx - 0.2 * yy + rng.normal(0, 0.05, (64, 64)) + jumps)
    base = ["reconstruct", str(tmp_path / "tilted.npy"), "--pixel-nm", "1", "--method", "btr", "-q"]
    assert main([*base, "-o", str(tmp_path / "a")]) == 0
    with np.load(tmp_path / "a" / "tilted.npz") as res:
        assert '"levelling": ["plane", "scars", "zero-min"]' in str(res["info"])
        assert res["image"].min() == 0.0
        np.testing.assert_allclose(np.diff(res["image"], axis=1).mean(), 0, atol=0.01)  # tilt gone
    assert main([*base, "-o", str(tmp_path / "b"), "--level", "plane,align-rows,zero-min"]) == 0
    with np.load(tmp_path / "b" / "tilted.npz") as res:
        assert np.ptp(res["image"]) < 0.6  # tilt and scan-line jumps removed, noise left
    assert main([*base, "-o", str(tmp_path / "c"), "--level", "plane,wobble"]) == 2


def test_tip_size_in_nm_and_dbtr(scan, tmp_path):
    path, _, _ = scan
    out = tmp_path / "o"
    argv = [
        "reconstruct",
        str(path),
        "-o",
        str(out),
        "--pixel-nm",
        "2",
        "--tip-nm",
        "22",
        "--method",
        "dbtr",
        "--steps",
        "3",
        "--device",
        "cpu",
        "-q",
    ]
    assert main(argv) == 0
    with np.load(out / "scan.npz") as res:
        assert res["tip"].shape == (11, 11)
        assert '"method": "dbtr"' in str(res["info"])


def test_reconstruct_takes_a_folder_of_scans_as_a_session(scan, tmp_path, capsys):
    """A folder (or a quoted glob) names every scan in it, as for se3afm track: one result per scan."""
    path = scan[0]
    session = tmp_path / "session"
    session.mkdir()
    first = tmp_path / "first"
    assert main(["reconstruct", str(path), "-o", str(first), "--pixel-nm", "2", "--method", "btr", "-q"]) == 0
    for name in ("a", "b"):  # se3afm's own .npz results carry their pixel size: scans by themselves
        (session / f"{name}.npz").write_bytes((first / "scan.npz").read_bytes())
    (session / "notes.txt").write_text("not a scan")
    out = tmp_path / "out"
    assert main(["reconstruct", str(session), "-o", str(out), "--method", "btr", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.npz", "b.npz"]
    assert main(["reconstruct", str(session / "*.npz"), "-o", str(tmp_path / "glob"), "--method", "btr", "-q"]) == 0
    assert main(["reconstruct", str(tmp_path / "none"), "-o", str(out), "-q"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_refuses_to_overwrite_and_leaves_the_file(scan, tmp_path, capsys):
    path, _, _ = scan
    out = tmp_path / "out"
    argv = ["reconstruct", str(path), "-o", str(out), "--pixel-nm", "2", "-q", "--tip-px", "11"]
    assert main(argv) == 0
    before = (out / "scan.npz").read_bytes()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("se3afm: error:") and "--overwrite" in err and len(err.splitlines()) == 1
    assert (out / "scan.npz").read_bytes() == before
    assert main([*argv, "--overwrite"]) == 0


def test_scans_that_share_a_name_keep_their_suffixes(scan, tmp_path, capsys):
    path, image, _ = scan
    np.savez(tmp_path / "scan.npz", image=image)
    other = tmp_path / "other"
    other.mkdir()
    np.save(other / "scan.npy", image)
    base = ["reconstruct", "-o", str(tmp_path / "out"), "--pixel-nm", "2", "--tip-px", "11", "--no-level", "-q"]
    assert main([*base, str(path), str(tmp_path / "scan.npz")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["scan.npy.npz", "scan.npz.npz"]
    capsys.readouterr()
    assert main([*base, str(path), str(other / "scan.npy")]) == 2  # one file name in two folders
    assert "write them to different folders" in capsys.readouterr().err


def test_scars_are_filled_and_said(scan, tmp_path, capsys, rng):
    path, image, _ = scan
    scarred = image + rng.normal(0, 0.1, image.shape)
    scarred[30] -= 50.0
    np.save(path, scarred)
    argv = ["reconstruct", str(path), "-o", str(tmp_path / "out"), "--pixel-nm", "2", "--tip-px", "11"]
    assert main(argv) == 0
    assert "image: scan-line scars filled from the lines beside them: line 30 (64 pixels)" in capsys.readouterr().out
    with np.load(tmp_path / "out" / "scan.npz") as res:
        assert res["image"][30].min() > -1.0  # filled: the spikes' flat background, not 50 nm below it
    assert main([*argv, "--overwrite", "--level", "plane,zero-min"]) == 0
    assert "scan-line scars" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        pytest.param(b"", [], "empty", id="empty"),
        pytest.param(b"garbage" * 10, [], "corrupted or mislabelled", id="corrupt"),
        pytest.param(None, [], "no pixel size", id="no-pixel-size"),
        pytest.param("nan", ["--pixel-nm", "1"], "NaN", id="nan"),
        pytest.param("const", ["--pixel-nm", "1"], "constant", id="constant"),
        pytest.param("small", ["--pixel-nm", "1"], "too small", id="too-small"),
    ],
)
def test_bad_inputs_give_one_line_and_status_2(tmp_path, capsys, content, extra, message):
    path = tmp_path / "bad.npy"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is None:
        np.save(path, np.random.default_rng(0).normal(size=(64, 64)))
    elif content == "nan":
        np.save(path, np.full((64, 64), np.nan))
    elif content == "const":
        np.save(path, np.ones((64, 64)))
    else:
        np.save(path, np.random.default_rng(0).normal(size=(4, 4)))
    assert main(["reconstruct", str(path), "-o", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "o" / "bad.npz").exists()


def test_bad_options_are_rejected_by_argparse(scan, tmp_path, capsys):
    path, _, _ = scan
    with pytest.raises(SystemExit) as exc:
        main(["reconstruct", str(path), "-o", str(tmp_path), "--tip-px", "10"])
    assert exc.value.code == 2
    assert "must be odd" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reconstruct", str(path), "-o", str(tmp_path), "--tip-px", "11", "--tip-nm", "5"])
    capsys.readouterr()
    for value in ("inf", "nan", "-2"):
        with pytest.raises(SystemExit):
            main(["reconstruct", str(path), "-o", str(tmp_path), "--tip-nm", value])
        assert f"'{value}' must be a finite number > 0" in capsys.readouterr().err
    assert main(["reconstruct", str(path), "-o", str(tmp_path), "--pixel-nm", "2", "--tip-nm", "1e308"]) == 2
    err = capsys.readouterr().err
    assert "a 1e+308 nm tip window does not fit this 64x64 px image (at most 62 nm: half the image)" in err
    assert len(err) < 300


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["reconstruct", "--help"])
    text = capsys.readouterr().out
    for option in ("--method", "--tip-px", "--tip-nm", "--pixel-nm", "--device", "--overwrite", "--sample"):
        assert option in text


def test_bundled_sample_runs(tmp_path, capsys):
    assert main(["reconstruct", "--sample", "-o", str(tmp_path), "--method", "btr", "-q"]) == 0
    with (
        np.load(tmp_path / "spikes_sample.npz") as res,
        np.load(__import__("napari_se3afm.cli", fromlist=["x"])._sample_path()) as truth,
    ):
        probed = truth["tip"] > -40
        err = np.sqrt(np.mean((res["tip"] - truth["tip"])[probed] ** 2))
        assert err < 4.0  # 0.3 nm noise: classical BTR gets within a few nm
        assert np.sqrt(np.mean((res["surface"] - truth["surface"]) ** 2)) < np.sqrt(
            np.mean((res["image"] - truth["surface"]) ** 2)
        )


def test_info_lists_channels_units_and_sizes(real_data_dir, capsys):
    assert main(["info", str(real_data_dir / "nanoafmr__kpg20080408.007")]) == 0
    out = capsys.readouterr().out
    assert "[nanoscope]" in out and "256 x 256 px" in out and "pixel 3.906 x 3.906 nm" in out
    assert "* Height (retrace)" in out and "Phase (retrace)" in out and "[deg]" in out
    assert "scan-line scars" not in out
    assert main(["info", str(real_data_dir / "nanoafmr__Veeco_20160622.003")]) == 0
    assert "scan-line scars on lines 0–1, 480–482, 508–509 (3456 pixels)" in capsys.readouterr().out


def test_info_reports_bad_files_and_goes_on(tmp_path, real_data_dir, capsys):
    bad = tmp_path / "bad.gwy"
    bad.write_bytes(b"nothing")
    assert main(["info", str(bad), str(real_data_dir / "pyspm__test.sxm")]) == 2
    captured = capsys.readouterr()
    assert "bad.gwy" in captured.err and "[sxm]" in captured.out


def test_reconstruct_real_file_with_gwy_and_mesh_exports(real_data_dir, tmp_path):
    src = real_data_dir / "nanoafmr__kpg20080408.007"
    argv = ["reconstruct", str(src), "-o", str(tmp_path), "--tip-px", "9", "--gwy", "--tip-file", "stl", "-q"]
    assert main(argv) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "nanoafmr__kpg20080408.007.gwy",
        "nanoafmr__kpg20080408.007.npz",
        "nanoafmr__kpg20080408.007_tip.stl",
    ]
    with np.load(tmp_path / "nanoafmr__kpg20080408.007.npz") as res:
        assert float(res["pixel_nm"]) == pytest.approx(3.90625)
        assert "Height (retrace)" in str(res["info"])
    assert main(argv) == 2  # all three exist now


def test_simulate_then_bench(tmp_path, capsys):
    split = tmp_path / "val.npz"
    argv = [
        "lab",
        "simulate",
        "-n",
        "3",
        "--split",
        "validation",
        "--image-px",
        "64",
        "--tip-px",
        "15",
        "-o",
        str(split),
        "-q",
    ]
    assert main(argv) == 0
    assert f"wrote {split}" in capsys.readouterr().out
    from napari_se3afm.lab.simtip import SPLIT_SEEDS
    from napari_se3afm.lab.simtip.storage import read_split

    s = read_split(split)
    assert len(s) == 3 and s.seed == SPLIT_SEEDS["validation"] and s.image.shape == (3, 64, 64)
    assert main(argv) == 2  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    out = tmp_path / "bench"
    assert main(["lab", "bench", "--split", str(split), "--methods", "identity,btr", "-o", str(out), "-q"]) == 0
    tables = (out / "tables.md").read_text()
    assert "| identity |" in tables and "| btr |" in tables and "3 scans" in tables


def test_simulate_clean_and_config_errors(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"tips": {"cone_radius": [1, 2]}}')
    assert main(["lab", "simulate", "-n", "2", "-o", str(tmp_path / "a.npz"), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "tips.cone_radius" in err
    assert main(["lab", "simulate", "-n", "2", "-o", str(tmp_path / "a.txt")]) == 2
    assert ".npz" in capsys.readouterr().err
    assert (
        main(
            [
                "lab",
                "simulate",
                "-n",
                "2",
                "--image-px",
                "64",
                "--tip-px",
                "15",
                "--clean",
                "-q",
                "-o",
                str(tmp_path / "c.npz"),
            ]
        )
        == 0
    )
    from napari_se3afm.image.morphology import dilate
    from napari_se3afm.lab.simtip.storage import read_split

    s = read_split(tmp_path / "c.npz")
    for i in range(2):  # no artefacts: the image is the dilation of the surface (float32 storage)
        d = dilate(s.surface[i].astype(float), s.tip[i].astype(float))
        np.testing.assert_allclose(s.image[i][7:-7, 7:-7], d[7:-7, 7:-7], atol=1e-4)
    assert (
        main(["lab", "bench", "--split", str(tmp_path / "c.npz"), "--methods", "nope", "-o", str(tmp_path / "b")]) == 2
    )
    assert "choose from" in capsys.readouterr().err


def test_bad_output_places_and_impossible_heights_end_in_one_line(tmp_path, capsys):
    """Checked before any work: -o a file, an output that is a folder; and heights no AFM scan has."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["reconstruct", "--sample", "--method", "btr", "-o", str(afile), "-q"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    (tmp_path / "out" / "spikes_sample.npz").mkdir(parents=True)
    assert main(["reconstruct", "--sample", "--method", "btr", "-o", str(tmp_path / "out"), "--overwrite", "-q"]) == 2
    assert "is a folder" in capsys.readouterr().err
    huge = tmp_path / "huge.npy"
    np.save(huge, np.random.default_rng(0).normal(size=(64, 64)) * 1e300)
    assert main(["reconstruct", str(huge), "--pixel-nm", "1", "--method", "btr", "-o", str(tmp_path / "h"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no AFM scan" in err
    assert not (tmp_path / "h" / "huge.npz").exists()


def test_read_scan_of_no_path_is_the_projects_error():
    from napari_se3afm.errors import Se3afmError
    from napari_se3afm.io import read_scan

    with pytest.raises(Se3afmError, match="file path"):
        read_scan(None)


def test_argparse_mistakes_end_in_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["reconstruct", "x.npy", "-o", "out", "--tip-px", "4"])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith("se3afm: error: argument --tip-px: 4 must be odd") and "se3afm reconstruct --help" in err


def test_a_damaged_tiff_family_file_gives_one_line_and_no_parser_chatter(real_data_dir, tmp_path):
    import subprocess
    import sys

    cut = tmp_path / "header-only.jpk"
    cut.write_bytes((real_data_dir / "topostats__file.jpk").read_bytes()[:30000])
    code = "import sys; from napari_se3afm.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "info", str(cut)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [proc.stderr.strip()]  # tifffile's own log lines stay quiet
    assert proc.stderr.startswith(f"se3afm: error: {cut}: corrupted")


def test_pixel_nm_over_a_recorded_pixel_size_is_said(real_data_dir, tmp_path, capsys):
    src = real_data_dir / "nanoafmr__kpg20080408.007"
    argv = ["reconstruct", str(src), "-o", str(tmp_path), "--method", "btr", "--pixel-nm", "2", "-q"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "records 3.90625 x 3.90625 nm pixels" in err and "using --pixel-nm 2 as asked" in err
    with np.load(tmp_path / "nanoafmr__kpg20080408.007.npz") as res:
        assert float(res["pixel_nm"]) == 2.0


def test_summary_says_what_cannot_be_measured_instead_of_nan():
    from napari_se3afm.cli import summary
    from napari_se3afm.pipeline import reconstruct

    needle = np.full((11, 11), -50.0)
    needle[5, 5] = 0.0
    image = dilate(np.where(np.random.default_rng(0).random((64, 64)) > 0.99, 20.0, 0.0), needle)
    result = reconstruct(image, 2.0, method="btr", levelling=None, tip_px=11)
    text = "\n".join(summary(result, 1.0))
    assert "half-angle not measurable" in text and "nan" not in text
    assert "tip widens 1 / 2 / 5 / 10 nm features at half height by " in text  # a needle widens them by almost nothing


def test_summary_says_which_noise_threshold_classical_btr_chose(tmp_path):
    # spikes on bumps, noise 0.3 nm: BTR's bound at one noise σ is far from flat, so that is the
    # threshold it keeps, and the summary says so in nm and in σ
    from napari_se3afm.cli import summary
    from napari_se3afm.pipeline import reconstruct

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:96, :96]
    spikes = np.where(rng.random((96, 96)) > 0.995, 30.0, 0.0) + 3.0 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    tip = -np.hypot(*np.mgrid[-5:6, -5:6]) * 4.0
    image = dilate(spikes, tip) + rng.normal(0, 0.3, (96, 96))
    result = reconstruct(image, 2.0, method="btr", levelling=None, tip_px=11)
    first = summary(result, 1.0)[0]
    assert result.info["threshold_nm"] == pytest.approx(result.info["noise_nm"])
    assert f"noise threshold {result.info['threshold_nm']:.3g} nm (1 σ)" in first


def test_a_session_of_numbered_nanoscope_files_keeps_their_numbers(real_data_dir, tmp_path, capsys):
    """Nanoscope numbers a session's files by suffix (scan.000, scan.001, ...): results keep it."""
    import shutil

    run = tmp_path / "run"
    run.mkdir()
    for number in ("002", "004"):
        shutil.copyfile(real_data_dir / "topostats__old_bruker.002", run / f"scan.{number}")
    out = tmp_path / "out"
    assert (
        main(["reconstruct", str(run / "scan.002"), str(run / "scan.004"), "-o", str(out), "--method", "btr", "-q"])
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["scan.002.npz", "scan.004.npz"]
    from napari_se3afm._napari.reader import read_afm

    names = [meta["name"] for _, meta, _ in read_afm([str(run / "scan.002"), str(run / "scan.004")])]
    assert names[0].startswith("scan.002 ") and any(n.startswith("scan.004 ") for n in names)
