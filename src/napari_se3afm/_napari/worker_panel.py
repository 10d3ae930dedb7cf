"""The one place where the plugin starts threads: a dock-widget base that runs a core generator.

``WorkerPanel`` owns the Run/Cancel button, the progress bar and a status label. A subclass says
what the run is on (:meth:`chosen`), what to check (:meth:`check_layer`) and what to run
(:meth:`make_job`: a :class:`Job`, a core generator function yielding
:class:`~napari_se3afm.progress.Progress` and its arguments); the panel runs it with napari's
``create_worker``, turns the button into *Cancel* (``worker.quit()`` takes effect at the next
yield), reports errors as notifications, and hands the result to :meth:`on_result`. No Qt object
enters the core. The choices several panels share are made here too.
"""

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from magicgui.widgets import ComboBox, Label, ProgressBar, PushButton

from ..progress import time_left
from .panel import Panel, wrapped


class Job(NamedTuple):
    """What a panel runs in its worker: ``function(*args, **kwargs)``, a generator of progress reports
    that returns the result :meth:`WorkerPanel.on_result` receives."""

    function: Callable
    args: tuple = ()
    kwargs: Mapping[str, Any] = MappingProxyType({})


#: how the model's output is held to the image (:mod:`napari_se3afm.nn.consistency`), as panels offer it
CONSISTENCY_CHOICES = [
    ("reproduce the image (tip bound, surface raised)", "image"),
    ("reproduce the image, tightest tip bound (slower)", "tight"),
    ("tip within the blind bound", "tip"),
    ("network output as it is", "none"),
]


def model_choice() -> ComboBox:
    """A choice of the installed model weights (the default model first)."""
    from ..nn.registry import DEFAULT_MODEL, available_models

    return ComboBox(
        label="model",
        choices=available_models() or [DEFAULT_MODEL],
        tooltip="installed weights (models/ or $SE3AFM_MODEL_DIR)",
    )


class WorkerPanel(Panel):
    """Base of the Reconstruct, Fine-tune and Tip wear panels (see the module docstring)."""

    title = "Run"

    def __init__(self) -> None:
        super().__init__()
        self._run = PushButton(text=self.title)
        self._progress = ProgressBar(label="progress", min=0, max=100, value=0)
        self._status = wrapped(Label(label="status", value=""))
        self._worker = None
        self._cancelling = False
        self._placing = False  # the result's layers are being added: the run is not over
        self._worker_done = False
        self._run.changed.connect(self._on_run)

    @property
    def worker(self):
        """The running worker, or None."""
        return self._worker

    # --- to be provided by subclasses ---------------------------------------------------------
    def chosen(self):
        """What the job runs on (a layer, layers, a folder); handed to :meth:`check_layer` and :meth:`make_job`."""
        raise NotImplementedError

    def check_layer(self, layer) -> str | None:
        """Return why ``layer`` cannot be used, or None."""
        return None if layer is not None and layer.data.ndim == 2 else "choose a 2-D scan layer"

    def make_job(self, chosen) -> Job:
        """The :class:`Job` for what was chosen; may raise to refuse (the reason becomes a notification)."""
        raise NotImplementedError

    def on_progress(self, report) -> None:
        """Called with every report (default: progress bar and message)."""

    def on_result(self, result, layer_name: str) -> None:
        """Called with the generator's return value."""

    def elapsed(self) -> float:
        """Seconds since the run began (for the status line)."""
        return time.monotonic() - self._started_at

    # --- the machinery --------------------------------------------------------------------------
    def _notify(self, message: str) -> None:
        from napari.utils.notifications import show_error

        show_error(f"{self.title}: {message}")

    def _on_run(self, *_) -> None:
        if self._worker is not None:
            self._cancelling = True
            self._status.value = "cancelling…"
            self._worker.quit()
            return
        layer = self.chosen()
        problem = self.check_layer(layer)
        if problem:
            self._notify(problem)
            return
        try:
            job = self.make_job(layer)
        except Exception as exc:  # bad parameters, no weights: a notification, never a traceback
            self._notify(str(exc))
            return
        from napari.qt.threading import create_worker

        worker = create_worker(job.function, *job.args, **job.kwargs, _start_thread=False, _ignore_errors=True)
        name = getattr(layer, "name", "the session")
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(lambda result: self.on_result(result, name))
        worker.errored.connect(lambda exc: (setattr(self._status, "value", "failed"), self._notify(str(exc))))
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self._worker_done = False
        self._started_at = time.monotonic()
        self._run.text = "Cancel"
        self._progress.value = 0
        self._status.value = f"working on {name}…"
        worker.start()

    def _on_progress(self, report) -> None:
        if self._cancelling:
            return
        self._progress.value = round(100 * report.fraction)
        loss = f" (loss {report.loss:.3g})" if report.loss is not None else ""
        self._status.value = f"{report.message}{loss}{time_left(report.fraction, time.monotonic() - self._started_at)}"
        self.on_progress(report)

    def place_layers(self, viewer, layer_data: list[tuple], then) -> None:
        """Add a result's layers without blocking the window (:func:`.display.put_layers_gradually`);
        the run ends, and :attr:`worker` becomes None, once they are all in, then ``then(layers)``."""
        from .display import put_layers_gradually

        self._placing = True

        def placed(layers) -> None:
            self._placing = False
            then(layers)
            if self._worker is not None and self._worker_done:
                self._on_finished()

        put_layers_gradually(viewer, layer_data, placed)

    def _on_finished(self) -> None:
        self._worker_done = True
        if self._placing:
            return
        if self._cancelling:
            self._status.value = "cancelled"
        self._cancelling = False
        self._worker = None
        self._run.text = self.title
