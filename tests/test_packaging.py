"""Packaging: the manifest is found from the installed package and shipped inside a built wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_manifest_entry_point_resolves_to_the_top_level_file():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="napari.manifest") if e.name == "napari-se3afm"]
    assert ep.value == "napari_se3afm:napari.yaml"
    import napari_se3afm

    installed = Path(napari_se3afm.__file__).parent / "napari.yaml"
    assert installed.read_text() == (ROOT / "napari.yaml").read_text()


def test_npe2_reads_and_validates_the_manifest():
    from npe2 import PluginManager, PluginManifest

    manifest = PluginManifest.from_file(ROOT / "napari.yaml")
    assert manifest.name == "napari-se3afm"
    pm = PluginManager.instance()
    pm.discover()
    found = pm.get_manifest("napari-se3afm")
    assert {c.key for c in found.contributions.sample_data} == {"spikes", "simtip"}


def test_sample_data_command_returns_layers_in_nm():
    from napari_se3afm._napari.sample_data import make_spike_sample

    layers = make_spike_sample()
    assert [layer[2] for layer in layers] == ["image", "image", "image"]
    assert layers[0][1]["scale"] == (2.0, 2.0)
    assert layers[0][0].shape == (128, 128) and layers[2][0].shape == (31, 31)


def test_built_wheel_contains_the_manifest_and_sample(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("napari_se3afm-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert zf.read("napari_se3afm/napari.yaml").decode() == (ROOT / "napari.yaml").read_text()
        assert "napari_se3afm/data/spikes_sample.npz" in names
        assert "napari_se3afm/data/simtip_sample.npz" in names
        for weights in (ROOT / "models").glob("*.safetensors"):  # shipped weights travel with their sidecar
            assert f"napari_se3afm/models/{weights.name}" in names
            assert f"napari_se3afm/models/{weights.stem}.json" in names
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        text = zf.read(entry).decode()
    # what PyPI and the napari hub show: licence, links, audience, Python versions, status
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "Project-URL: Source Code, https://" in metadata and "Project-URL: Bug Tracker, https://" in metadata
    for classifier in ("Development Status ::", "Intended Audience ::", "Operating System ::"):
        assert f"Classifier: {classifier}" in metadata
    assert "Classifier: Programming Language :: Python :: 3.11" in metadata
    assert "Provides-Extra: mesh" in metadata and "pyvista" not in metadata.split("Provides-Extra")[0]
    assert "[napari.manifest]" in text and "napari-se3afm = napari_se3afm:napari.yaml" in text
    assert "se3afm = napari_se3afm.cli:entry_point" in text


def test_readme_images_are_absolute_addresses_that_exist_in_the_repository():
    """PyPI and the napari hub show README.md away from the repository: a relative image does not load there."""
    import re

    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert images
    for address in images:
        assert address.startswith("https://raw.githubusercontent.com/napari-se3afm/napari-se3afm/main/"), address
        assert (ROOT / address.split("/main/", 1)[1]).is_file(), address


@pytest.mark.parametrize(
    ("module", "banned"),
    [
        ("napari_se3afm.pipeline", ("napari", "qtpy", "magicgui", "PyQt6", "PyQt5", "PySide6", "e3nn")),
        ("napari_se3afm.lab.simtip", ("napari", "e3nn")),
        ("napari_se3afm.lab.benchmark", ("napari", "e3nn")),
        ("napari_se3afm._napari.reader", ("torch",)),
        ("napari_se3afm.cli", ("napari", "qtpy", "magicgui", "PyQt6", "PyQt5", "PySide6")),
        ("napari_se3afm.io", ("torch", "napari")),
        ("napari_se3afm.tip", ("torch", "napari")),
        ("napari_se3afm._napari.sample_data", ("torch",)),
    ],
)
def test_import_boundaries(module, banned):
    code = (
        f"import sys, {module}; bad = sorted(m for m in sys.modules if m.split('.')[0] in {banned!r}); "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{module} imported {proc.stdout.strip()} {proc.stderr[-500:]}"


@pytest.mark.parametrize("argv", [["--help"], ["reconstruct", "--help"], ["info", "SAMPLE"]])
def test_cli_starts_without_torch(argv):
    """``se3afm --help`` and ``se3afm info`` import neither torch nor the SimTip generator: their start
    stays a fraction of a second (the figure is in docs/benchmarks.md, not asserted here)."""
    from napari_se3afm.cli import _sample_path

    argv = [str(_sample_path()) if a == "SAMPLE" else a for a in argv]
    code = (
        "import sys\nfrom napari_se3afm.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'e3nn') "
        "or m.startswith('napari_se3afm.lab.simtip.generator'))\n"
        "print('IMPORTED', ','.join(bad)); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-300:] + proc.stderr[-500:]
