"""The one place where the plugin starts threads: a dock-widget base that runs a core generator.

``WorkerPanel`` owns the Run/Cancel button, the progress bar and a status label. A subclass says
what to check (:meth:`check_layer`) and what to run (:meth:`make_job`, a core generator yielding
:class:`~napari_se3afm.progress.Progress`); the panel runs it with napari's ``create_worker``, turns
the button into *Cancel* (``worker.quit()`` takes effect at the next yield), reports errors as
notifications, and hands the result to :meth:`on_result`. No Qt object enters the core.
"""

import time

from magicgui.widgets import ComboBox, Container, Label, ProgressBar, PushButton

from ..progress import time_left


def model_choice() -> ComboBox:
    """A choice of the installed model weights (the default model first)."""
    from ..registry import DEFAULT_MODEL, available_models

    return ComboBox(
        label="model",
        choices=available_models() or [DEFAULT_MODEL],
        tooltip="installed weights (models/ or $SE3AFM_MODEL_DIR)",
    )


def wrapped(label: Label) -> Label:
    """``label`` breaking its text into lines, so that a long message never widens its panel. (A
    wrapped label makes the panel's height depend on its width: the scroll area then gives the
    panel its preferred height, not its least; the Tip panel, whose 3-D view should take the room
    its dock has, keeps its labels unwrapped.)"""
    label.native.setWordWrap(True)
    return label


def _scroll_area(content):
    """A scroll area around ``content`` that asks for the content's natural size, and at least
    :data:`MIN_PANEL_HEIGHT` of it, so that a dock gets its panel's height where there is room and
    scrolls where there is not (napari gives plugin docks no scrolling of their own)."""
    from qtpy.QtCore import QSize
    from qtpy.QtWidgets import QFrame, QScrollArea

    class FitScrollArea(QScrollArea):
        shared = False

        def showEvent(self, event) -> None:
            super().showEvent(event)
            if not self.shared:  # once, when docked: the column shared by what each panel asks for
                self.shared = True
                share_dock_column(self)

        def sizeHint(self) -> QSize:
            return content.sizeHint() + QSize(2 * self.frameWidth() + self.verticalScrollBar().sizeHint().width(), 0)

        def minimumSizeHint(self) -> QSize:
            inner = content.minimumSizeHint()
            bar = self.verticalScrollBar().sizeHint().width()
            return QSize(inner.width() + bar, min(inner.height(), MIN_PANEL_HEIGHT))

    area = FitScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(content)
    return area


def share_dock_column(widget) -> None:
    """Share the height of the dock column that holds ``widget`` among its docks in proportion to
    their size hints (napari's own split leaves a newly docked panel at its minimum height)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QDockWidget, QMainWindow

    dock, window = widget.parentWidget(), widget.window()
    while dock is not None and not isinstance(dock, QDockWidget):
        dock = dock.parentWidget()
    if dock is None or not isinstance(window, QMainWindow) or dock.isFloating():
        return
    area = window.dockWidgetArea(dock)
    column = [d for d in window.findChildren(QDockWidget) if d.isVisible() and not d.isFloating()]
    column = [d for d in column if window.dockWidgetArea(d) == area and not window.tabifiedDockWidgets(d)]
    if len(column) > 1:
        window.resizeDocks(column, [d.sizeHint().height() for d in column], Qt.Orientation.Vertical)


#: the least height of a docked panel: four docked panels still fit a 768-pixel-high screen
MIN_PANEL_HEIGHT = 150


class Panel(Container):
    """A dock panel that scrolls when its dock is shorter than its content, so that several panels
    fit a laptop screen (1366×768) together.

    napari docks a widget's ``native``: the panel hands it a scroll area around the fields.
    ``content`` is the widget that holds the fields' layout, for a canvas placed among them.
    """

    #: whether the panel takes the room its dock column has to spare (a 3-D view, a plot), or keeps
    #: to its fields' height
    grows = False

    def __init__(self) -> None:
        from qtpy.QtWidgets import QSizePolicy

        super().__init__(labels=True)
        if not self.grows:
            self.content.layout().addStretch(0)  # fields keep their height; the room left stays below
        self._scroll = _scroll_area(self.content)
        policy = QSizePolicy.Policy.Expanding if self.grows else QSizePolicy.Policy.Preferred
        self._scroll.setSizePolicy(QSizePolicy.Policy.Preferred, policy)
        self._scroll._magic_widget = self  # how napari finds the panel behind its dock

    @property
    def native(self):
        """The scroll area (what napari puts in the dock); the fields' widget until it exists."""
        return getattr(self, "_scroll", None) or self.content

    @property
    def content(self):
        """The widget with the panel's layout, inside the scroll area."""
        return self._widget._mgui_get_native_widget()


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
        self._run.changed.connect(self._on_run)

    @property
    def worker(self):
        """The running worker, or None."""
        return self._worker

    # --- to be provided by subclasses ---------------------------------------------------------
    def chosen(self):
        """What the job runs on (default: the chosen layer); handed to :meth:`check_layer` and :meth:`make_job`."""
        return self._image.value

    def check_layer(self, layer) -> str | None:
        """Return why ``layer`` cannot be used, or None."""
        return None if layer is not None and layer.data.ndim == 2 else "choose a 2-D scan layer"

    def make_job(self, layer):
        """Return ``(generator_function, args, kwargs)`` for the chosen layer; may raise to refuse."""
        raise NotImplementedError

    def on_progress(self, report) -> None:
        """Called with every report (default: progress bar and message)."""

    def on_result(self, result, layer_name: str) -> None:
        """Called with the generator's return value."""

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
            func, args, kwargs = self.make_job(layer)
        except Exception as exc:  # bad parameters, no weights: a notification, never a traceback
            self._notify(str(exc))
            return
        from napari.qt.threading import create_worker

        worker = create_worker(func, *args, **kwargs, _start_thread=False, _ignore_errors=True)
        name = getattr(layer, "name", "the session")
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(lambda result: self.on_result(result, name))
        worker.errored.connect(lambda exc: (setattr(self._status, "value", "failed"), self._notify(str(exc))))
        worker.finished.connect(self._on_finished)
        self._worker = worker
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

    def _on_finished(self) -> None:
        if self._cancelling:
            self._status.value = "cancelled"
        self._cancelling = False
        self._worker = None
        self._run.text = self.title
