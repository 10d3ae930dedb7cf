"""The plugin through its real manifest: reader, writers, Reconstruct and Tip widgets, in a headless viewer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

PLUGIN = "napari-se3afm"


@pytest.fixture
def errors(monkeypatch):
    """Collect napari error notifications instead of showing them."""
    import napari.utils.notifications as notifications

    seen: list[str] = []
    monkeypatch.setattr(notifications, "show_error", lambda msg: seen.append(str(msg)))
    return seen


def test_reader_declines_what_is_not_an_afm_file(tmp_path):
    from napari_se3afm._napari.reader import get_reader

    np.save(tmp_path / "plain.npy", np.zeros((8, 8)))
    (tmp_path / "fake.gwy").write_bytes(b"not gwyddion at all")
    (tmp_path / "empty.spm").write_bytes(b"")
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "picture.tif")
    for name in ("plain.npy", "fake.gwy", "empty.spm", "picture.tif", "missing.gwy"):
        assert get_reader(str(tmp_path / name)) is None, name
    assert get_reader(str(tmp_path)) is None
    assert get_reader(None) is None


def test_reading_a_file_does_not_import_torch(real_data_dir):
    path = real_data_dir / "nanoafmr__kpg20080408.007"
    code = (
        "import sys; from napari_se3afm._napari.reader import get_reader; "
        f"layers = get_reader({str(path)!r})({str(path)!r}); "
        "assert len(layers) == 2, layers; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("name", "channels", "pixel"),
    [
        pytest.param("nanoafmr__kpg20080408.007", 2, 3.906, id="nanoscope"),
        pytest.param("scifireaders__PTO_110_Virgin0001_1.gwy", 4, 39.22, id="gwy"),
        pytest.param("nanoafmr__Park_20210916_034.tiff", 1, 9.766, id="park"),
        pytest.param("nanoafmr__AR_20211011.ibw", 4, 31.496, id="ibw"),
    ],
)
def test_open_real_files_through_the_manifest(real_data_dir, make_napari_viewer, name, channels, pixel):
    viewer = make_napari_viewer()
    layers = viewer.open(str(real_data_dir / name), plugin=PLUGIN)
    assert len(layers) == channels
    first = layers[0]
    assert first.metadata["kind"] == "height" and first.metadata["unit"] == "nm"
    assert first.visible and all(not layer.visible for layer in layers[1:])
    stem = name if name[-4] == "." and name[-3:].isdigit() else name.rsplit(".", 1)[0]  # a session number stays
    assert all(layer.name.startswith(stem + " ") for layer in layers)
    for layer in layers:
        assert layer.scale[-1] == pytest.approx(pixel, rel=1e-3)
        assert [str(u) for u in layer.units] == ["nanometer", "nanometer"]


def run_reconstruct(viewer, qtbot, layer, **settings):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Reconstruct")
    widget._image.value = layer
    for key, value in settings.items():
        getattr(widget, f"_{key}").value = value
    widget._run.clicked.emit()
    return widget


def test_reconstruct_widget_adds_result_layers_once(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "spikes")
    scan = viewer.layers["spikes sample scan"]
    widget = run_reconstruct(viewer, qtbot, scan, method="btr", level=False)
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert errors == []
    names = {layer.name for layer in viewer.layers}
    expected = {f"spikes sample scan {w}" for w in ("surface", "certainty", "tip")}
    assert expected <= names and "spikes sample scan tip 3D" not in names
    assert viewer.dims.ndim == 2  # only 2-D layers: no slider beside the scan
    certainty = viewer.layers["spikes sample scan certainty"]  # clear where the tip touched, cyan elsewhere
    assert certainty.colormap.map(np.array([1.0]))[0, 3] == 0 and certainty.colormap.map(np.array([0.0]))[0, 3] > 0.3
    surface = viewer.layers["spikes sample scan surface"]
    assert viewer.canvas.overlays.scale_bar.visible and str(surface.units[0]) == "nanometer"
    assert tuple(surface.scale) == tuple(scan.scale) and tuple(surface.contrast_limits) == tuple(scan.contrast_limits)
    # the widget hands the layer to the library unchanged: same tip as calling it directly ...
    from napari_se3afm.pipeline import reconstruct

    tip = viewer.layers["spikes sample scan tip"].data
    direct = reconstruct(np.asarray(scan.data, dtype=np.float64), tuple(scan.scale), method="btr", levelling=())
    np.testing.assert_allclose(tip, direct.tip, atol=1e-5)
    # ... and not mirrored: closer to the true asymmetric tip than to its mirror image
    true_tip = viewer.layers["spikes sample true tip"].data
    probed = true_tip > -20
    err = np.sqrt(np.mean((tip - true_tip)[probed] ** 2))
    err_mirror = np.sqrt(np.mean((tip - true_tip[::-1, ::-1])[probed[::-1, ::-1]] ** 2))
    assert err < 0.5 * err_mirror
    count = len(viewer.layers)
    widget._run.clicked.emit()  # a repeated run replaces its layers
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert len(viewer.layers) == count
    widget._level.value = True  # levelled: the levelled scan joins, sharing the surface's contrast
    widget._run.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    levelled = viewer.layers["spikes sample scan levelled"]
    assert tuple(levelled.contrast_limits) == tuple(viewer.layers["spikes sample scan surface"].contrast_limits)
    assert levelled.metadata["levelling"] == ["plane", "scars", "zero-min"] and len(viewer.layers) == count + 1
    status = widget._status.value
    assert status.startswith("done in ") and ": btr on cpu, tip 31 px, noise threshold " in status
    assert status.endswith(" nm (1 σ)")  # the bound at one σ is informative on spikes
    widget._volume.value = True  # asked for: the tip as a volume layer too, at its voxel size
    widget._run.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    tip3d = viewer.layers["spikes sample scan tip 3D"]
    assert tip3d.data.shape == (32, 32, 32) and tip3d.rendering == "iso"
    np.testing.assert_allclose(tip3d.scale, tip3d.metadata["voxel_nm"])


def test_reconstruct_with_a_tip_layer_uses_that_tip_as_it_is(make_napari_viewer, qtbot, tmp_path, errors):
    from napari_se3afm.image.morphology import erode

    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "spikes")
    scan = viewer.layers["spikes sample scan"]
    widget = run_reconstruct(viewer, qtbot, scan, method="known-tip", level=False)  # no tip layer yet
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=10_000)
    assert "choose the tip layer" in errors[0] and not widget._tip_nm.enabled and widget._tip.enabled
    widget._method.value = "btr"
    widget._run.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    tip = viewer.layers["spikes sample scan tip"]
    assert widget._tip.choices == (None, tip)  # the new tip layer is offered
    estimated = np.asarray(tip.metadata["tip"])
    widget._method.value = "known-tip"
    widget._tip.value = tip
    widget._run.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert len(errors) == 1 and ": the tip 'spikes sample scan tip' on cpu" in widget._status.value
    surface = viewer.layers["spikes sample scan surface"]
    expected = erode(np.asarray(scan.data, dtype=np.float64), estimated)
    np.testing.assert_allclose(surface.data, expected, atol=1e-3)
    assert surface.metadata["method"] == "known-tip"
    # a tip exported as .npz opens as a tip layer, offered at once
    from napari_se3afm.io.writers import write_tip

    write_tip(estimated[::-1].copy(), tip.metadata["pixel_nm"], tmp_path / "session_tip_1.npz")
    (opened,) = viewer.open(str(tmp_path / "session_tip_1.npz"), plugin=PLUGIN)
    assert opened.name == "session_tip_1" and opened.metadata["kind"] == "tip"
    np.testing.assert_array_equal(opened.metadata["tip"], estimated[::-1])
    assert set(widget._tip.choices) == {None, opened, tip}


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A one-step tiny model exported as se3afm-v1 (the plugin's default name)."""
    pytest.importorskip("e3nn")
    from napari_se3afm.lab.export import export_model
    from napari_se3afm.lab.training import TrainConfig, train
    from synthetic import TINY_MODEL, TINY_SIMTIP

    root = tmp_path_factory.mktemp("tiny-model")
    train(
        TrainConfig(model=TINY_MODEL, simtip=TINY_SIMTIP, steps=1, batch_size=1, validation_size=1),
        root / "run",
    )
    export_model(root / "run", root / "models", "se3afm-v1")
    return root / "models"


def test_reconstruct_with_the_model_adds_uncertainty(tiny_model_dir, make_napari_viewer, qtbot, monkeypatch, errors):
    monkeypatch.setenv("SE3AFM_MODEL_DIR", str(tiny_model_dir))
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "spikes")
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Reconstruct")
    assert widget._method.value == "model" and widget._mc_samples.enabled  # the default once weights exist
    assert widget._consistency.enabled and widget._consistency.value == "image"
    widget._image.value = viewer.layers["spikes sample scan"]
    widget._mc_samples.value = 3
    widget._consistency.value = "tip"
    widget._run.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert errors == []
    sigma = viewer.layers["spikes sample scan uncertainty σ"]
    assert sigma.data.shape == (128, 128) and sigma.data.mean() > 0 and sigma.colormap.name == "magma"
    assert viewer.layers["spikes sample scan surface"].metadata["info"]["consistency"] == "tip"
    assert sigma.colorbar.visible and ": se3afm-v1 (3 MC) on cpu" in widget._status.value
    title = viewer.canvas.overlays.text  # the bar's title and unit, shown while a σ map is
    assert not title.visible and title.text == "σ (nm)"  # the σ map is added hidden
    sigma.visible = True
    assert title.visible and title.position == sigma.colorbar.position
    sigma.visible = False
    assert not title.visible
    from napari_se3afm._napari.display import put_layers

    hooks = len(sigma.events.visible.callbacks), len(viewer.layers.events.removed.callbacks)
    put_layers(viewer, [(sigma.data, {"name": sigma.name, "metadata": sigma.metadata}, "image")])  # a rerun
    assert (len(sigma.events.visible.callbacks), len(viewer.layers.events.removed.callbacks)) == hooks
    # the Tip panel shows the tip coloured by its σ, under the blind bound as a wireframe
    _, tipw = viewer.window.add_plugin_dock_widget(PLUGIN, "Tip")
    tipw._tip.value = viewer.layers["spikes sample scan tip"]
    shown = {layer.name: layer for layer in tipw._view.model.layers}
    assert set(shown) == {"tip, colour: σ (nm)", "blind (BTR) bound"}
    assert shown["blind (BTR) bound"].wireframe.visible and shown["tip, colour: σ (nm)"].colorbar.visible
    tip_info = viewer.layers["spikes sample scan tip"].metadata
    radius = tip_info["descriptors"]["apex_radius_nm"]
    expected = "apex radius ≤ 2 nm (under a pixel: not resolved)" if radius < 2.0 else f"apex radius {radius:.3g} ± "
    assert expected in tipw._descriptors.value  # 2 nm pixels: a sharper apex is only an upper limit
    assert "widens 1 / 2 / 5 / 10 nm features" in tipw._descriptors.value.splitlines()  # a line of its own
    widget._method.value = "btr"
    assert not widget._consistency.enabled  # the classical methods are consistent by construction
    widget.restore_defaults()
    assert widget._consistency.value == "image" and widget._mc_samples.value == 16


def test_finetune_widget_shows_the_loss_and_can_revert(tiny_model_dir, make_napari_viewer, qtbot, monkeypatch, errors):
    monkeypatch.setenv("SE3AFM_MODEL_DIR", str(tiny_model_dir))
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "simtip")
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Fine-tune")
    widget._image.value = viewer.layers["SimTip sample scan"]
    widget._steps.value, widget._learning_rate.value, widget._mc_samples.value = 12, 0.01, 2
    widget._adapt.value = "all"  # the tiny test model's tip is saturated: only the whole model can move
    assert widget._consistency.value == "image"  # the same default as the Reconstruct panel
    widget._consistency.value = "tip"
    widget._run.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert errors == []
    assert viewer.layers["SimTip sample scan surface (fine-tuned)"].metadata["info"]["consistency"] == "tip"
    losses = widget.curve.losses
    assert len(losses) == 12 and losses[-1] < losses[0]  # the live curve got every step, and it fell
    tuned = [layer.name for layer in viewer.layers if layer.name.endswith("(fine-tuned)")]
    assert "SimTip sample scan surface (fine-tuned)" in tuned
    widget._revert.clicked.emit()
    assert not any(layer.name.endswith("(fine-tuned)") for layer in viewer.layers)
    assert [layer.name for layer in viewer.layers][:3] == [
        "SimTip sample scan",
        "SimTip sample true surface",
        "SimTip sample true tip",
    ]  # nothing else lost
    widget._steps.value = 100000
    widget._run.clicked.emit()
    qtbot.waitUntil(lambda: len(widget.curve.losses) >= 2, timeout=60_000)
    widget._run.clicked.emit()  # Cancel
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert widget._status.value == "cancelled"
    assert not any(layer.name.endswith("(fine-tuned)") for layer in viewer.layers)


def test_finetune_without_weights_says_so(make_napari_viewer, monkeypatch, tmp_path, errors):
    monkeypatch.setenv("SE3AFM_MODEL_DIR", str(tmp_path))
    monkeypatch.setattr("napari_se3afm.nn.registry._search_dirs", lambda: [tmp_path])
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "spikes")
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Fine-tune")
    widget._image.value = viewer.layers["spikes sample scan"]
    widget._run.clicked.emit()
    assert len(errors) == 1 and "se3afm lab train" in errors[0] and widget.worker is None


def test_reconstruct_can_be_cancelled(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "spikes")
    widget = run_reconstruct(viewer, qtbot, viewer.layers["spikes sample scan"], method="dbtr", steps=5000)
    qtbot.waitUntil(lambda: widget._progress.value > 0 and "differentiable" in widget._status.value, timeout=60_000)
    widget._run.clicked.emit()  # now the Cancel button
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30_000)
    assert widget._status.value == "cancelled"
    assert "spikes sample scan surface" not in viewer.layers
    assert widget._run.text == "Reconstruct"


def test_reconstruct_reports_bad_choices(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Reconstruct")
    widget._run.clicked.emit()  # no layer at all
    layer = viewer.add_image(np.zeros((4, 16, 16)), name="stack")
    widget._image.value = layer
    widget._run.clicked.emit()
    small = viewer.add_image(np.zeros((5, 5)), name="tiny")
    widget._image.value = small
    widget._run.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None and len(errors) == 3, timeout=30_000)
    assert "open a scan" in errors[0] and "not a 2-D height map" in errors[1] and "too small" in errors[2]
    assert [layer.name for layer in viewer.layers] == ["stack", "tiny"]  # nothing lost, nothing added


def test_tip_widget_shows_the_tip_in_its_own_view_and_exports(make_napari_viewer, qtbot, tmp_path, errors):
    from napari_se3afm.io.writers import read_tip_volume
    from napari_se3afm.tip import tip_to_volume

    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "spikes")
    _, tipw = viewer.window.add_plugin_dock_widget(PLUGIN, "Tip")
    assert tipw._descriptors.value.startswith("reconstruct a scan") and len(tipw._view.model.layers) == 0
    overlays = tipw._view.model.canvas.overlays  # before any tip: what to do, and no unitless scale bar
    assert overlays.text.visible and overlays.text.text.startswith("no tip yet") and not overlays.scale_bar.visible
    camera = (tuple(viewer.scene.camera.center), viewer.scene.camera.zoom, viewer.dims.ndisplay)
    widget = run_reconstruct(viewer, qtbot, viewer.layers["spikes sample scan"], method="btr", level=False)
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    tip_layer = viewer.layers["spikes sample scan tip"]
    assert tipw._tip.value is tip_layer  # the panel follows the newest reconstruction
    assert tipw._descriptors.value.startswith("apex radius ") and "half angle" in tipw._descriptors.value
    (surface,) = tipw._view.model.layers  # classical BTR: no σ, no separate bound
    vertices = surface.data[0]
    assert vertices[:, 1].min() == 0 and np.isclose(vertices[:, 1].max(), -tip_layer.data.min())  # depth, apex on top
    assert tipw._view.model.dims.ndisplay == 3
    assert not overlays.text.visible and overlays.scale_bar.visible and not overlays.scale_bar.box
    assert not tipw._view.model.scene.overlays.axes.visible  # no axis labels over the apex
    assert (tuple(viewer.scene.camera.center), viewer.scene.camera.zoom, viewer.dims.ndisplay) == camera
    tipw._path.value = tmp_path / "tip"
    tipw._buttons[".vti"].clicked.emit()
    expected = tip_to_volume(tip_layer.metadata["tip"], tuple(tip_layer.metadata["pixel_nm"]))
    np.testing.assert_allclose(read_tip_volume(tmp_path / "tip.vti").data, expected.data, atol=1e-6)
    tipw._buttons[".vti"].clicked.emit()  # exists: refused unless asked
    assert len(errors) == 1 and "exists" in errors[0]
    tipw._overwrite.value = True
    for fmt in (".stl", ".ply", ".npy"):
        tipw._buttons[fmt].clicked.emit()
        assert (tmp_path / f"tip{fmt}").stat().st_size > 0
    np.testing.assert_allclose(np.load(tmp_path / "tip.npy"), expected.data, atol=1e-6)
    tipw._buttons[".npz"].clicked.emit()  # the height map itself, as the Reconstruct panel uses it
    from napari_se3afm.io.tip_files import read_tip

    np.testing.assert_array_equal(read_tip(tmp_path / "tip.npz")[0], tip_layer.metadata["tip"])
    assert len(errors) == 1


def test_writers_round_trip_through_the_core_reader(real_data_dir, make_napari_viewer, tmp_path):
    from napari_se3afm.io import read_scan

    viewer = make_napari_viewer()
    layers = viewer.open(str(real_data_dir / "scifireaders__PTO_110_Virgin0001_1.gwy"), plugin=PLUGIN)
    height, amplitude = layers[0], layers[1]
    for suffix in (".gwy", ".tif"):
        path = tmp_path / f"saved{suffix}"
        viewer.layers.selection = {height, amplitude}
        viewer.layers.save(str(path), selected=True, plugin=PLUGIN)
        scan = read_scan(path)
        assert [c.name for c in scan.channels] == [height.name, amplitude.name]
        np.testing.assert_allclose(scan.channels[0].data, height.data, rtol=1e-6, atol=1e-6)
        assert scan.pixel_nm == pytest.approx(tuple(height.scale), rel=1e-6)


def test_screenshot_script_in_a_real_window(make_napari_viewer, tmp_path):
    import importlib.util
    from pathlib import Path

    from PIL import Image

    script = Path(__file__).resolve().parents[2] / "scripts" / "make_screenshots.py"
    spec = importlib.util.spec_from_file_location("make_screenshots", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    viewer = make_napari_viewer(show=True)
    paths = module.make_screenshots(viewer, tmp_path)
    names = [p.name for p in paths]
    assert names[:2] == ["napari_scan.png", "napari_reconstruct.png"] and names[-1] == "napari_tip3d.png"
    # the σ map is shown exactly when the default method is the model (default weights installed)
    from napari_se3afm._napari.reconstruct_widget import default_method

    assert ("napari_uncertainty.png" in names) == (default_method() == "model")
    for p in paths:
        pixels = np.asarray(Image.open(p).convert("L"), dtype=float)
        assert pixels.shape[0] > 400 and pixels.std() > 10  # a real rendering, not a black frame


def test_wear_panel_tracks_open_scans_plots_them_and_shows_a_picked_tip(make_napari_viewer, qtbot, tmp_path, errors):
    pytest.importorskip("e3nn")
    from napari_se3afm.lab.cases import worn_tip_session

    viewer = make_napari_viewer()
    session = worn_tip_session()[:3]
    layers = [
        viewer.add_image(s["image"], name=f"scan {i}", scale=(s["pixel_nm"],) * 2, metadata={"kind": "height"})
        for i, s in enumerate(session)
    ]
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Tip wear")
    from matplotlib.colors import to_hex
    from napari.utils.theme import get_theme

    # before any run: a note in place of the plot, on napari's background, not a white box
    assert "appear here" in widget.figure.texts[0].get_text()
    assert to_hex(widget.figure.get_facecolor()) == get_theme(viewer.theme).background.as_hex()
    widget._run.clicked.emit()  # nothing chosen: said, nothing runs
    assert len(errors) == 1 and "two or more" in errors[0] and widget.worker is None
    widget._scans.value = layers
    widget._mc_samples.value = 4
    statuses: list[str] = []
    widget._status.changed.connect(statuses.append)
    widget._run.clicked.emit()
    assert widget._run.text == "Cancel"
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)
    assert len(errors) == 1 and widget._status.value.startswith("done in ") and "3 scans" in widget._status.value
    assert [s.source for s in widget.track.states] == ["scan 0", "scan 1", "scan 2"]
    assert "\nsession tip 1: scans 1–3, under the bound of all 3: apex radius" in widget._status.value
    session = viewer.layers["tip wear: session tip 1"]  # one run of scans, no change: one session tip
    np.testing.assert_array_equal(session.metadata["tip"], widget.track.sessions[0].tip)
    assert len(widget.figure.axes) == 4 and len(widget.figure.axes[0].lines) >= 1  # the plot is drawn
    widget.canvas.draw()
    assert widget.figure.axes[-1].yaxis.get_offset_text().get_text() == ""  # no "1e8" over the volume axis
    assert all(status.count(" s left") <= 1 for status in statuses)  # one estimate of the time left, never two
    _, tipw = viewer.window.add_plugin_dock_widget(PLUGIN, "Tip")
    widget.pick(2)
    assert widget._picked.value.startswith("3: scan 2, apex radius ")
    assert viewer.layers.selection == {layers[2]} and not layers[0].visible and layers[2].visible
    np.testing.assert_array_equal(viewer.layers["tip wear: tip of scan 3"].metadata["tip"], widget.track.states[2].tip)
    assert tipw._tip.value is viewer.layers["tip wear: tip of scan 3"] and len(tipw._view.model.layers) == 1
    widget.pick(0)  # one picked tip at a time
    picked = [layer.name for layer in viewer.layers if layer.name.startswith("tip wear: tip of scan")]
    assert picked == ["tip wear: tip of scan 1"] and "tip wear: session tip 1" in viewer.layers
    assert viewer.dims.ndim == 2
    widget._report.value = tmp_path / "report"
    paths = widget.save_report()
    assert [p.name for p in paths] == ["tip_wear.csv", "tip_wear.png", "tip_wear.npz"]


def test_every_panel_docked_together_fits_a_laptop_screen(make_napari_viewer):
    """Reconstruct, Fine-tune, Tip and Tip wear docked at once: the window still fits 1366×768 (each panel
    scrolls inside its dock), and every panel is narrow enough to leave the canvas most of the width."""
    viewer = make_napari_viewer(show=True)
    for name in ("Reconstruct", "Fine-tune", "Tip", "Tip wear"):
        dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
        assert dock.widget() is widget.native  # the scroll area is what is docked
        assert widget.content.minimumSizeHint().width() <= 560, name
    window = viewer.window._qt_window
    viewer.window.resize(1366, 768)
    assert window.minimumSizeHint().height() <= 768 and window.minimumSizeHint().width() <= 1366
    assert window.size().height() == 768


def test_long_work_shows_an_estimate_of_the_time_left():
    from napari_se3afm.progress import time_left as _time_left

    assert _time_left(0.25, 10.0) == ", about 30 s left"  # a quarter done in 10 s: 30 s to go
    assert _time_left(0.5, 1.0) == "" and _time_left(0.01, 10.0) == "" and _time_left(1.0, 10.0) == ""


def test_scans_open_levelled_by_a_plane_and_reconstruct_as_from_the_file(real_data_dir):
    """A raw Bruker scan is tilted (a plane spanning 385 nm beside 534 nm of features); its height layer
    opens levelled by the median-slope plane (recorded in its metadata), and reconstructing the layer
    gives what reconstructing the file gives."""
    from napari_se3afm._napari.reader import get_reader
    from napari_se3afm.io import read_height_map
    from napari_se3afm.pipeline import reconstruct

    path = str(real_data_dir / "topostats__old_bruker.002")
    data, meta, _ = get_reader(path)(path)[0]
    raw = read_height_map(path)

    def slopes(z):  # median slopes over half the image, nm per pixel
        h = z.shape[0] // 2
        return np.median(z[h:] - z[:-h]) / h, np.median(z[:, h:] - z[:, :-h]) / h

    assert max(abs(s) for s in slopes(raw.height)) > 1  # the file's tilt, nm per pixel
    assert max(abs(s) for s in slopes(data.astype(float))) < 1e-4 and meta["metadata"]["levelling"] == ["plane"]
    from_file = reconstruct(raw.height, raw.pixel_nm, method="btr")
    from_layer = reconstruct(data.astype(np.float64), tuple(meta["scale"]), method="btr")
    np.testing.assert_allclose(from_layer.tip, from_file.tip, atol=1e-2)
    np.testing.assert_allclose(
        from_layer.surface - from_layer.surface.mean(), from_file.surface - from_file.surface.mean(), atol=1e-2
    )
