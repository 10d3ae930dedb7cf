"""How results appear in the scan's viewer: layers added or updated in place, σ colour bars with a
title and unit, and the scale bar on (every layer the plugin makes is in nm)."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from .layers import COLORBAR_SIZE

if TYPE_CHECKING:
    import napari

#: the title over a σ map's colour bar (napari's colour bar has ticks but no title of its own)
SIGMA_TITLE = "σ (nm)"
#: viewers whose text overlay already titles their σ colour bars (set up once per viewer)
_TITLED: weakref.WeakSet = weakref.WeakSet()


def put_layers(viewer: napari.viewer.Viewer, layer_data: list[tuple]) -> list:
    """Add each ``(data, kwargs, type)``, or update the layer of the same name in place; then show the
    colour bars of σ maps under their title, and the scale bar."""
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
            if layer.metadata.get("kind") == "uncertainty":  # a new σ map: its visibility shows the title
                layer.events.visible.connect(lambda *_: _show_title(viewer))
        if layer.metadata.get("kind") == "uncertainty":
            layer.colorbar.size = COLORBAR_SIZE
            layer.colorbar.visible = True
            _title_colour_bars(viewer, layer.colorbar)
        out.append(layer)
    if out:
        viewer.canvas.overlays.scale_bar.visible = True
    return out


def put_layers_gradually(viewer: napari.viewer.Viewer, layer_data: list[tuple], then) -> None:
    """:func:`put_layers`, one layer per turn of the event loop, then ``then(layers)``.

    napari takes 0.05–0.15 s to add each layer (its visual, texture and colour bar): added at once,
    a reconstruction's five or six layers would block the window for 0.3–0.4 s; one at a time, the
    window draws and answers between them."""
    from qtpy.QtCore import QTimer

    pending, added = list(layer_data), []

    def step() -> None:
        if not pending:
            then(added)
            return
        added.extend(put_layers(viewer, [pending.pop(0)]))
        QTimer.singleShot(0, step)

    step()


def _title_colour_bars(viewer: napari.viewer.Viewer, colorbar) -> None:
    """Put the viewer's text overlay, as the title, over the σ colour bars (set up once per viewer)."""
    if viewer not in _TITLED:
        _TITLED.add(viewer)
        title = viewer.canvas.overlays.text
        title.text = SIGMA_TITLE
        title.position = colorbar.position
        title.order = colorbar.order - 1  # drawn first: above the bar
        viewer.canvas.overlay_tiling.top_right = "vertical"  # title over the bar, not beside it
        viewer.layers.events.removed.connect(lambda *_: _show_title(viewer))
    _show_title(viewer)


def _show_title(viewer: napari.viewer.Viewer) -> None:
    """The title shows while a σ map with its colour bar is shown."""
    viewer.canvas.overlays.text.visible = any(
        layer.visible and layer.metadata.get("kind") == "uncertainty" and layer.colorbar.visible
        for layer in viewer.layers
    )
