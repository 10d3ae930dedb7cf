"""Every real file in ../shared/data/real against the figures independent readers gave (its README)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_se3afm.io import read_height_map, read_scan

# file, format, shape, pixel nm, z range nm of the height channel (README of the data folder)
REFERENCE = [
    pytest.param("nanoafmr__kpg20080408.007", "nanoscope", (256, 256), 3.906, 18.67, id="nanoscope-v5-kpg"),
    pytest.param("nanoafmr__Veeco_20160622.003", "nanoscope", (512, 512), 3.455, 159.5, id="nanoscope-v5-veeco"),
    pytest.param("topostats__old_bruker.002", "nanoscope", (256, 256), 58.59, 704.8, id="nanoscope-d3100"),
    pytest.param("scifireaders__PTO_110_Virgin0001_1.gwy", "gwy", (256, 256), 39.22, 125.1, id="gwyddion"),
    pytest.param("nanoafmr__AR_20211011.ibw", "ibw", (128, 128), 31.496, 83.25, id="asylum-ibw"),
    pytest.param("topostats__file.jpk", "jpk", (256, 256), 1.277, 58.36, id="jpk"),
    pytest.param("pyspm__test.sxm", "sxm", (256, 256), 19.53, 116.1, id="nanonis-sxm"),
    pytest.param("nanoafmr__Park_20210916_034.tiff", "park", (256, 256), 9.766, 11.96, id="park-tiff"),
]


@pytest.mark.parametrize(("name", "fmt", "shape", "pixel", "z_range"), REFERENCE)
def test_height_channel_matches_independent_readers(real_data_dir, name, fmt, shape, pixel, z_range):
    scan = read_scan(real_data_dir / name)
    assert scan.format == fmt
    height = scan.height_channel()
    assert height.unit == "nm" and height.kind == "height"
    assert height.data.shape == shape
    assert scan.pixel_nm[0] == pytest.approx(pixel, rel=1e-3)
    assert scan.pixel_nm[1] == pytest.approx(pixel, rel=1e-3)
    assert np.ptp(height.data) == pytest.approx(z_range, rel=0.01)


def test_channels_units_and_names(real_data_dir):
    gwy = read_scan(real_data_dir / "scifireaders__PTO_110_Virgin0001_1.gwy")
    assert [c.name for c in gwy.channels] == ["HeightRetrace", "AmplitudeRetrace", "DeflectionRetrace", "PhaseRetrace"]
    assert gwy.channel("phaseretrace").unit == "deg"
    nano = read_scan(real_data_dir / "nanoafmr__kpg20080408.007")
    assert [c.label for c in nano.channels] == ["Height (retrace)", "Phase (retrace)"]
    assert nano.channel("Phase").unit == "deg"
    assert nano.metadata["scan_rate_hz"] == pytest.approx(1.96888)
    assert "MultiMode" in nano.metadata["instrument"]
    sxm = read_scan(real_data_dir / "pyspm__test.sxm")
    assert [c.label for c in sxm.channels][:2] == ["Z (forward)", "Z (backward)"]
    assert sxm.channel("Current (forward)").unit == "A"
    ibw = read_scan(real_data_dir / "nanoafmr__AR_20211011.ibw")
    assert [c.name for c in ibw.channels] == ["HeightRetrace", "AmplitudeRetrace", "PhaseRetrace", "ZSensorRetrace"]
    jpk = read_scan(real_data_dir / "topostats__file.jpk")
    assert jpk.height_channel().label == "height (trace)"


def test_missing_channel_lists_the_available_ones(real_data_dir):
    from napari_se3afm.errors import ChannelNotFoundError

    with pytest.raises(ChannelNotFoundError, match=r"'Height \(retrace\)'.*'Phase \(retrace\)'"):
        read_height_map(real_data_dir / "nanoafmr__kpg20080408.007", channel="Friction")


def test_nanoscope_backward_and_forward_sxm_are_mirror_consistent(real_data_dir):
    """Forward and backward Nanonis images of the same area agree once the backward one is unmirrored."""
    sxm = read_scan(real_data_dir / "pyspm__test.sxm")
    fwd, bwd = sxm.channel("Z (forward)").data, sxm.channel("Z (backward)").data
    same = np.corrcoef(fwd.ravel(), bwd.ravel())[0, 1]
    mirrored = np.corrcoef(fwd.ravel(), bwd[:, ::-1].ravel())[0, 1]
    assert same > 0.9 and same > mirrored


def test_reconstruction_runs_on_every_height_channel(real_data_dir):
    from napari_se3afm.pipeline import reconstruct

    for param in REFERENCE:
        result = reconstruct(real_data_dir / param.values[0], tip_px=11)
        assert result.surface.shape == param.values[2]
        assert np.all(result.surface <= result.image + 1e-9)
        assert result.tip.max() <= 0 and result.tip[5, 5] == 0
