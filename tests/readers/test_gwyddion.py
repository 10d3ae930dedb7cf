"""Gwyddion as the reference and as the fallback reader.

Every real file and every synthetic Nanoscope header variant is read natively and through Gwyddion's
own conversion (``gwyddion --convert-to-gwy``, run here directly, not through the package): the
same channels, shapes, pixel size and heights in nm. Files no native reader claims open through the
fallback; without Gwyddion the message says what to install.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from synthetic_files import variants, write_gsf, write_nanoscope

from napari_se3afm.errors import AfmFileError
from napari_se3afm.io import detect_format, read_scan, via_gwyddion

GWYDDION = via_gwyddion.gwyddion_executable()
needs_gwyddion = pytest.mark.skipif(
    GWYDDION is None, reason="Gwyddion is not installed (scripts/install.sh installs it)"
)
REAL_FILES = [
    "nanoafmr__AR_20211011.ibw",
    "nanoafmr__Park_20210916_034.tiff",
    "nanoafmr__Veeco_20160622.003",
    "nanoafmr__kpg20080408.007",
    "pyspm__test.sxm",
    "scifireaders__PTO_110_Virgin0001_1.gwy",
    "topostats__file.jpk",
    "topostats__old_bruker.002",
]


def gwyddion_reading(path: Path, tmp_path: Path):
    """``path`` as Gwyddion reads it: converted by the gwyddion program, then read as a .gwy file."""
    out = tmp_path / (path.name + ".gwy")
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("DISPLAY", None)
    subprocess.run([GWYDDION, f"--convert-to-gwy={out}", str(path)], check=True, capture_output=True, env=env)
    return read_scan(out)


def assert_same_reading(native, reference) -> None:
    """Same channels in the same order, shapes, pixel size (0.1 %), heights in nm (1e-6 relative)."""
    assert len(native.channels) == len(reference.channels)
    assert native.pixel_nm == pytest.approx(reference.pixel_nm, rel=1e-3)
    for ours, theirs in zip(native.channels, reference.channels, strict=True):
        assert ours.data.shape == theirs.data.shape, ours.label
        if theirs.unit:  # Gwyddion leaves a channel without unit where the header names no sensitivity
            assert ours.unit == theirs.unit, ours.label
        scale = np.nanmax(np.abs(theirs.data)) or 1.0
        np.testing.assert_allclose(ours.data, theirs.data, rtol=0, atol=1e-6 * scale, err_msg=ours.label)


@needs_gwyddion
@pytest.mark.parametrize("name", REAL_FILES)
def test_real_file_reads_as_gwyddion_reads_it(real_data_dir, tmp_path, name):
    path = real_data_dir / name
    assert_same_reading(read_scan(path), gwyddion_reading(path, tmp_path))


@pytest.mark.parametrize("name", list(variants()))
def test_nanoscope_variant_heights_and_pixel_from_its_header(tmp_path, name):
    variant = variants()[name]
    scan = read_scan(write_nanoscope(tmp_path / f"{name}.spm", variant))
    assert scan.format == "nanoscope"
    assert scan.pixel_nm == pytest.approx(variant.pixel_nm, rel=1e-9)
    for channel, image, factor in zip(scan.channels, variant.images, variant.nm_per_count, strict=True):
        np.testing.assert_allclose(channel.data, np.flipud(image.raw) * factor, rtol=1e-12)
    assert scan.channels[0].unit == "nm" and scan.channels[0].kind == "height"


@needs_gwyddion
@pytest.mark.parametrize("name", [name for name, v in variants().items() if v.gwyddion_reads])
def test_nanoscope_variant_reads_as_gwyddion_reads_it(tmp_path, name):
    path = write_nanoscope(tmp_path / f"{name}.spm", variants()[name])
    assert_same_reading(read_scan(path), gwyddion_reading(path, tmp_path))


@needs_gwyddion
def test_a_format_without_native_reader_opens_through_gwyddion(tmp_path, rng):
    z = rng.normal(0, 5, (20, 30))
    path = write_gsf(tmp_path / "scan.gsf", z, 2.5)
    scan = read_scan(path)
    assert scan.format == "gwyddion" and scan.source == str(path)
    assert scan.pixel_nm == pytest.approx((2.5, 2.5), rel=1e-6)
    assert scan.height_channel().unit == "nm"
    np.testing.assert_allclose(scan.height_channel().data, z, rtol=1e-6, atol=1e-6)  # float32 in the file
    assert detect_format(path) == "gwyddion"
    scan.channels[0].data[:] = 0  # the cached reading is never handed out itself
    np.testing.assert_allclose(read_scan(path).channels[0].data, z, rtol=1e-6, atol=1e-6)


@needs_gwyddion
def test_what_neither_reads_is_one_clear_error_and_napari_declines_it(tmp_path):
    path = tmp_path / "noise.nid"
    path.write_bytes(np.random.default_rng(1).bytes(3000))
    with pytest.raises(AfmFileError, match=r"noise\.nid: neither napari-se3afm nor Gwyddion can read it \(.+\)$"):
        read_scan(path)
    assert detect_format(path) is None


def test_without_gwyddion_the_message_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(via_gwyddion, "gwyddion_executable", lambda: None)
    path = tmp_path / "scan.nid"
    path.write_bytes(b"[DataSet]\nVersion=2\n" * 10)
    with pytest.raises(AfmFileError, match=r"install Gwyddion .* to open \.nid files through it"):
        read_scan(path)
    assert detect_format(path) is None


def test_conversion_is_stopped_after_its_time_limit_and_leaves_no_files(tmp_path, monkeypatch):
    slow = tmp_path / "slow-gwyddion"
    slow.write_text("#!/bin/sh\nsleep 30 &\nsleep 30\n")  # a child of its own too
    slow.chmod(0o755)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(via_gwyddion, "gwyddion_executable", lambda: str(slow))
    monkeypatch.setattr(via_gwyddion, "CONVERT_TIMEOUT_S", 0.5)
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    path = tmp_path / "scan.mdt"
    path.write_bytes(b"\x01" * 100)
    with pytest.raises(AfmFileError, match=r"did not finish converting it within 0.5 s"):
        read_scan(path)
    assert list(scratch.iterdir()) == []


@needs_gwyddion
def test_temporary_files_are_removed_after_a_conversion(tmp_path, monkeypatch, rng):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    read_scan(write_gsf(tmp_path / "a.gsf", rng.normal(0, 1, (8, 8)), 1.0))
    bad = tmp_path / "b.sm4"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(AfmFileError):
        read_scan(bad)
    assert list(scratch.iterdir()) == []


def test_napari_offers_gwyddion_formats_to_the_plugin():
    import yaml

    manifest = yaml.safe_load((Path(via_gwyddion.__file__).parents[1] / "napari.yaml").read_text())
    patterns = manifest["contributions"]["readers"][0]["filename_patterns"]
    assert {f"*{suffix}" for suffix in via_gwyddion.GWYDDION_SUFFIXES} <= set(patterns)


@needs_gwyddion
def test_napari_reader_opens_what_gwyddion_reads_and_declines_the_rest(tmp_path, rng):
    from napari_se3afm._napari.reader import get_reader

    z = rng.normal(0, 5, (20, 30))
    path = write_gsf(tmp_path / "scan.gsf", z, 2.5)
    data, meta, kind = get_reader(str(path))(str(path))[0]
    from napari_se3afm.image.levelling import subtract_plane

    assert kind == "image" and tuple(meta["scale"]) == pytest.approx((2.5, 2.5), rel=1e-6)
    assert meta["metadata"]["levelling"] == ["plane"]  # heights open levelled by a plane
    np.testing.assert_allclose(data, subtract_plane(z), rtol=1e-6, atol=1e-5)
    junk = tmp_path / "junk.mdt"
    junk.write_bytes(b"\x00\x01" * 500)
    assert get_reader(str(junk)) is None
