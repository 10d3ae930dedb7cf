"""Regenerate the napari screenshots of the user guide (docs/napari.md) in a real, shown window.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/make_screenshots.py

Each panel is shown after a run on a real scan at two window sizes: 1920×1080 (``napari_*.png``) and
a laptop's 1366×768 (``napari_*_1366.png``: Reconstruct and Tip docked together, Tip wear,
Fine-tune).

Opens a real scan from ../shared/data/real/ (the bundled spike sample when that folder is absent)
with the plugin's reader, runs the Reconstruct widget (its default method: the pretrained model when
its weights are installed, else classical BTR), and saves: docs/images/napari_scan.png (the scan as
opened), napari_reconstruct.png (recovered surface with the certainty overlay),
napari_uncertainty.png (the σ map, when the method gives one), napari_tip3d.png (the Tip panel:
the tip in 3-D in its own view, coloured by σ under the blind bound's wireframe, beside the scan)
napari_wear.png (the Tip wear panel on three crops of the scan) and napari_finetune.png (the
Fine-tune panel after a few steps on the scan: loss curve, fine-tuned surface).
With ``--model NAME`` it also opens the SimTip sample, runs that model and saves
napari_model_sigma.png: its surface beside the true one and its σ map.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real" / "topostats__old_bruker.002"
PLUGIN = "napari-se3afm"
#: window sizes and the tag each one's file names carry
SIZES = {"": (1920, 1080), "_1366": (1366, 768)}


def _wait(condition, timeout: float = 120.0) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while not condition():
        QApplication.processEvents()
        if time.monotonic() > end:
            raise TimeoutError("the reconstruction did not finish in time")
        time.sleep(0.02)


def _open_scan(viewer):
    """The real scan (the bundled spike sample when the real files are absent) as a layer."""
    if REAL.is_file():
        return viewer.open(str(REAL), plugin=PLUGIN)[0]
    return viewer.open_sample(PLUGIN, "spikes")[0]


def _settle(seconds: float = 2.0) -> None:
    """Let the canvases draw."""
    end = time.monotonic() + seconds
    _wait(lambda: time.monotonic() > end)


def make_screenshots(viewer, out: Path, size=(1920, 1080), tag: str = "") -> list[Path]:
    """Drive ``viewer`` (shown) through open → reconstruct → the Tip panel and save the screenshots
    (with a ``tag``, only the last one: both panels docked after the run)."""
    out.mkdir(parents=True, exist_ok=True)
    viewer.window.resize(*size)
    scan = _open_scan(viewer)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Reconstruct")
    _, tip_widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Tip")
    viewer.reset_view()
    paths = [out / "napari_scan.png"]
    if not tag:
        viewer.window.screenshot(str(paths[0]), canvas_only=False, flash=False)
    widget._image.value = scan
    if REAL.is_file() and widget._method.value != "model":
        widget._tip_nm.value = 700.0  # ~12 px at 58.6 nm/px: the tip, not the array's period, fits
    widget._run.clicked.emit()
    _wait(lambda: widget.worker is None)
    scan.visible = False
    viewer.layers[f"{scan.name} surface"].visible = True
    viewer.layers[f"{scan.name} certainty"].visible = True
    viewer.reset_view()
    paths.append(out / "napari_reconstruct.png")
    if not tag:
        viewer.window.screenshot(str(paths[-1]), canvas_only=False, flash=False)
    sigma_name = f"{scan.name} uncertainty σ"
    if sigma_name in viewer.layers and not tag:
        viewer.layers[f"{scan.name} certainty"].visible = False
        viewer.layers[f"{scan.name} surface"].visible = False
        viewer.layers[sigma_name].visible = True
        viewer.layers.selection = {viewer.layers[sigma_name]}
        paths.append(out / "napari_uncertainty.png")
        viewer.window.screenshot(str(paths[-1]), canvas_only=False, flash=False)
    for layer in viewer.layers:
        layer.visible = layer.name == f"{scan.name} surface"
    viewer.layers.selection = {viewer.layers[f"{scan.name} surface"]}
    tip_widget._show()  # frame the tip in the panel's final size
    _settle()
    paths.append(out / f"napari_tip3d{tag}.png")
    viewer.window.screenshot(str(paths[-1]), canvas_only=False, flash=False)
    return paths if not tag else paths[-1:]


def wear_screenshot(viewer, out: Path, size=(1920, 1080), tag: str = "") -> Path:
    """The Tip wear panel on three overlapping crops of one real scan (one tip): the plot, and the third
    crop picked (its tip joins the layers, for the Tip panel). Saves docs/images/napari_wear{tag}.png."""
    viewer.window.resize(*size)
    scan = _open_scan(viewer)
    data, scale = scan.data, tuple(scan.scale)
    n = min(data.shape) * 3 // 4
    crops = []
    for i, (dy, dx) in enumerate(((0, 0), (20, 30), (40, 10))):
        meta = {**scan.metadata, "source": f"{scan.name}, crop {i + 1}"}
        crop = data[dy : dy + n, dx : dx + n]
        crops.append(viewer.add_image(crop, name=f"crop {i + 1}", scale=scale, units=("nm", "nm"), metadata=meta))
    viewer.layers.remove(scan)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Tip wear")
    widget._scans.value = crops
    widget._run.clicked.emit()
    _wait(lambda: widget.worker is None, timeout=600)
    widget.pick(2)
    viewer.canvas.overlays.scale_bar.visible = True
    viewer.reset_view()
    _settle()
    path = out / f"napari_wear{tag}.png"
    viewer.window.screenshot(str(path), canvas_only=False, flash=False)
    return path


def model_screenshot(viewer, out: Path, model: str) -> Path:
    """The SimTip sample through ``model`` in a fresh viewer: scan, surface and σ side by side (grid)."""
    import numpy as np

    from napari_se3afm._napari.layers import reconstruction_layers
    from napari_se3afm.pipeline import reconstruct

    viewer.window.resize(1500, 900)
    scan = viewer.open_sample(PLUGIN, "simtip")[0]
    result = reconstruct(
        np.asarray(scan.data, dtype=np.float64), tuple(scan.scale), method="model", model=model, mc_samples=16
    )
    for layer in list(viewer.layers)[1:]:
        viewer.layers.remove(layer)
    for data, kwargs, kind in reconstruction_layers(result, scan.name):
        if kwargs["name"].endswith(("surface", "uncertainty σ")):  # 2-D maps only: no 3-D tip here
            getattr(viewer, f"add_{kind}")(data, **{**kwargs, "visible": True})
    from qtpy.QtWidgets import QApplication

    viewer.canvas.grid.enabled = True
    for _ in range(2):  # let the canvas take its size before framing the grid
        QApplication.processEvents()
        viewer.reset_view()
    path = out / "napari_model_sigma.png"
    viewer.window.screenshot(str(path), canvas_only=False, flash=False)
    return path


def finetune_screenshot(viewer, out: Path, size=(1920, 1080), tag: str = "", steps: int = 10) -> Path:
    """The real scan fine-tuned with the Fine-tune panel (``steps`` steps of the default model)."""
    from napari_se3afm._napari.finetune_widget import SUFFIX

    viewer.window.resize(*size)
    scan = _open_scan(viewer)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Fine-tune")
    widget._image.value = scan
    widget._steps.value = steps
    widget._run.clicked.emit()
    _wait(lambda: widget.worker is None, timeout=600)
    scan.visible = False
    viewer.layers.selection = {viewer.layers[f"{scan.name} surface{SUFFIX}"]}
    viewer.reset_view()
    _settle()
    path = out / f"napari_finetune{tag}.png"
    viewer.window.screenshot(str(path), canvas_only=False, flash=False)
    return path


def main() -> None:
    import napari

    out = ROOT / "docs" / "images"
    for tag, size in SIZES.items():
        for shoot in (make_screenshots, wear_screenshot, finetune_screenshot):
            viewer = napari.Viewer(show=True)  # a fresh window for each: default layout and camera
            written = shoot(viewer, out, size, tag)
            for path in written if isinstance(written, list) else [written]:
                print(f"wrote {path}")
            viewer.close()
    if "--model" in sys.argv:
        viewer = napari.Viewer(show=True)
        model = sys.argv[sys.argv.index("--model") + 1]
        print(f"wrote {model_screenshot(viewer, out, model)}")
        viewer.close()


if __name__ == "__main__":
    sys.exit(main())
