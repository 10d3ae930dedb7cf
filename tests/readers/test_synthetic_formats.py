"""Format variants no real file here covers, built byte by byte from the format descriptions."""

from __future__ import annotations

import numpy as np
import pytest

from napari_se3afm.errors import AfmFileError
from napari_se3afm.io import read_height_map, read_scan


def nanoscope_bytes(raw: np.ndarray, bpp: int, sens_key: str, sens_nm_per_v: float, z_scale_v: float) -> bytes:
    """A minimal Nanoscope image file (newer style: 32-bit data, named sensitivity)."""
    lines, samps = raw.shape
    offset = 8192
    header = (
        "\\*File list\r\n\\Version: 0x09200201\r\n\\Date: 10:00:00 AM Mon Jan 01 2024\r\n"
        f"\\*Scanner list\r\n\\@{sens_key}: V {sens_nm_per_v} nm/V\r\n"
        "\\*Ciao scan list\r\n\\Scan rate: 0.5\r\n\\Microscope: Dimension Icon\r\n"
        f"\\*Ciao image list\r\n\\Data offset: {offset}\r\n\\Data length: {raw.size * bpp}\r\n"
        f"\\Bytes/pixel: {bpp}\r\n\\Samps/line: {samps}\r\n\\Number of lines: {lines}\r\n"
        f"\\Scan size: 500 250 nm\r\n\\Line direction: Trace\r\n"
        '\\@2:Image Data: S [ZSensor] "Height Sensor"\r\n'
        f"\\@2:Z scale: V [{sens_key}] (0.000001 V/LSB) {z_scale_v} V\r\n"
        "\\*File list end\r\n"
    ).encode("latin-1")
    dtype = "<i4" if bpp == 4 else "<i2"
    return header.ljust(offset, b"\x00") + raw.astype(dtype).tobytes()


@pytest.mark.parametrize(("bpp", "key"), [(4, "Sens. ZsensSens"), (2, "Sens. Zsens")])
def test_nanoscope_scaling_for_16_and_32_bit_and_any_sensitivity_key(tmp_path, rng, bpp, key):
    raw = rng.integers(-(2 ** (8 * bpp - 2)), 2 ** (8 * bpp - 2), size=(20, 40))
    path = tmp_path / "scan.spm"
    path.write_bytes(nanoscope_bytes(raw, bpp, key, sens_nm_per_v=120.0, z_scale_v=3.5))
    scan = read_scan(path)
    ch = scan.height_channel()
    assert ch.name == "Height Sensor" and ch.unit == "nm" and ch.direction == "trace"
    expected = np.flipud(raw * 3.5 / 2 ** (8 * bpp) * 120.0)  # soft scale × sensitivity, never the hard value
    np.testing.assert_allclose(ch.data, expected, rtol=1e-12)
    assert scan.pixel_nm == pytest.approx((250 / 20, 500 / 40))  # x and y pixel sizes differ
    assert scan.metadata["scan_rate_hz"] == 0.5


def test_nanoscope_undefined_sensitivity_leaves_volts_never_taken_for_heights(tmp_path, rng):
    raw = rng.integers(0, 100, (8, 8))
    blob = nanoscope_bytes(raw, 2, "Sens. Zsens", 10.0, 1.0)
    path = tmp_path / "x.001"
    path.write_bytes(blob.replace(b"\\@Sens. Zsens:", b"\\@Sens. Other:"))
    channel = read_scan(path).channels[0]  # as Gwyddion reads it: the soft scale alone, in volts
    assert channel.unit == "V" and channel.kind != "height"
    np.testing.assert_allclose(channel.data, np.flipud(raw) * 1.0 / 2**16)
    with pytest.raises(AfmFileError, match="height"):
        read_height_map(path)


def test_gwy_masks_and_non_height_units(tmp_path, rng):
    from gwyfile.objects import GwyContainer, GwyDataField, GwySIUnit

    height = rng.normal(0, 1e-9, (16, 24))
    mask = (rng.random((16, 24)) > 0.7).astype(float)
    c = GwyContainer()
    c["/0/data"] = GwyDataField(
        height, xreal=2.4e-6, yreal=1.6e-6, si_unit_xy=GwySIUnit(unitstr="m"), si_unit_z=GwySIUnit(unitstr="m")
    )
    c["/0/data/title"] = "Topography"
    c["/0/mask"] = GwyDataField(mask, xreal=2.4e-6, yreal=1.6e-6)
    c["/1/data"] = GwyDataField(
        height * 1e9, xreal=2.4e-6, yreal=1.6e-6, si_unit_xy=GwySIUnit(unitstr="m"), si_unit_z=GwySIUnit(unitstr="V")
    )
    c["/1/data/title"] = "Amplitude"
    path = tmp_path / "m.gwy"
    c.tofile(str(path))
    scan = read_scan(path)
    topo, amp = scan.channels
    np.testing.assert_allclose(topo.data, height * 1e9)
    np.testing.assert_array_equal(topo.mask, mask > 0.5)
    assert amp.unit == "V" and amp.kind == "amplitude" and amp.mask is None
    assert scan.pixel_nm == pytest.approx((100.0, 100.0))


@pytest.mark.parametrize(
    "name, kind",
    [
        ("Z-Axis forward", "height"),  # Nanosurf .nid
        ("Z-Axis", "height"),
        ("Z", "height"),
        ("HeightRetrace", "height"),
        ("Z Sensor", "height"),
        ("ZSensorTrace", "height"),  # Asylum
        ("Height Sensor", "height"),  # Bruker PeakForce
        ("Topography [fwd]", "height"),  # NT-MDT, Nanonis
        ("Topo", "height"),  # WSxM, Omicron
        ("Z Axis", "height"),
        ("measuredHeight", "height"),  # JPK
        ("Z-Axis uncertainty σ", "other"),
        ("Phase", "phase"),
        ("Amplitude forward", "amplitude"),
    ],
)
def test_height_channels_are_found_by_name(name, kind):
    from napari_se3afm.scan import channel_kind

    assert channel_kind(name) == kind
