"""The dock panel every plugin panel is: fields in a scroll area that napari docks, so that several
panels fit a laptop screen (1366×768) together.

napari gives plugin docks no scrolling of their own and leaves a newly docked panel at its minimum
height; :class:`Panel` hands napari a scroll area that asks for its fields' natural height (at least
:data:`MIN_PANEL_HEIGHT`), and shares the dock column among its panels by what each asks for.
"""

from magicgui.widgets import Container, Label


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
