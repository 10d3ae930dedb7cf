"""The tip in a 3-D view of its own: a small napari viewer inside the Tip panel.

The tip is drawn as its height surface ``P(y, x)`` in nm, apex up, shaded, coloured by its σ where
the method gives one (contrast from its 2nd to its 98th percentile; the shading shows the shape
where σ is uniform, as on flanks the image never probed), with the blind (BTR) upper bound as a
wireframe above it. The view has its own camera, framed on the whole tip with a margin, turned with
the mouse; a scale bar without a box sits in the corner away from the apex, and no axes (their
labels would sit on the apex). Before any tip, the view says what to do. The main viewer's layers,
dimensions and camera are never touched, so no slider of the tip appears beside the scan.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TipView", "height_surface"]


def height_surface(height: np.ndarray, pixel_nm: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``(y, depth below the apex, x)`` in nm and triangles of a tip's surface ``P(y, x)``.

    The depth ``-P`` is the second coordinate: napari's camera at angles (0, 0, 0) then looks along
    y with the depth pointing down the screen, so the apex is on top."""
    k, m = height.shape
    dy, dx = pixel_nm
    y, x = np.meshgrid((np.arange(k) - k // 2) * dy, (np.arange(m) - m // 2) * dx, indexing="ij")
    vertices = np.column_stack([y.ravel(), -height.ravel(), x.ravel()]).astype(np.float32)
    index = np.arange(k * m).reshape(k, m)
    a, b, c, d = index[:-1, :-1].ravel(), index[:-1, 1:].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel()
    faces = np.concatenate([np.column_stack([a, b, d]), np.column_stack([a, d, c])]).astype(np.int64)
    return vertices, faces


class TipView:
    """A napari viewer model and its Qt canvas showing one tip at a time (``widget`` goes in a dock)."""

    #: camera angles (degrees): from the side, turned and tilted a little to show depth, apex up
    ANGLES = (-20.0, 30.0, 0.0)
    #: zoom relative to napari's fit of the turned view, leaving a margin around the tip
    MARGIN = 0.8
    #: shown before any tip
    EMPTY = "no tip yet: reconstruct a scan"

    def __init__(self) -> None:
        from napari.components import ViewerModel
        from napari.qt import QtViewer

        self.model = ViewerModel(title="tip", ndisplay=3)
        self.model.dims.axis_labels = ("y", "depth", "x")
        bar = self.model.canvas.overlays.scale_bar
        bar.box, bar.position, bar.font_size = False, "bottom_left", 9
        note = self.model.canvas.overlays.text
        note.text, note.position, note.font_size = self.EMPTY, "middle_center", 10
        self.widget = QtViewer(self.model)
        self.widget.installEventFilter(_after_resize(self.widget, self._frame))
        self.widget.setMinimumHeight(180)
        for hidden in (self.widget.dockLayerList, self.widget.dockLayerControls, self.widget.dockConsole):
            hidden.setVisible(False)

    def show(
        self,
        tip: np.ndarray,
        pixel_nm: tuple[float, float],
        *,
        tip_std: np.ndarray | None = None,
        bound: np.ndarray | None = None,
    ) -> None:
        """Replace what is shown by ``tip`` (σ as colour, ``bound`` as a wireframe) and frame it."""
        self.model.layers.clear()
        vertices, faces = height_surface(np.asarray(tip, dtype=np.float64), pixel_nm)
        if tip_std is not None:
            sigma = np.asarray(tip_std, dtype=np.float32).ravel()
            low, high = (float(v) for v in np.percentile(sigma, [2, 98]))
            layer = self.model.add_surface(
                (vertices, faces, sigma),
                colormap="magma",
                contrast_limits=(low, high if high > low else low + 1.0),
                shading="smooth",
                name="tip, colour: σ (nm)",
                units="nm",
            )
            layer.colorbar.visible = True
            layer.colorbar.size = (15, 160)
        else:
            self.model.add_surface(
                (vertices, faces, vertices[:, 1]), colormap="viridis", shading="smooth", name="tip", units="nm"
            )
        if bound is not None:
            bound_vertices, bound_faces = height_surface(np.asarray(bound, dtype=np.float64), pixel_nm)
            wire = self.model.add_surface(
                (bound_vertices, bound_faces), opacity=0.0, name="blind (BTR) bound", units="nm"
            )
            wire.wireframe.visible = True
            wire.wireframe.color = (0.0, 1.0, 1.0, 0.5)
        self.model.canvas.overlays.text.visible = False
        self.model.canvas.overlays.scale_bar.visible = True
        self._frame()

    def _frame(self) -> None:
        """Turn the camera to :attr:`ANGLES` and fit the tip with a margin (again when the view resizes)."""
        if not len(self.model.layers):
            return
        self.model.scene.camera.angles = self.ANGLES
        self.model.reset_view()
        self.model.scene.camera.angles = self.ANGLES
        self.model.scene.camera.zoom *= self.MARGIN

    def clear(self) -> None:
        """Show nothing but what to do (no scale bar without a tip to measure)."""
        self.model.layers.clear()
        self.model.canvas.overlays.scale_bar.visible = False
        self.model.canvas.overlays.text.visible = True

    def close(self) -> None:
        """Release the canvas."""
        self.widget.close()


def _after_resize(parent, callback):
    """A Qt event filter that calls ``callback`` once ``parent`` has been resized (on the next turn of
    the event loop, when the canvas inside knows its new size)."""
    from qtpy.QtCore import QEvent, QObject, QTimer

    class Filter(QObject):
        def eventFilter(self, watched, event) -> bool:
            if event.type() == QEvent.Type.Resize:
                QTimer.singleShot(0, callback)
            return False

    return Filter(parent)
