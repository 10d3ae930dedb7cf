"""The Tip wear dock widget: the tip over several scans of a session, plotted, each point clickable.

Choose two or more open scan layers (or a folder of scan files), run :func:`napari_se3afm.wear.track.iter_track_tip`
in a worker (progress with the time left, Cancel), and see the descriptors with their σ against
scan order or acquisition time, changes marked (:func:`napari_se3afm.wear.report.draw_wear`, on
matplotlib's Qt canvas). Clicking a point selects that scan's layer and puts its tip in the layer
``tip wear: tip of scan N``, which the Tip panel shows in 3-D. Each run of scans between changes
gives a session tip (:mod:`napari_se3afm.wear.session`), the layer ``tip wear: session tip N``, drawn
over its scans in the plot. *Save report* writes the CSV, PNG and NPZ of ``se3afm track``.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, FileEdit, Label, PushButton, Select, SpinBox

from ..options import MC_SAMPLES
from .panel import wrapped
from .plots import ThemedPlot
from .worker_panel import Job, WorkerPanel, model_choice

if TYPE_CHECKING:
    import napari

EMPTY_PLOT = "apex radius, half-angle, asymmetry and apex volume,\nscan by scan with σ, appear here"


class WearWidget(WorkerPanel):
    """Follow the tip over a session of scans (see the module docstring)."""

    title = "Track the tip"
    grows = True

    def __init__(self, viewer: "napari.viewer.Viewer"):
        super().__init__()
        self._viewer = viewer
        self._scans = Select(label="scans", choices=self._scan_choices, tooltip="two or more open scan layers")
        self._folder = FileEdit(label="or a folder", mode="d", tooltip="every scan file in this folder instead")
        self._model = model_choice()
        self._mc_samples = SpinBox(label="MC samples", min=2, max=256, value=MC_SAMPLES)
        self._picked = wrapped(Label(label="scan", value="click a point of the plot"))
        self._report = FileEdit(label="report folder", mode="d")
        self._overwrite = CheckBox(text="replace an existing report", value=False)
        self._save = PushButton(text="Save report")
        self.plot = ThemedPlot(viewer, figsize=(4, 4.5), min_height=300)
        self.figure, self.canvas = self.plot.figure, self.plot.canvas
        self.extend(
            [
                self._scans,
                self._folder,
                self._model,
                self._mc_samples,
                self._run,
                self._progress,
                self._status,
                self._picked,
                self._report,
                self._overwrite,
                self._save,
            ]
        )
        self._scans.native.setMaximumHeight(80)
        layout = self.content.layout()  # the plot goes between the status and the picked scan's line
        layout.insertWidget(layout.indexOf(self._picked.native.parentWidget()), self.canvas, 1)
        self.track = None
        self._layers: list = []
        self.plot.draw(lambda figure: figure.text(0.5, 0.5, EMPTY_PLOT, ha="center", va="center", fontsize=8))
        self.canvas.mpl_connect("button_press_event", self._on_click)
        self._save.changed.connect(self.save_report)
        viewer.layers.events.inserted.connect(self._scans.reset_choices)
        viewer.layers.events.removed.connect(self._scans.reset_choices)

    def _scan_choices(self, *_) -> list:
        from napari.layers import Image

        def is_scan(layer) -> bool:  # a 2-D height map that is not a reconstruction's result
            meta = layer.metadata
            return (
                isinstance(layer, Image)
                and layer.ndim == 2
                and meta.get("kind") in ("height", None)
                and "method" not in meta
            )

        return [(layer.name, layer) for layer in self._viewer.layers if is_scan(layer)]

    def chosen(self):
        folder = str(self._folder.value or "")
        if folder not in ("", ".") and Path(folder).is_dir():
            return Path(folder)
        return list(self._scans.value)

    def check_layer(self, chosen) -> str | None:
        if isinstance(chosen, Path):
            return None
        if len(chosen) < 2:
            return "choose two or more scan layers (or a folder of scans)"
        return None

    def make_job(self, chosen) -> Job:
        from ..options import reconstruct_options
        from ..scan import Channel, Scan
        from ..wear.track import iter_track_tip

        if isinstance(chosen, Path):
            from ..io import find_scans, read_scan

            self._layers = []
            scans = [read_scan(f) for f in find_scans([chosen])]
        else:
            self._layers = chosen
            scans = [
                Scan(
                    channels=[Channel("Height", layer.data.astype(float), "nm", "height")],
                    pixel_nm=tuple(float(v) for v in layer.scale[-2:]),
                    source=layer.metadata.get("source") or layer.name,
                    metadata=dict(layer.metadata.get("scan_metadata") or {}),
                )
                for layer in chosen
            ]
        options = reconstruct_options("model", model=self._model.value, mc_samples=self._mc_samples.value)
        return Job(iter_track_tip, (scans,), {"options": options})

    def on_result(self, track, name: str) -> None:
        from ..wear.report import draw_wear
        from ..wear.session import session_summary

        self.track = track
        self.plot.draw(lambda figure: draw_wear(track, figure))
        self._progress.value = 100
        seconds = sum(s.seconds for s in track.states)
        self._status.value = "\n".join(
            [f"done in {seconds:.0f} s: {len(track.states)} scans, {len(track.events)} change(s)"]
            + [f"session tip {n}: {session_summary(t)}" for n, t in enumerate(track.sessions, 1)]
        )
        self._put_tips("tip wear: session tip", [(n, t) for n, t in enumerate(track.sessions, 1)])

    def _put_tips(self, name: str, tips: list) -> None:
        """Replace the layers named ``name …`` by a tip layer ``name N`` for each ``(N, tip)`` (a
        :class:`~napari_se3afm.wear.track.TipState` or :class:`~napari_se3afm.wear.session.SessionTip`)."""
        from .display import put_layers
        from .layers import tip_layer

        for old in [layer for layer in self._viewer.layers if layer.name.startswith(name)]:
            self._viewer.layers.remove(old)
        layers = []
        for n, tip in tips:
            spread = {k: v for k, v in tip.sigmas.items() if k != "apex_volume_nm3"}
            layers.append(tip_layer(tip.tip, tip.pixel_nm, f"{name} {n}", tip_std=tip.tip_std, spread=spread))
        put_layers(self._viewer, layers)

    def _on_click(self, event) -> None:
        if self.track is None or event.xdata is None:
            return
        self.pick(round(event.xdata))

    def pick(self, index: int) -> None:
        """Show scan ``index`` of the track: its layer selected and visible, its tip as the layer
        ``tip wear: tip of scan N`` (the Tip panel shows it in 3-D)."""
        from ..tip.descriptors import descriptor_text

        states = self.track.states
        index = min(max(index, 0), len(states) - 1)
        state = states[index]
        radius = descriptor_text(
            "apex_radius_nm", state.values["apex_radius_nm"], state.sigmas.get("apex_radius_nm"), " nm", state.pixel_nm
        )
        self._picked.value = f"{index + 1}: {Path(state.source).name}, apex radius {radius}"
        self._put_tips("tip wear: tip of scan", [(index + 1, state)])
        by_source = {layer.metadata.get("source") or layer.name: layer for layer in self._layers}
        layer = by_source.get(state.source)
        if layer is not None:
            for other in self._layers:
                other.visible = other is layer
            self._viewer.layers.selection = {layer}

    def save_report(self, *_) -> list[Path] | None:
        """Write the report of ``se3afm track`` into the chosen folder."""
        from napari.utils.notifications import show_error, show_info

        from ..wear.report import write_wear_report

        if self.track is None:
            show_error("Tip wear: track the tip first")
            return None
        folder = str(self._report.value or "")
        if folder in ("", "."):
            show_error("Tip wear: choose a report folder")
            return None
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            paths = write_wear_report(self.track, Path(folder), overwrite=self._overwrite.value)
        except Exception as exc:
            show_error(f"Tip wear: {exc}")
            return None
        show_info(f"Tip wear report written to {folder}")
        return paths
