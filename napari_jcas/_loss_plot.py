"""A live plot of the training losses, redrawn at most a few times a second."""
from __future__ import annotations

import time

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtGui import QWheelEvent
from qtpy.QtWidgets import QAbstractScrollArea, QApplication

#: Colours that read on napari's dark theme.
BACKGROUND, FOREGROUND = "#262930", "#d1d2d4"


class LossPlot(FigureCanvasQTAgg):
    """Loss curves against the optimisation step, one line per loss term, and a marker where a stage starts.

    The losses jump where the corrected stage starts (the transition matrices come in) and where the
    next fold model starts: a dashed line, labelled with the stage, marks each such step. The legend
    stands beside the axes, so that it hides no stage's label; the mouse wheel scrolls the dock the plot is in.

    Parameters
    ----------
    interval : float
        Least number of seconds between two redraws while points arrive.
    """

    def __init__(self, interval: float = 0.5):
        figure = Figure(figsize=(4, 2.4), facecolor=BACKGROUND, layout="constrained")
        super().__init__(figure)
        self.axes = figure.add_subplot()
        self.interval = interval
        self.steps: list[int] = []
        self.losses: dict[str, list[float]] = {}
        self.stages: list[tuple[int, str]] = []  # (first step, name) of every stage
        self._drawn_at = 0.0
        self.legend = None
        self.setMinimumHeight(180)
        self._style()

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Pass the mouse wheel to the scroll bar of the scroll area the plot is in: the dock scrolls, the plot
        neither zooms nor scrolls (matplotlib would take the wheel, and the dock would stop scrolling here)."""
        area = self.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is None:
            event.ignore()
        else:
            QApplication.sendEvent(area.verticalScrollBar(), event)

    def _style(self) -> None:
        axes = self.axes
        axes.set_facecolor(BACKGROUND)
        axes.tick_params(colors=FOREGROUND, labelsize=7)
        for spine in axes.spines.values():
            spine.set_color(FOREGROUND)
        axes.set_xlabel("step", color=FOREGROUND, fontsize=8)
        axes.set_ylabel("loss", color=FOREGROUND, fontsize=8)

    def reset(self) -> None:
        """Forget all points."""
        self.steps.clear()
        self.losses.clear()
        self.stages.clear()
        self.redraw()

    def add(self, step: int, losses: dict[str, float], stage: str | None = None) -> None:
        """Add the losses of one step (of ``stage``, e.g. "fold 1 warmup"); redraw if the last redraw is old enough."""
        if stage is not None and (not self.stages or self.stages[-1][1] != stage):
            self.stages.append((step, stage))
        self.steps.append(step)
        for name, value in losses.items():
            series = self.losses.setdefault(name, [float("nan")] * (len(self.steps) - 1))
            series.append(value)
        for series in self.losses.values():
            if len(series) < len(self.steps):
                series.append(float("nan"))
        if time.monotonic() - self._drawn_at >= self.interval:
            self.redraw()

    def redraw(self) -> None:
        """Draw all curves now."""
        self.axes.clear()
        self._style()
        for name, series in self.losses.items():
            self.axes.plot(self.steps, series, label=name, linewidth=2.0 if name == "total" else 1.0)
        for step, stage in self.stages[1:]:
            self.axes.axvline(step, color=FOREGROUND, linestyle="--", linewidth=0.8, alpha=0.7)
            self.axes.annotate(stage, (step, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2),  # upright:
                               textcoords="offset points", va="top", ha="left", rotation=90,  # 4 folds' stages fit
                               fontsize=6, color=FOREGROUND)
        if self.legend is not None:
            self.legend.remove()
            self.legend = None
        if self.losses:  # beside the axes, where it hides neither a curve nor a stage's name
            self.legend = self.figure.legend(*self.axes.get_legend_handles_labels(), loc="outside right upper",
                                             fontsize=6, facecolor=BACKGROUND, edgecolor=FOREGROUND)
            for text in self.legend.get_texts():
                text.set_color(FOREGROUND)
        self.draw_idle()
        self._drawn_at = time.monotonic()
