"""Nothing lost, nothing crashes: inputs never written over, counts and sizes bounded, one line and
status 2 for every mistake, and a run's outputs all there or none of them after an interruption."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from napari_se3afm.cli import main
from napari_se3afm.errors import AfmFileError
from napari_se3afm.io import read_scan
from napari_se3afm.io.atomic import atomic_write, output_set

BTR = ["--method", "btr", "-q"]


@pytest.fixture
def small(tmp_path, rng) -> Path:
    path = tmp_path / "small.npz"
    yy, xx = np.mgrid[:48, :48]
    np.savez(path, image=10 * np.sin(xx / 3.0) * np.cos(yy / 4.0) + rng.normal(0, 0.1, (48, 48)), pixel_nm=2.0)
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_result_is_never_written_over_its_input(small, capsys):
    before = _digest(small)
    for extra in ([], ["--overwrite"]):
        assert main(["reconstruct", str(small), "-o", str(small.parent), *BTR, *extra]) == 2
        assert "never written over its input" in _one_line(capsys)
        assert _digest(small) == before
    link = small.parent / "out"
    link.mkdir()
    os.link(small, link / "small.npz")  # the same file under another name
    assert main(["reconstruct", str(small), "-o", str(link), *BTR, "--overwrite"]) == 2
    assert "never written over its input" in _one_line(capsys)
    assert _digest(small) == before


@pytest.mark.parametrize(
    "option, message",
    [
        (["--mc-samples", "1000000000"], "--mc-samples must be a whole number from 2 to 1,024"),
        (["--finetune-steps", "99999999"], "--finetune-steps must be a whole number from 0 to 100,000"),
        (["--method", "dbtr", "--steps", "10000000000"], "--steps must be a whole number from 0 to 100,000"),
        (["--pixel-nm", "1e308"], "outside 1 pm to 1 mm"),
        (["--pixel-nm", "1e-30"], "outside 1 pm to 1 mm"),
        (["--device", ""], "unknown device ''"),
    ],
)
def test_absurd_options_are_refused_at_once(small, tmp_path, capsys, option, message):
    assert _status(["reconstruct", str(small), "-o", str(tmp_path / "o"), *option, "-q"]) == 2  # before any work
    assert message in _one_line(capsys)
    assert not (tmp_path / "o" / "small.npz").exists()


def _status(argv: list[str]) -> int:
    """``main``'s status, argparse's refusals (SystemExit) included."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code)


def test_a_model_without_its_description_is_named(small, tmp_path, capsys):
    from napari_se3afm.nn.registry import find_model

    weights = tmp_path / "mine.safetensors"
    weights.write_bytes(find_model().read_bytes())
    assert main(["reconstruct", str(small), "-o", str(tmp_path / "o"), "--model", str(weights), "-q"]) == 2
    assert "has no description mine.json beside it" in _one_line(capsys)


def test_an_output_folder_that_cannot_be_written_is_refused_before_the_work(small, tmp_path, capsys):
    if os.geteuid() == 0:
        target = Path("/sys/kernel")  # root passes os.access everywhere; sysfs still refuses new files
        if not target.is_dir():
            pytest.skip("no /sys/kernel to try")
    else:
        target = tmp_path / "locked"
        target.mkdir()
        target.chmod(0o500)
    assert main(["reconstruct", str(small), "-o", str(target), *BTR]) == 2
    assert "cannot write into the output folder" in _one_line(capsys)


@pytest.mark.parametrize("value", [1e300, -1e308, np.inf])
def test_absurd_heights_are_refused_at_read_time_everywhere(tmp_path, capsys, value):
    z = np.random.default_rng(0).random((32, 32))
    z[3, 4] = value
    path = tmp_path / "absurd.npy"
    np.save(path, z)
    with pytest.raises(AfmFileError, match=r"no AFM scan records|infinite"):
        read_scan(path)
    from napari_se3afm._napari.reader import read_afm

    with pytest.raises(AfmFileError):
        read_afm(str(path))  # napari never gets a layer of inf
    assert main(["info", str(path)]) == 2
    _one_line(capsys)
    assert main(["reconstruct", str(path), "--pixel-nm", "1", "-o", str(tmp_path / "o"), *BTR]) == 2
    _one_line(capsys)  # no overflow warning before the error


@pytest.mark.parametrize("x_real_m", ["1e-300", "1e300", "nan"])
def test_absurd_pixel_sizes_in_a_file_are_refused(tmp_path, x_real_m):
    """A Gwyddion Simple Field file, read through Gwyddion: what comes back from it is checked too."""
    if not Path("/usr/bin/gwyddion").exists():
        pytest.skip("Gwyddion is not installed")
    header = (
        f"Gwyddion Simple Field 1.0\nXRes = 16\nYRes = 16\nXReal = {x_real_m}\nYReal = 1.6e-08\n"
        "XYUnits = m\nZUnits = m\nTitle = Topography\n"
    ).encode()
    path = tmp_path / "scan.gsf"
    path.write_bytes(
        header
        + b"\0" * (4 - len(header) % 4)
        + (np.random.default_rng(1).random((16, 16)) * 1e-9).astype("<f4").tobytes()
    )
    with pytest.raises(AfmFileError, match="pixel size") as err:
        read_scan(path)
    assert str(err.value).startswith(f"{path}: ")


def test_a_device_file_is_not_called_empty(tmp_path):
    link = tmp_path / "zero.npy"
    link.symlink_to("/dev/zero")
    with pytest.raises(AfmFileError, match="not a regular file"):
        read_scan(link)


def test_an_output_set_is_named_together_or_not_at_all(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    with pytest.raises(RuntimeError), output_set():
        atomic_write(a, lambda tmp: tmp.write_text("a"))
        assert not a.exists()  # not named before the set is whole
        atomic_write(b, lambda tmp: tmp.write_text("b"))
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no file, no temporary file
    b.write_text("there already")
    with pytest.raises(FileExistsError), output_set():
        atomic_write(a, lambda tmp: tmp.write_text("a"))
        atomic_write(tmp_path / "c.txt", lambda tmp: tmp.write_text("c"))
        b.unlink()
        b.write_text("appeared meanwhile")  # another process took the name: the set cannot be whole
        atomic_write(b, lambda tmp: tmp.write_text("b"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt"] and b.read_text() == "appeared meanwhile"


def _run_and_terminate(args: list[str], delay_s: float) -> tuple[int, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", "from napari_se3afm.cli import entry_point; entry_point()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay_s)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def test_sigterm_at_any_moment_leaves_all_outputs_or_none_and_one_line(real_data_dir, tmp_path):
    """SIGTERM sent at moments spread over a BTR run with three outputs (the .vti written by VTK)."""
    scan = real_data_dir / "topostats__old_bruker.002"
    outcomes = set()
    for i, delay in enumerate((0.5, 1.5, 2.0, 2.5, 3.0, 3.5, 4.5)):
        out = tmp_path / f"o{i}"
        status, err = _run_and_terminate(
            ["reconstruct", str(scan), "-o", str(out), "--method", "btr", "--gwy", "--tip-file", "vti", "-q"], delay
        )
        names = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
        assert names in (
            [],
            ["topostats__old_bruker.002.gwy", "topostats__old_bruker.002.npz", "topostats__old_bruker.002_tip.vti"],
        )
        if status == 143:
            assert err.strip() == "se3afm: terminated" and names == []
        else:
            assert status == 0 and len(names) == 3
        outcomes.add(status)
    assert 143 in outcomes  # the moments did reach into the run


def test_the_cli_fuzz_run_finds_no_defect():
    """bench/fuzz_cli.py --quick: every option with absurd values, every bad output place, Gwyddion's
    fallback with absurd sizes; one line and status 2 or a correct run, inputs unchanged."""
    script = Path(__file__).resolve().parents[1] / "bench" / "fuzz_cli.py"
    proc = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| options | 78 |" in proc.stdout and "DEFECT" not in proc.stdout


def test_a_scan_too_large_for_the_memory_is_refused_at_once_with_what_it_needs(tmp_path, monkeypatch, capsys):
    """On a machine with 2 GB available a 1024² scan through the model (1.8 GB measured) is refused
    before any model is loaded, in one line naming its size, the memory it needs and what would fit;
    the same scan through classical BTR (about 0.4 GB) runs."""
    from napari_se3afm import resources
    from napari_se3afm.nn import registry
    from napari_se3afm.pipeline import reconstruct

    monkeypatch.setattr(resources, "available_bytes", lambda: 2_000_000_000)
    monkeypatch.setattr(registry, "open_model", lambda *a, **k: pytest.fail("the model was loaded"))
    image = np.random.default_rng(0).normal(0.0, 1.0, (1024, 1024))
    with pytest.raises(resources.MemoryBudgetError, match=r"1024 x 1024 px scan needs about 2\.\d GB"):
        reconstruct(image, 1.0, method="model")
    path = tmp_path / "big.npy"
    np.save(path, image)
    assert main(["reconstruct", str(path), "--pixel-nm", "1", "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2.0 GB available" in err[0] and "method btr (about 0.4 GB)" in err[0]
    assert resources.needed_bytes((1024, 1024), "btr") < 0.9 * 2_000_000_000  # what the hint offers fits
