"""The Tip dock widget: the reconstructed tip in a 3-D view of its own, its descriptors, and export.

The view (:class:`~napari_se3afm._napari.tip_view.TipView`) shows the tip apex up in nm, coloured by
its σ, with the blind bound as a wireframe; it follows the newest reconstruction and never changes
the scan's viewer. Export buttons write the tip as a mesh (``.stl``, ``.ply``), a voxel volume
(``.vti``, ``.npy``) or its height map with σ (``.npz``, what ``se3afm reconstruct --tip`` and the
Reconstruct panel use as it is) under the chosen name (:func:`napari_se3afm.io.writers.write_tip`).
"""

import math
from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, Container, FileEdit, Label, PushButton, create_widget

from ..tip.broadening import broadening_text
from .panel import Panel

if TYPE_CHECKING:
    import napari

EXPORT_FORMATS = (".stl", ".ply", ".vti", ".npy", ".npz")
EXPORT_FILTER = "*.stl *.ply *.vti *.npy *.npz"
HINT = "reconstruct a scan, then choose its 'tip' layer"


def _format(descriptors: dict, spread: dict, pixel_nm: float | None = None) -> str:
    """Short lines: apex radius and half-angle ± their σ (the tip's σ map and the Monte-Carlo spread
    carried into them: docs/napari.md; an apex radius under a pixel of ``pixel_nm`` as an upper
    limit); asymmetry, depth and double tip; the width the tip adds at half height to features
    1–10 nm high (under two pixels: not resolved)."""
    if not descriptors:
        return "-"

    from ..tip.descriptors import descriptor_text

    def value(key: str, unit: str) -> str:
        return descriptor_text(key, descriptors[key], spread.get(key), unit, pixel_nm)

    return (
        f"apex radius {value('apex_radius_nm', ' nm')}\n"
        f"half angle {value('half_angle_deg', '°')}, asymmetry {value('asymmetry', '')}\n"
        f"depth {descriptors['depth_nm']:.3g} nm, double tip: {'yes' if descriptors['double_tip'] else 'no'}\n"
        + broadening_text(descriptors, spread, pixel_nm, lines=True)  # short lines: the panel stays narrow
    ).rstrip()


class TipWidget(Panel):
    """The tip in 3-D (σ as colour, blind bound as wireframe), its descriptors with σ, and export."""

    grows = True

    def __init__(self, viewer: "napari.viewer.Viewer"):
        from .tip_view import TipView

        super().__init__()
        self._viewer = viewer
        self._tip = create_widget(annotation="napari.layers.Image", label="tip layer")
        self._view = TipView()
        self._descriptors = Label(label="descriptors", value="-")  # short lines (unwrapped: see ``wrapped``)
        self._path = FileEdit(label="export as", mode="w", filter=EXPORT_FILTER)
        self._overwrite = CheckBox(text="replace an existing file", value=False)
        self._buttons = {fmt: PushButton(text=fmt.lstrip(".").upper()) for fmt in EXPORT_FORMATS}
        buttons = Container(layout="horizontal", labels=False, widgets=list(self._buttons.values()))
        self.extend([self._tip, self._descriptors, self._path, self._overwrite, buttons])
        self.content.layout().insertWidget(1, self._view.widget, 1)
        for fmt, button in self._buttons.items():
            button.changed.connect(lambda *_, fmt=fmt: self.export(fmt))
        self._tip.changed.connect(self._show)
        viewer.layers.events.inserted.connect(self._follow_new_tip)
        self._show()

    def _tip_info(self) -> dict | None:
        layer = self._tip.value
        meta = getattr(layer, "metadata", None) or {}
        return meta if meta.get("kind") in ("tip", "tip volume") and "tip" in meta else None

    def _follow_new_tip(self, event) -> None:
        layer = event.value
        if (getattr(layer, "metadata", None) or {}).get("kind") == "tip":
            self._tip.reset_choices()
            self._tip.value = layer

    def _show(self, *_) -> None:
        info = self._tip_info()
        if info is None:
            self._descriptors.value = HINT
            self._view.clear()
            return
        pixel = math.sqrt(info["pixel_nm"][0] * info["pixel_nm"][1])
        self._descriptors.value = _format(info["descriptors"], info.get("descriptors_std") or {}, pixel)
        label = self._descriptors.native  # every line shown: the 3-D view above takes only the room left
        label.parentWidget().setMinimumHeight(label.sizeHint().height())
        self._view.show(info["tip"], tuple(info["pixel_nm"]), tip_std=info.get("tip_std"), bound=info.get("tip_bound"))

    def export(self, suffix: str) -> Path | None:
        """Write the shown tip as ``suffix`` under the chosen name; report in a notification."""
        from napari.utils.notifications import show_error, show_info

        from ..io.writers import write_tip

        info = self._tip_info()
        if info is None:
            show_error(f"Tip export: {HINT}")
            return None
        chosen = Path(self._path.value)
        if not chosen.name or chosen.is_dir():
            show_error("Tip export: choose a file name under 'export as'")
            return None
        path = chosen.with_suffix(suffix)
        try:
            written = write_tip(
                info["tip"], tuple(info["pixel_nm"]), path, tip_std=info.get("tip_std"), overwrite=self._overwrite.value
            )
        except Exception as exc:
            show_error(f"Tip export: {exc}")
            return None
        show_info(f"Tip exported to {written}")
        return written
