"""The Tip dock widget: descriptors of a reconstructed tip and its export as a volume or a mesh."""

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, Container, FileEdit, Label, PushButton, create_widget

if TYPE_CHECKING:
    import napari

EXPORT_FILTER = "*.stl *.ply *.obj *.vti *.vtk *.tif *.npy"


def _format(descriptors: dict) -> str:
    if not descriptors:
        return "-"
    parts = []
    for key, value in descriptors.items():
        if isinstance(value, float):
            parts.append(f"{key.replace('_', ' ')}: {value:.3g}")
        else:
            parts.append(f"{key.replace('_', ' ')}: {value}")
    return "\n".join(parts)


class TipWidget(Container):
    """Show apex radius, half-angle, asymmetry and double-tip flag; export the tip."""

    def __init__(self, viewer: "napari.viewer.Viewer"):
        super().__init__(labels=True)
        self._viewer = viewer
        self._tip = create_widget(annotation="napari.layers.Image", label="tip layer")
        self._descriptors = Label(label="descriptors", value="-")
        self._path = FileEdit(label="export to", mode="w", filter=EXPORT_FILTER)
        self._overwrite = CheckBox(text="replace an existing file", value=False)
        self._export = PushButton(text="Export tip")
        self.extend([self._tip, self._descriptors, self._path, self._overwrite, self._export])
        self._tip.changed.connect(self._show)
        self._export.changed.connect(self._on_export)
        self._show()

    def _tip_info(self) -> dict | None:
        layer = self._tip.value
        meta = getattr(layer, "metadata", None) or {}
        return meta if meta.get("kind") in ("tip", "tip volume") and "tip" in meta else None

    def _show(self, *_) -> None:
        info = self._tip_info()
        self._descriptors.value = (
            _format(info["descriptors"]) if info else "choose the 'tip' or 'tip 3D' layer of a reconstruction"
        )

    def _on_export(self, *_) -> None:
        from napari.utils.notifications import show_error, show_info

        from ..io.writers import write_tip

        info = self._tip_info()
        if info is None:
            show_error("Tip export: choose the 'tip' or 'tip 3D' layer of a reconstruction")
            return
        path = Path(self._path.value)
        if not path.name or path.is_dir():
            show_error("Tip export: choose a file name ending in .stl, .ply, .obj, .vti, .vtk, .tif or .npy")
            return
        try:
            written = write_tip(info["tip"], tuple(info["pixel_nm"]), path, overwrite=self._overwrite.value)
        except Exception as exc:
            show_error(f"Tip export: {exc}")
            return
        show_info(f"Tip exported to {written}")
