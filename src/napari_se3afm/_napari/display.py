"""How results appear in the scan's viewer: layers added or updated in place, σ colour bars with a
title and unit, and the scale bar on (every layer the plugin makes is in nm)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layers import COLORBAR_SIZE

if TYPE_CHECKING:
    import napari

#: the title over a σ map's colour bar (napari's colour bar has ticks but no title of its own)
SIGMA_TITLE = "σ (nm)"


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
        if layer.metadata.get("kind") == "uncertainty":
            _with_colour_bar(viewer, layer)
        out.append(layer)
    if out:
        viewer.canvas.overlays.scale_bar.visible = True
    return out


def _with_colour_bar(viewer: napari.viewer.Viewer, layer) -> None:
    """A tall colour bar for ``layer``, titled by the viewer's text overlay while a σ map is shown."""
    layer.colorbar.size = COLORBAR_SIZE
    layer.colorbar.visible = True
    title = viewer.canvas.overlays.text
    title.position = layer.colorbar.position
    title.order = layer.colorbar.order - 1  # drawn first: above the bar
    viewer.canvas.overlay_tiling.top_right = "vertical"  # title over the bar, not beside it

    def sync(*_) -> None:
        shown = [
            lyr
            for lyr in viewer.layers
            if lyr.visible and lyr.metadata.get("kind") == "uncertainty" and lyr.colorbar.visible
        ]
        title.text = SIGMA_TITLE
        title.visible = bool(shown)

    layer.events.visible.connect(sync)
    viewer.layers.events.removed.connect(sync)
    sync()
