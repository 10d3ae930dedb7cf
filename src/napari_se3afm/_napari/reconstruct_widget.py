"""The Reconstruct dock widget: pick a scan layer and a method, run in a worker thread, show the results.

It only gathers parameters, starts :func:`napari_se3afm.pipeline.iter_reconstruct` in a napari worker
(progress bar, Cancel), and turns the returned :class:`~napari_se3afm.results.Reconstruction` into
layers named after the scan, replacing those of an earlier run instead of adding copies. Errors end
as napari notifications; layers already shown are never touched by a failed run.
"""

from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, ProgressBar, PushButton, SpinBox, create_widget

if TYPE_CHECKING:
    import napari

METHOD_CHOICES = [("pretrained SE(3) model", "model"), ("classical BTR", "btr"),
                  ("classical BTR, all points", "btr-full"), ("differentiable BTR", "dbtr")]
DEFAULTS = {"tip_nm": 0.0, "mc_samples": 16, "device": "auto", "level": True, "steps": 200}


def default_method() -> str:
    """The pretrained model when its weights are installed, else classical BTR."""
    from ..errors import Se3afmError
    from ..registry import find_model

    try:
        find_model()
    except Se3afmError:
        return "btr"
    return "model"


def put_layers(viewer: "napari.viewer.Viewer", layer_data: list[tuple]) -> list:
    """Add each ``(data, kwargs, type)``, or update the layer of the same name in place."""
    out = []
    for data, kwargs, kind in layer_data:
        name = kwargs["name"]
        if name in viewer.layers:
            layer = viewer.layers[name]
            layer.data = data
            for key in ("scale", "contrast_limits", "metadata", "colormap"):
                if key in kwargs:
                    setattr(layer, key, kwargs[key])
        else:
            layer = getattr(viewer, f"add_{kind}")(data, **kwargs)
        out.append(layer)
    return out


class ReconstructWidget(Container):
    """Estimate the tip and the true surface of the chosen scan layer."""

    def __init__(self, viewer: "napari.viewer.Viewer"):
        super().__init__(labels=True)
        self._viewer = viewer
        self._image = create_widget(annotation="napari.layers.Image", label="scan")
        self._method = ComboBox(label="method", choices=METHOD_CHOICES, value=default_method())
        self._tip_nm = FloatSpinBox(label="tip size (nm)", min=0.0, max=1e5, step=5.0, value=DEFAULTS["tip_nm"],
                                    tooltip="tip window in nm; 0 = automatic (31 px or what fits)")
        self._steps = SpinBox(label="dBTR steps", min=1, max=10000, value=DEFAULTS["steps"])
        self._mc_samples = SpinBox(label="MC samples", min=2, max=256, value=DEFAULTS["mc_samples"],
                                   tooltip="Monte-Carlo dropout samples of the pretrained model (σ maps)")
        self._device = ComboBox(label="device", choices=["auto", "cpu", "cuda"], value=DEFAULTS["device"])
        self._device_used = Label(label="running on", value="-")
        self._level = CheckBox(text="level the scan first (robust plane)", value=DEFAULTS["level"])
        self._run = PushButton(text="Reconstruct")
        self._restore = PushButton(text="Restore defaults")
        self._progress = ProgressBar(label="progress", min=0, max=100, value=0)
        self._status = Label(label="status", value="")
        self.extend([self._image, self._method, self._tip_nm, self._steps, self._mc_samples, self._device,
                     self._device_used, self._level, self._run, self._restore, self._progress, self._status])
        self._worker = None
        self._cancelling = False
        self._run.changed.connect(self._on_run)
        self._restore.changed.connect(self.restore_defaults)
        self._method.changed.connect(self._sync_enabled)
        self._sync_enabled()

    def restore_defaults(self) -> None:
        """Put every parameter back to its default."""
        self._method.value = default_method()
        self._tip_nm.value = DEFAULTS["tip_nm"]
        self._steps.value = DEFAULTS["steps"]
        self._device.value = DEFAULTS["device"]
        self._level.value = DEFAULTS["level"]

    def _sync_enabled(self, *_) -> None:
        self._steps.enabled = self._method.value == "dbtr"
        self._mc_samples.enabled = self._method.value == "model"
        self._tip_nm.enabled = self._method.value != "model"  # the model has its own tip window

    @property
    def worker(self):
        """The running worker, or None."""
        return self._worker

    def _on_run(self, *_) -> None:
        from napari.utils.notifications import show_error

        if self._worker is not None:
            self._cancelling = True
            self._status.value = "cancelling…"
            self._worker.quit()
            return
        layer = self._image.value
        if layer is None:
            show_error("Reconstruct: open a scan first and choose it as 'scan'")
            return
        if layer.data.ndim != 2 or layer.rgb:
            show_error(f"Reconstruct: layer {layer.name!r} is not a 2-D height map")
            return
        try:
            self._start(layer)
        except Exception as exc:  # bad parameters are reported, never raised into Qt
            show_error(f"Reconstruct: {exc}")

    def _start(self, layer) -> None:
        import numpy as np
        from napari.qt.threading import create_worker

        from ..device import resolve_device
        from ..levelling import DEFAULT_STEPS
        from ..pipeline import iter_reconstruct

        device = resolve_device(self._device.value)
        self._device_used.value = str(device)
        pixel = tuple(float(v) for v in layer.scale[-2:])
        worker = create_worker(
            iter_reconstruct, np.asarray(layer.data, dtype=np.float64), pixel, method=self._method.value,
            tip_nm=(self._tip_nm.value or None) if self._method.value != "model" else None,
            steps=self._steps.value, device=str(device), mc_samples=self._mc_samples.value,
            levelling=DEFAULT_STEPS if self._level.value else (), _start_thread=False, _ignore_errors=True,
        )
        name, limits = layer.name, tuple(layer.contrast_limits)
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(lambda result: self._on_result(result, name, limits))
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self._run.text = "Cancel"
        self._progress.value = 0
        self._status.value = f"reconstructing {name}…"
        worker.start()

    def _on_progress(self, report) -> None:
        if self._cancelling:
            return
        self._progress.value = int(round(100 * report.fraction))
        loss = f" (loss {report.loss:.3g})" if report.loss is not None else ""
        self._status.value = f"{report.message}{loss}"

    def _on_result(self, result, name: str, limits: tuple[float, float]) -> None:
        from .layers import reconstruction_layers

        put_layers(self._viewer, reconstruction_layers(result, name, limits))
        self._progress.value = 100
        self._status.value = f"done: {result.method}, tip {result.tip.shape[0]} px"

    def _on_error(self, exc: Exception) -> None:
        from napari.utils.notifications import show_error

        self._status.value = "failed"
        show_error(f"Reconstruct: {exc}")

    def _on_finished(self) -> None:
        if self._cancelling:
            self._status.value = "cancelled"
        self._cancelling = False
        self._worker = None
        self._run.text = "Reconstruct"
