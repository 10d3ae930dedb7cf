"""The Reconstruct dock widget: pick a scan layer and a method, run in a worker thread, show the results.

It only gathers parameters, starts :func:`napari_se3afm.pipeline.iter_reconstruct` in a napari worker
(progress bar, Cancel), and turns the returned :class:`~napari_se3afm.results.Reconstruction` into
layers named after the scan, replacing those of an earlier run instead of adding copies. Errors end
as napari notifications; layers already shown are never touched by a failed run.
"""

from typing import TYPE_CHECKING

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    FloatSpinBox,
    Label,
    PushButton,
    SpinBox,
    create_widget,
)

from ..nn.consistency import DEFAULT_CONSISTENCY
from ..options import KNOWN_TIP, MC_SAMPLES
from .worker_panel import CONSISTENCY_CHOICES, Job, WorkerPanel, model_choice

if TYPE_CHECKING:
    import napari

METHOD_CHOICES = [
    ("pretrained SE(3) model", "model"),
    ("classical BTR", "btr"),
    ("classical BTR, all points", "btr-full"),
    ("differentiable BTR", "dbtr"),
    ("a tip layer, as it is", KNOWN_TIP),
]
DEFAULTS = {"tip_nm": 0.0, "mc_samples": MC_SAMPLES, "device": "auto", "level": True, "steps": 200, "volume": False}


def default_method() -> str:
    """What ``"auto"`` stands for: the default model when its weights are installed, else classical BTR."""
    from ..options import choose_method

    return choose_method("auto")


def reconstruction_job(data, pixel: tuple[float, float], settings: dict, layers: dict):
    """The worker's job: resolve the device, check the options, reconstruct (yielding progress), and
    make the result's layer data (:func:`~.layers.reconstruction_layers` with ``layers``), so that
    the window's own thread only adds them. Returns ``(result, layer data)``."""
    from ..progress import Progress

    yield Progress(1, 20, "starting (torch and the model load on the first run)")
    from ..device import resolve_device
    from ..options import reconstruct_options
    from ..pipeline import iter_reconstruct
    from .layers import reconstruction_layers

    settings = dict(settings)
    device = resolve_device(settings.pop("device"))
    yield Progress(2, 20, f"checking the options (on {device})")
    options = reconstruct_options(settings.pop("method"), device=str(device), **settings)
    result = yield from iter_reconstruct(data, pixel, options)
    return result, reconstruction_layers(result, **layers)


class ReconstructWidget(WorkerPanel):
    """Estimate the tip and the true surface of the chosen scan layer."""

    title = "Reconstruct"

    def __init__(self, viewer: "napari.viewer.Viewer"):
        super().__init__()
        self._viewer = viewer
        viewer.canvas.overlays.scale_bar.visible = True  # scans and results carry nm
        self._image = create_widget(annotation="napari.layers.Image", label="scan")
        self._method = ComboBox(label="method", choices=METHOD_CHOICES, value=default_method())
        self._tip_nm = FloatSpinBox(
            label="tip size (nm)",
            min=0.0,
            max=1e5,
            step=5.0,
            value=DEFAULTS["tip_nm"],
            tooltip="tip window in nm; 0 = automatic (31 px or what fits)",
        )
        self._steps = SpinBox(label="dBTR steps", min=1, max=10000, value=DEFAULTS["steps"])
        self._tip = ComboBox(
            label="tip layer",
            choices=self._tip_layers,
            nullable=True,
            tooltip="a tip to use as it is (a reconstruction's tip, a session tip of the Tip wear panel): "
            "the surface is the scan eroded by it",
        )
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(lambda *_: self._tip.reset_choices())
        self._mc_samples = SpinBox(
            label="MC samples",
            min=2,
            max=256,
            value=DEFAULTS["mc_samples"],
            tooltip="Monte-Carlo dropout samples of the pretrained model (σ maps)",
        )
        self._model = model_choice()
        self._consistency = ComboBox(
            label="consistency",
            choices=CONSISTENCY_CHOICES,
            value=DEFAULT_CONSISTENCY,
            tooltip="how the model's tip and surface are held to the scan "
            "(docs/model.md, 'Consistency with the image')",
        )
        self._device = ComboBox(label="device", choices=["auto", "cpu", "cuda"], value=DEFAULTS["device"])
        self._device_used = Label(label="running on", value="-")
        self._device_used.native.setMinimumWidth(120)  # "cuda:0" in full once it has run, not its first letter
        self._level = CheckBox(text="level the scan first (robust plane, scars filled)", value=DEFAULTS["level"])
        self._volume = CheckBox(
            text="add the tip as a 3-D volume layer",
            value=DEFAULTS["volume"],
            tooltip="the Tip panel shows the tip in 3-D in a view of its own; a volume layer here adds a "
            "third dimension (and its slider) to this viewer",
        )
        self._restore = PushButton(text="Restore defaults")
        self.extend(
            [
                self._image,
                self._method,
                self._model,
                self._tip,
                self._tip_nm,
                self._steps,
                self._mc_samples,
                self._consistency,
                self._device,
                self._device_used,
                self._level,
                self._volume,
                self._run,
                self._restore,
                self._progress,
                self._status,
            ]
        )
        self._restore.changed.connect(self.restore_defaults)
        self._method.changed.connect(self._sync_enabled)
        self._sync_enabled()

    def restore_defaults(self) -> None:
        """Put every parameter back to its default."""
        self._method.value = default_method()
        self._tip_nm.value = DEFAULTS["tip_nm"]
        self._steps.value = DEFAULTS["steps"]
        self._mc_samples.value = DEFAULTS["mc_samples"]
        self._consistency.value = DEFAULT_CONSISTENCY
        self._device.value = DEFAULTS["device"]
        self._level.value = DEFAULTS["level"]
        self._volume.value = DEFAULTS["volume"]

    def _tip_layers(self, *_) -> list[tuple[str, object]]:
        """The open tip layers (a reconstruction's tip, a session tip, a tip file opened)."""
        layers = self._viewer.layers
        return [(layer.name, layer) for layer in reversed(layers) if layer.metadata.get("kind") == "tip"]

    def _sync_enabled(self, *_) -> None:
        self._steps.enabled = self._method.value == "dbtr"
        self._mc_samples.enabled = self._model.enabled = self._consistency.enabled = self._method.value == "model"
        self._tip_nm.enabled = self._method.value not in ("model", KNOWN_TIP)  # those bring their own window
        self._tip.enabled = self._method.value == KNOWN_TIP

    def chosen(self):
        return self._image.value

    def check_layer(self, layer) -> str | None:
        if layer is None:
            return "open a scan first and choose it as 'scan'"
        if layer.data.ndim != 2 or layer.rgb:
            return f"layer {layer.name!r} is not a 2-D height map"
        if self._method.value == KNOWN_TIP and self._tip.value is None:
            return "choose the tip layer to use (a reconstruction's tip, or a session tip of the Tip wear panel)"
        return None

    def make_job(self, layer) -> Job:
        """The chosen values only: everything that imports or checks (torch, the device, the options)
        runs in the worker (:func:`reconstruction_job`), so the click never stalls the window."""
        import numpy as np

        from ..image.levelling import DEFAULT_STEPS

        settings = {
            "method": self._method.value,
            "steps": self._steps.value,
            "device": self._device.value,
            "tip_nm": (self._tip_nm.value or None) if self._tip_nm.enabled else None,
            "mc_samples": self._mc_samples.value,
            "model": self._model.value,
            "consistency": self._consistency.value,
            "levelling": DEFAULT_STEPS if self._level.value else (),
        }
        if self._method.value == KNOWN_TIP:
            meta = self._tip.value.metadata
            settings.update(tip=np.asarray(meta["tip"], dtype=np.float64), tip_pixel_nm=meta.get("pixel_nm"))
        pixel = tuple(float(v) for v in layer.scale[-2:])
        layers = {"name": layer.name, "contrast_limits": tuple(layer.contrast_limits), "tip_volume": self._volume.value}
        return Job(reconstruction_job, (np.asarray(layer.data, dtype=np.float64), pixel, settings, layers))

    def on_result(self, payload, name: str) -> None:
        result, layers = payload
        self.place_layers(self._viewer, layers, lambda _: self._report(result))

    def _report(self, result) -> None:
        """The status line once the result is shown: what ran, where, in how long."""
        from pathlib import Path

        from ..classical.btr import threshold_text
        from ..image.scars import scar_text

        self._progress.value = 100
        what = result.method
        if result.method == KNOWN_TIP:
            what = f"the tip {self._tip.value.name!r}" if self._tip.value is not None else "the tip given"
        if result.method == "model":
            what = f"{Path(result.info['model']).stem} ({result.info['mc_samples']} MC)"
        seconds = self.elapsed()
        device = result.info.get("device", "cpu")
        self._device_used.value = device
        status = f"done in {seconds:.1f} s: {what} on {device}, tip {result.tip.shape[0]} px"
        if chosen := threshold_text(result.info):  # classical BTR's, chosen per scan
            status += ", " + chosen
        if scars := scar_text(result.info):
            status += "; " + scars
        self._status.value = status
