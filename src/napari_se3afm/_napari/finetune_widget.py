"""The Fine-tune dock widget: adapt the pretrained model to the chosen scan while watching the loss.

Fine-tuning (:func:`napari_se3afm.nn.finetune.iter_finetune`) and the Monte-Carlo reconstruction run
in a worker thread; every step's loss is drawn on a small live curve. Results are added as
``"<scan> surface (fine-tuned)"`` etc., next to (never over) the plain reconstruction; *Revert*
removes them again, *Keep* leaves them.
"""

from typing import TYPE_CHECKING

from magicgui.widgets import ComboBox, FloatSpinBox, PushButton, SpinBox, create_widget

from ..nn.consistency import DEFAULT_CONSISTENCY
from ..options import MC_SAMPLES
from .plots import LossCurve
from .worker_panel import CONSISTENCY_CHOICES, Job, WorkerPanel, model_choice

if TYPE_CHECKING:
    import napari

SUFFIX = " (fine-tuned)"


class FineTuneWidget(WorkerPanel):
    """Fine-tune the pretrained model on one scan: steps, learning rate, prior strength; cancel; keep or revert."""

    title = "Fine-tune"

    def __init__(self, viewer: "napari.viewer.Viewer"):
        super().__init__()
        self._viewer = viewer
        self._image = create_widget(annotation="napari.layers.Image", label="scan")
        self._steps = SpinBox(label="steps", min=1, max=100000, value=100)
        self._learning_rate = FloatSpinBox(label="learning rate", min=1e-6, max=1.0, step=1e-5, value=1e-4)
        self._prior = FloatSpinBox(
            label="prior strength",
            min=0.0,
            max=1e4,
            step=0.1,
            value=1.0,
            tooltip="pull towards the pretrained weights (0 = none)",
        )
        self._adapt = ComboBox(
            label="adapt",
            choices=[("tip network", "tip"), ("whole model", "all")],
            value="tip",
            tooltip="the whole model also moves the surface network (measured: a worse surface)",
        )
        self._mc_samples = SpinBox(label="MC samples", min=2, max=256, value=MC_SAMPLES)
        self._consistency = ComboBox(
            label="consistency",
            choices=CONSISTENCY_CHOICES,
            value=DEFAULT_CONSISTENCY,
            tooltip="how the fine-tuned tip and surface are held to the scan "
            "(docs/model.md, 'Consistency with the image')",
        )
        self._model = model_choice()
        self._keep = PushButton(text="Keep", enabled=False)
        self._revert = PushButton(text="Revert", enabled=False)
        self.extend(
            [
                self._image,
                self._model,
                self._steps,
                self._learning_rate,
                self._prior,
                self._adapt,
                self._mc_samples,
                self._consistency,
                self._run,
                self._progress,
                self._status,
                self._keep,
                self._revert,
            ]
        )
        self.curve = LossCurve(viewer)
        layout = self.content.layout()
        layout.insertWidget(layout.count() - 1, self.curve.canvas)  # under the fields, above the panel's stretch
        self._added: list = []
        self._keep.changed.connect(self._on_keep)
        self._revert.changed.connect(self._on_revert)

    def chosen(self):
        return self._image.value

    def make_job(self, layer) -> Job:
        import numpy as np

        from ..image.levelling import DEFAULT_STEPS
        from ..nn.registry import find_model
        from ..options import reconstruct_options
        from ..pipeline import iter_reconstruct

        find_model(self._model.value)  # fail now, with the reason, when no weights are installed
        self.curve.set_losses([])
        options = reconstruct_options(
            "model",
            model=self._model.value,
            mc_samples=self._mc_samples.value,
            finetune_steps=self._steps.value,
            finetune_options={
                "learning_rate": self._learning_rate.value,
                "prior_strength": self._prior.value,
                "adapt": self._adapt.value,
            },
            consistency=self._consistency.value,
            levelling=DEFAULT_STEPS,
        )
        pixel = tuple(float(v) for v in layer.scale[-2:])
        return Job(iter_reconstruct, (np.asarray(layer.data, dtype=np.float64), pixel, options))

    def on_progress(self, report) -> None:
        if report.loss is not None:
            self.curve.set_losses([*self.curve.losses, report.loss])

    def on_result(self, result, name: str) -> None:
        from .display import put_layers
        from .layers import reconstruction_layers

        layers = reconstruction_layers(result, name)
        for _, kwargs, _ in layers:
            kwargs["name"] += SUFFIX
        self._added = put_layers(self._viewer, layers)
        self._keep.enabled = self._revert.enabled = True
        self._status.value = (
            f"done: loss {result.info['finetune_losses'][0]:.3g} → {result.info['finetune_losses'][-1]:.3g}"
        )

    def _on_keep(self, *_) -> None:
        self._added = []
        self._keep.enabled = self._revert.enabled = False

    def _on_revert(self, *_) -> None:
        for layer in self._added:
            if layer in self._viewer.layers:
                self._viewer.layers.remove(layer)
        self._on_keep()
