"""How long napari's event loop stalls from the click on Reconstruct to the result layers.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python bench/bench_gui_stall.py [SCAN]

Opens a real scan (default: the 256² Bruker scan of ../shared/data/real, else the bundled sample)
in a shown napari window, docks the Reconstruct panel, and runs the default method twice (the first
run loads the model). A 10 ms timer on the event loop records when it fires; the longest gap
between two firings from the click until the layers are shown is the stall the user feels. Also
printed: the seconds from the click to the layers, and to the first progress that moves.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real" / "topostats__old_bruker.002"


def run_once(viewer, widget, scan) -> dict:
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    moved: list[float] = []
    widget._progress.changed.connect(lambda v: moved.append(time.perf_counter()) if v > 0 and not moved else None)
    for _ in range(20):  # the loop idles before the click
        QApplication.processEvents()
        time.sleep(0.01)
    clicked = time.perf_counter()
    widget._run.clicked.emit()
    while widget.worker is not None or f"{scan.name} surface" not in viewer.layers:
        QApplication.processEvents()
        time.sleep(0.002)
    done = time.perf_counter()
    for _ in range(10):  # the layers drawn
        QApplication.processEvents()
        time.sleep(0.01)
    timer.stop()
    seen = [clicked] + [t for t in ticks if t > clicked] + [time.perf_counter()]
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    worst = max(range(len(gaps)), key=gaps.__getitem__)
    return {
        "to layers s": done - clicked,
        "first progress s": (moved[0] - clicked) if moved else float("nan"),
        "longest stall s": gaps[worst],
        "it began s after the click": seen[worst] - clicked,
    }


def main() -> None:
    import napari

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else REAL
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1600, 1000)
    scan = (
        viewer.open(str(path), plugin="napari-se3afm")[0]
        if path.is_file()
        else viewer.open_sample("napari-se3afm", "spikes")[0]
    )
    _, widget = viewer.window.add_plugin_dock_widget("napari-se3afm", "Reconstruct")
    widget._image.value = scan
    for run in ("first (loads the model)", "second"):
        figures = run_once(viewer, widget, scan)
        print(f"{scan.name}, {run}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))
        for layer in [layer for layer in viewer.layers if layer is not scan]:
            viewer.layers.remove(layer)
    viewer.close()


if __name__ == "__main__":
    main()
