"""Writers round-trip exactly; bad files give one AfmFileError naming the file; readers survive fuzzing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_se3afm.errors import AfmFileError, FileExistsSe3afmError, ParameterError
from napari_se3afm.io import read_height_map, read_scan, write_reconstruction
from napari_se3afm.io.writers import (
    read_tip_volume,
    tip_from_volume_file,
    write_gwy_channels,
    write_tif_channels,
    write_tip,
)
from napari_se3afm.results import Reconstruction
from napari_se3afm.tip import pyramid_tip, tip_to_mesh, tip_to_volume
from synthetic import random_asymmetric_tip


@pytest.fixture
def result(rng):
    image = rng.normal(0, 3, (40, 48))
    tip = random_asymmetric_tip(9, rng)
    return Reconstruction(
        image=image,
        surface=image - 1.0,
        tip=tip,
        certainty=image > 1,
        tip_volume=tip_to_volume(tip, (1.5, 2.0)),
        pixel_nm=(1.5, 2.0),
        method="btr",
        surface_std=np.abs(image) / 10,
        info={"noise_nm": 0.1},
    )


def test_gwy_round_trip_is_exact_with_titles_and_nm(result, tmp_path):
    path = write_reconstruction(result, tmp_path / "r.gwy")
    scan = read_scan(path)
    assert [c.name for c in scan.channels] == [
        "Surface",
        "Image (levelled)",
        "Certainty",
        "Surface uncertainty σ",
        "Tip",
    ]
    assert scan.pixel_nm == pytest.approx((1.5, 2.0))
    np.testing.assert_allclose(scan.channel("Surface").data, result.surface, rtol=1e-15, atol=1e-12)
    np.testing.assert_array_equal(scan.channel("Certainty").data, result.certainty)
    np.testing.assert_allclose(scan.channel("Tip").data, result.tip, atol=1e-12)  # unmirrored
    assert scan.channel("Surface").unit == "nm" and scan.channel("Certainty").unit == ""
    assert scan.height_channel().name == "Surface"


def test_afmreader_opens_the_surface_and_its_sigma_at_the_pixel_size(result, tmp_path):
    """TopoStats opens .gwy files through AFMReader: the reconstructed surface and its σ map open there
    by their titles, in nm, at the scan's pixel size. AFMReader 0.0.7 takes square scans of square
    pixels (a 20 × 24 field comes back shaped 24 × 20), so the scan here is square."""
    import dataclasses

    gwy = pytest.importorskip("AFMReader.gwy")
    n = min(result.image.shape)
    square = dataclasses.replace(
        result,
        image=result.image[:n, :n],
        surface=result.surface[:n, :n],
        certainty=result.certainty[:n, :n],
        surface_std=result.surface_std[:n, :n],
        pixel_nm=(1.25, 1.25),
    )
    path = write_reconstruction(square, tmp_path / "r.gwy")
    for title, expected in (("Surface", square.surface), ("Surface uncertainty σ", square.surface_std)):
        image, pixel = gwy.load_gwy(path, title)
        assert pixel == pytest.approx(1.25)
        np.testing.assert_allclose(image, expected, rtol=1e-12, atol=1e-9)


def test_real_gwy_rewritten_reads_back_identically(real_data_dir, tmp_path):
    scan = read_scan(real_data_dir / "scifireaders__PTO_110_Virgin0001_1.gwy")
    channels = [(c.name, c.data, c.unit, scan.pixel_nm) for c in scan.channels]
    again = read_scan(write_gwy_channels(channels, tmp_path / "copy.gwy"))
    for a, b in zip(scan.channels, again.channels, strict=True):
        assert (a.name, a.unit) == (b.name, b.unit)
        np.testing.assert_allclose(b.data, a.data, rtol=1e-12)
    assert again.pixel_nm == pytest.approx(scan.pixel_nm, rel=1e-12)


def test_tif_and_npz_carry_the_pixel_size(result, tmp_path):
    for suffix in (".tif", ".npz"):
        hm = read_height_map(write_reconstruction(result, tmp_path / f"r{suffix}"))
        assert hm.pixel_nm == pytest.approx((1.5, 2.0))
    np.testing.assert_allclose(read_scan(tmp_path / "r.tif").channel("Surface").data, result.surface, atol=1e-5)


def test_never_overwrites_silently_and_leaves_no_partial_file(result, tmp_path):
    path = write_reconstruction(result, tmp_path / "r.npz")
    before = path.read_bytes()
    with pytest.raises(FileExistsSe3afmError):
        write_reconstruction(result, path)
    assert path.read_bytes() == before
    with pytest.raises(ParameterError):
        write_reconstruction(result, tmp_path / "r.xyz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz"]


@pytest.mark.parametrize("suffix", [".tif", ".npy", ".vti"])
def test_tip_volume_files_round_trip(tmp_path, suffix):
    tip = pyramid_tip(21, 1.5, sides=3, rotation_deg=12)
    vol = tip_to_volume(tip, 1.5, shape=(32, 21, 21))
    path = write_tip(tip, 1.5, tmp_path / f"tip{suffix}", volume=vol)
    back = read_tip_volume(path)
    assert back.voxel_nm == pytest.approx(vol.voxel_nm)
    np.testing.assert_allclose(tip_from_volume_file(path), tip, atol=1e-5)


def test_without_pyvista_mesh_export_names_the_extra_and_plain_volumes_still_write(tmp_path, monkeypatch):
    """pyvista is the optional ``mesh`` extra: without it an .stl/.vti tip is refused in one sentence that
    says what to install, before anything is written, and .tif/.npy tips are written as before."""
    from napari_se3afm.io import writers

    real_find_spec = writers.find_spec
    monkeypatch.setattr(writers, "find_spec", lambda name: None if name == "pyvista" else real_find_spec(name))
    tip = pyramid_tip(15, 2.0, sides=3)
    for suffix in (".stl", ".vti"):
        with pytest.raises(ParameterError, match=r"pip install 'napari-se3afm\[mesh\]'"):
            write_tip(tip, 2.0, tmp_path / f"tip{suffix}")
    assert list(tmp_path.iterdir()) == []
    assert write_tip(tip, 2.0, tmp_path / "tip.npy").is_file()


@pytest.mark.parametrize("suffix", [".stl", ".ply", ".obj"])
def test_tip_mesh_files_keep_the_closed_solid(tmp_path, suffix):
    import pyvista as pv

    tip = pyramid_tip(15, 2.0, sides=3)
    path = write_tip(tip, 2.0, tmp_path / f"tip{suffix}")
    mesh = pv.read(str(path)).triangulate().clean()
    ours = tip_to_mesh(tip, 2.0)
    assert mesh.n_cells == len(ours.faces)
    assert mesh.n_points == len(ours.vertices)
    assert mesh.is_manifold  # closed: every edge shared by two faces

    def signed_volume(vertices, faces):
        v = vertices[faces]
        return np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6

    read_faces = mesh.faces.reshape(-1, 4)[:, 1:]
    expected = signed_volume(ours.vertices, ours.faces)
    assert expected > 0  # outward orientation
    assert signed_volume(np.asarray(mesh.points, float), read_faces) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: p.write_bytes(b""), "empty", id="empty"),
        pytest.param(lambda p: p.write_bytes(b"GWYP\x00\x01garbage"), "corrupted", id="corrupt-gwy"),
        pytest.param(lambda p: p.write_bytes(b"hello world" * 20), "does not match", id="mislabelled"),
    ],
)
def test_bad_files_raise_one_error_naming_the_file(tmp_path, make, message):
    path = tmp_path / "scan.gwy"
    make(path)
    with pytest.raises(AfmFileError, match=message) as exc:
        read_scan(path)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize(
    "name",
    [
        "nanoafmr__kpg20080408.007",
        "pyspm__test.sxm",
        "nanoafmr__AR_20211011.ibw",
        "scifireaders__PTO_110_Virgin0001_1.gwy",
    ],
)
def test_truncated_real_files_are_reported(real_data_dir, tmp_path, name):
    data = (real_data_dir / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AfmFileError, match=str(path).replace("\\", "\\\\")):
        read_scan(path)


def test_a_gwy_file_one_byte_short_is_refused_not_parsed_for_ever(real_data_dir, tmp_path):
    """A .gwy cut short inside its top-level object (or with bytes after it) is refused by its sizes.
    Run in a subprocess with a time limit, so that a parser that loops fails the test, not hangs it."""
    import subprocess
    import sys

    data = (real_data_dir / "scifireaders__PTO_110_Virgin0001_1.gwy").read_bytes()
    for cut, name in ((1, "short.gwy"), (-3, "long.gwy")):
        path = tmp_path / name
        path.write_bytes(data[:-cut] if cut > 0 else data + b"\0" * -cut)
        code = (
            "import sys\nfrom napari_se3afm.io import read_scan\nfrom napari_se3afm.errors import AfmFileError\n"
            f"try:\n    read_scan({str(path)!r})\nexcept AfmFileError as exc:\n    print(exc)\n    sys.exit(0)\n"
            "sys.exit(1)"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "corrupted Gwyddion file" in proc.stdout, proc.stdout + proc.stderr[-500:]


def test_gwy_reads_as_gwyfile_reads_it(real_data_dir):
    """The .gwy parser against gwyfile (an independent implementation of the format): every field."""
    gwyfile = pytest.importorskip("gwyfile")
    path = real_data_dir / "scifireaders__PTO_110_Virgin0001_1.gwy"
    container = gwyfile.load(str(path))
    scan = read_scan(path)
    ids = sorted(int(k.split("/")[1]) for k in container if k.endswith("/data") and k.count("/") == 2)
    assert [c.name for c in scan.channels] == [container[f"/{i}/data/title"] for i in ids]
    for i, channel in zip(ids, scan.channels, strict=True):
        field = container[f"/{i}/data"]
        raw = np.asarray(field["data"]).reshape(field["yres"], field["xres"])
        scale = 1e9 if channel.unit == "nm" else 1.0
        np.testing.assert_allclose(channel.data, raw * scale, rtol=1e-12)
    assert scan.pixel_nm == pytest.approx((field["yreal"] * 1e9 / field["yres"], field["xreal"] * 1e9 / field["xres"]))


def test_damaged_gwy_files_are_refused_or_read_never_crash(real_data_dir, tmp_path):
    """Bytes of a real .gwy overwritten at random: each file is read or refused with AfmFileError."""
    data = bytearray((real_data_dir / "scifireaders__PTO_110_Virgin0001_1.gwy").read_bytes())
    rng = np.random.default_rng(7)
    header = data.find(b"/0/data") + 200  # the structure (names, sizes, units) lies before the arrays
    outcomes = set()
    for trial in range(60):
        damaged = bytearray(data)
        for at in rng.integers(4, header, size=3):
            damaged[at] = int(rng.integers(0, 256))
        path = tmp_path / f"damaged{trial}.gwy"
        path.write_bytes(bytes(damaged))
        try:
            read_scan(path)
            outcomes.add("read")
        except AfmFileError:
            outcomes.add("refused")
    assert "refused" in outcomes


def test_mislabelled_real_file_is_read_for_what_it_is(real_data_dir, tmp_path):
    path = tmp_path / "really_nanoscope.gwy"
    shutil.copy(real_data_dir / "nanoafmr__kpg20080408.007", path)
    assert read_scan(path).format == "nanoscope"


def test_nan_constant_and_huge_files(tmp_path, monkeypatch):
    import napari_se3afm.io as io

    np.save(tmp_path / "nan.npy", np.full((8, 8), np.nan))
    np.save(tmp_path / "flat.npy", np.zeros((8, 8)))
    with pytest.raises(AfmFileError, match="no finite values"):
        read_height_map(tmp_path / "nan.npy")
    with pytest.raises(AfmFileError, match="constant"):
        read_height_map(tmp_path / "flat.npy")
    monkeypatch.setattr(io, "MAX_FILE_BYTES", 100)
    with pytest.raises(AfmFileError, match="far larger"):
        read_scan(tmp_path / "flat.npy")


FUZZ_FILES = [
    "nanoafmr__kpg20080408.007",
    "scifireaders__PTO_110_Virgin0001_1.gwy",
    "nanoafmr__AR_20211011.ibw",
    "topostats__file.jpk",
    "pyspm__test.sxm",
    "nanoafmr__Park_20210916_034.tiff",
]


@pytest.mark.parametrize("name", FUZZ_FILES)
def test_fuzzed_real_files_never_escape_as_other_errors(real_data_dir, tmp_path_factory, name):
    original = (real_data_dir / name).read_bytes()
    folder = tmp_path_factory.mktemp("fuzz")

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        cut=st.integers(min_value=1, max_value=len(original)),
        flips=st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)), max_size=8),
        head_bias=st.booleans(),
    )
    def run(cut, flips, head_bias):
        data = bytearray(original[:cut])
        for pos, value in flips:
            where = pos % min(len(data), 4096) if head_bias else pos % len(data)
            data[where] = value
        path = folder / name
        path.write_bytes(bytes(data))
        try:
            scan = read_scan(path)
        except AfmFileError as exc:
            assert str(path) in str(exc)
            return
        for ch in scan.channels:  # a file that still parses gives well-formed channels
            assert ch.data.ndim == 2

    run()


def _write_slowly(target: str, start: float) -> str:
    """One of several processes writing the same new file at once (for the race test below)."""
    import time

    from napari_se3afm.errors import FileExistsSe3afmError
    from napari_se3afm.io.atomic import atomic_write

    time.sleep(max(0.0, start - time.time()))
    try:
        atomic_write(Path(target), lambda p: (p.write_text(str(os.getpid())), time.sleep(0.3)))
    except FileExistsSe3afmError:
        return "refused"
    return str(os.getpid())


def test_of_four_processes_writing_one_new_file_exactly_one_succeeds(tmp_path):
    import concurrent.futures
    import multiprocessing
    import time

    target = tmp_path / "result.npz"
    start = time.time() + 4.0  # every worker has started by then
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(4, mp_context=context) as pool:
        outcomes = list(pool.map(_write_slowly, [str(target)] * 4, [start] * 4))
    winners = [o for o in outcomes if o != "refused"]
    assert len(winners) == 1 and target.read_text() == winners[0]
    assert [p.name for p in tmp_path.iterdir()] == ["result.npz"]  # no temporary file left


def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import sys, time; from pathlib import Path\n"
        "from napari_se3afm.console import Terminated, terminate_cleanly\n"
        "from napari_se3afm.io.atomic import atomic_write\n"
        "try:\n"
        "    with terminate_cleanly():\n"
        "        atomic_write(Path(sys.argv[1]), lambda p: (p.write_text('x'), time.sleep(60)))\n"
        "except Terminated:\n"
        "    sys.exit(143)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "out.npz")])
    deadline = time.time() + 60
    while not list(tmp_path.glob(".out.npz.*.part.npz")) and time.time() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.npz.*.part.npz")), "the writer never started"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert list(tmp_path.iterdir()) == []


def test_absurd_declared_sizes_are_refused_before_anything_is_unpacked(tmp_path):
    import resource

    small = tmp_path / "zeros.npz"
    np.savez_compressed(small, image=np.zeros((9000, 8000), np.float32))  # 290 MB unpacked, 0.3 MB here
    header_only = tmp_path / "huge.npy"
    with open(header_only, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)})
        fh.write(b"\0" * 64)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for path in (small, header_only):
        with pytest.raises(AfmFileError, match=r"declares \d+ x \d+ samples, more than"):
            read_scan(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # kB: nothing was unpacked


def test_fuzz_run_finds_no_crash_no_hang_and_no_short_file_read_as_another_image():
    """fuzz_readers.py (beside this file), small: every reader, cut short, byte-flipped, absurd headers, renamed."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parent / "fuzz_readers.py"
    proc = subprocess.run([sys.executable, str(script), "--flips", "6"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| **all** |" in proc.stdout


@pytest.mark.parametrize("suffix", [".gwy", ".npz", ".npy", ".tif"])
def test_reading_a_large_scan_takes_at_most_twice_its_array(tmp_path, suffix):
    """Peak memory while a 1024² scan is read, and while napari's layers are made from it, over
    the size of its float64 height array (tracemalloc sees numpy's and Python's allocations)."""
    import tracemalloc

    from napari_se3afm._napari.layers import scan_layers

    z = np.random.default_rng(3).normal(size=(1024, 1024)).cumsum(axis=1)
    path = tmp_path / f"big{suffix}"
    if suffix == ".npz":
        np.savez_compressed(path, image=z, pixel_nm=2.0)
    elif suffix == ".npy":
        np.save(path, z)
    else:
        write = write_gwy_channels if suffix == ".gwy" else write_tif_channels
        write([("Height", z, "nm", (2.0, 2.0))], path)
    tracemalloc.start()
    try:
        scan = read_scan(path)
        _, read_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        layers = scan_layers(scan, "big")
        _, layers_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(scan.height_channel().data, z, rtol={".tif": 1e-6, ".gwy": 1e-12}.get(suffix, 0))
    assert layers[0][0].dtype == np.float32
    assert read_peak <= 2.05 * z.nbytes, read_peak / z.nbytes
    assert layers_peak <= 2.05 * z.nbytes, layers_peak / z.nbytes
