"""Plots inside the panels: matplotlib figures drawn in the colours of napari's theme."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["LossCurve", "ThemedPlot", "theme_style"]


def theme_style(theme_name: str) -> dict:
    """matplotlib settings that draw a plot in the colours of napari's theme (dark or light)."""
    from napari.utils.theme import get_theme

    theme = get_theme(theme_name)
    back, panel, text = theme.background.as_hex(), theme.foreground.as_hex(), theme.text.as_hex()
    return {
        "figure.facecolor": back,
        "axes.facecolor": panel,
        "axes.edgecolor": text,
        "axes.labelcolor": text,
        "xtick.color": text,
        "ytick.color": text,
        "text.color": text,
        "grid.color": text,
    }


class ThemedPlot:
    """A matplotlib figure on a Qt canvas (``.canvas``, to put in a panel), redrawn in the theme of
    ``viewer`` by :meth:`draw`."""

    def __init__(self, viewer, figsize: tuple[float, float], min_height: int) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self._viewer = viewer
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(min_height)

    def draw(self, draw: Callable) -> None:
        """Clear the figure and ``draw(figure)`` in the viewer's theme colours."""
        from matplotlib import rc_context

        style = theme_style(self._viewer.theme)
        with rc_context(style):
            self.figure.clear()
            self.figure.set_facecolor(style["figure.facecolor"])
            draw(self.figure)
        self.canvas.draw_idle()


class LossCurve(ThemedPlot):
    """The fine-tuning loss of every step so far (``.losses``), on a log scale where it spans more
    than a factor of ten."""

    EMPTY = "the loss of each fine-tuning step shows here"

    def __init__(self, viewer) -> None:
        super().__init__(viewer, figsize=(4, 1.8), min_height=130)
        self.losses: list[float] = []
        self.set_losses([])

    def set_losses(self, losses: list[float]) -> None:
        self.losses = list(losses)
        positive = [(i + 1, v) for i, v in enumerate(self.losses) if v > 0]

        def draw(figure) -> None:
            if len(positive) < 2:
                figure.text(0.5, 0.5, self.EMPTY, ha="center", va="center", fontsize=8)
                return
            ax = figure.add_subplot()
            steps, values = zip(*positive, strict=True)
            ax.plot(steps, values, lw=1.5)
            if max(values) > 10 * min(values):
                ax.set_yscale("log")
            ax.set_xlabel("step", fontsize=8)
            ax.set_ylabel("loss", fontsize=8)
            ax.tick_params(labelsize=7)

        self.draw(draw)
