"""The Experiments panel's plots: curves, parallel coordinates, importance, Pareto front.

Each plot is a pyqtgraph widget with one ``show(snapshot, selected)`` method that redraws
it from a :class:`~netbuilder.experiments.study.Snapshot`; none reads the study itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from netbuilder.experiments.study import Snapshot, TrialRow
from netbuilder.ui.plotting import show_grid

#: Colours of trials, cycled (colour-blind safe, Okabe–Ito).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")


def colour(number: int) -> str:
    """The colour of trial ``number``."""
    return COLOURS[number % len(COLOURS)]


class CurvesPlot(pg.PlotWidget):
    """Validation curves of the selected trials (all trials when none is selected).

    No legend over the curves: the trials table is the legend (each trial's number
    carries its colour).
    """

    def __init__(self, parent: QWidget | None = None, metric: str = "val_acc") -> None:
        super().__init__(parent=parent)
        self.setObjectName("experimentCurves")
        self.metric = metric
        self.setBackground(None)
        self.setLabel("left", metric)
        self.setLabel("bottom", "epoch")
        self.getAxis("left").enableAutoSIPrefix(False)
        show_grid(self, alpha=0.2)
        self.curves: dict[int, pg.PlotDataItem] = {}

    def show_trials(self, rows: Sequence[TrialRow]) -> None:
        """Draw one curve per trial of ``rows`` that has finished an epoch.

        Curves already drawn are updated in place (``setData``): a study that moves on
        by one epoch costs one small update, not a redrawn plot.
        """
        wanted: dict[int, tuple[list[float], list[float]]] = {}
        for row in rows:
            points = [(float(e["epoch"]), float(value)) for e in row.curve
                      if isinstance(value := e.get(self.metric), (int, float))]
            if points:
                wanted[row.number] = ([p[0] for p in points], [p[1] for p in points])
        for number in [n for n in self.curves if n not in wanted]:
            self.removeItem(self.curves.pop(number))
        for number, (xs, ys) in sorted(wanted.items()):
            if number in self.curves:
                self.curves[number].setData(xs, ys)
                continue
            self.curves[number] = self.plot(
                xs, ys, pen=pg.mkPen(colour(number), width=2), symbol="o", symbolSize=5,
                symbolBrush=colour(number), name=f"#{number}")


def _numeric(value: Any, choices: list[Any]) -> float:
    """A parameter value as a number (a category: its index among the choices)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if value not in choices:
        choices.append(value)
    return float(choices.index(value))


class ParallelCoordinates(pg.PlotWidget):
    """One line per completed trial across the parameters and the first objective."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setObjectName("experimentParallel")
        self.setBackground(None)
        self.setMouseEnabled(x=False, y=False)
        self.hideAxis("left")
        self.lines: dict[int, pg.PlotDataItem] = {}

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Redraw from ``snapshot`` (each axis scaled to its own range)."""
        self.clear()
        self.lines = {}
        rows = [r for r in snapshot.rows if r.values is not None]
        axes = [*snapshot.keys, snapshot.objectives[0]] if snapshot.objectives else []
        if not rows or not axes:
            return
        table = [self._column(rows, key, index == len(axes) - 1)
                 for index, key in enumerate(axes)]
        for position, row in enumerate(rows):
            ys = [column[position] for column in table]
            self.lines[row.number] = self.plot(
                list(range(len(axes))), ys, pen=pg.mkPen(colour(row.number), width=2))
        ticks = [(i, _short(key)) for i, key in enumerate(axes)]
        self.getAxis("bottom").setTicks([ticks])
        self.setXRange(-0.2, len(axes) - 0.8)

    @staticmethod
    def _column(rows: Sequence[TrialRow], key: str, objective: bool) -> list[float]:
        choices: list[Any] = []
        raw = [row.values[0] if objective and row.values else _numeric(row.params.get(key),
                                                                        choices)
               for row in rows]
        logs = key == "lr" or (min(raw) > 0 and max(raw) / max(min(raw), 1e-30) > 100)
        values = [math.log10(v) if logs and v > 0 else v for v in raw]
        low, high = min(values), max(values)
        return [0.5 if high == low else (v - low) / (high - low) for v in values]


def _short(key: str) -> str:
    return key if len(key) <= 18 else f"…{key[-17:]}"


class ImportancePlot(pg.PlotWidget):
    """Optuna's parameter importance, one bar per parameter."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setObjectName("experimentImportance")
        self.setBackground(None)
        self.setLabel("left", "importance")
        self.setMouseEnabled(x=False, y=False)
        self.bars: pg.BarGraphItem | None = None

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Redraw the bars (none until two different trials have completed)."""
        self.clear()
        self.bars = None
        names = list(snapshot.importance)
        if not names:
            return
        heights = [snapshot.importance[n] for n in names]
        self.bars = pg.BarGraphItem(x=list(range(len(names))), height=heights, width=0.6,
                                    brush=COLOURS[0])
        self.addItem(self.bars)
        self.getAxis("bottom").setTicks([[(i, _short(n)) for i, n in enumerate(names)]])
        self.setYRange(0, 1)


class ParetoPlot(pg.PlotWidget):
    """The first objective against the second (or against MACs): the front highlighted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setObjectName("experimentPareto")
        self.setBackground(None)
        for side in ("left", "bottom"):
            self.getAxis(side).enableAutoSIPrefix(False)
        show_grid(self, alpha=0.2)
        self.front: list[int] = []

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Redraw the scatter of completed trials, the Pareto front joined by a line."""
        self.clear()
        rows = [r for r in snapshot.rows if r.values is not None]
        if not rows or not snapshot.objectives:
            self.front = []
            return
        two = len(snapshot.objectives) > 1
        x_name = snapshot.objectives[1] if two else "macs"
        self.setLabel("bottom", x_name)
        self.setLabel("left", snapshot.objectives[0])
        points = [(self._x(row, two), row.values[0] if row.values else 0.0, row)
                  for row in rows]
        self.plot([p[0] for p in points], [p[1] for p in points], pen=None, symbol="o",
                  symbolSize=9, symbolBrush=[colour(p[2].number) for p in points])
        front = sorted((p for p in points if p[2].number in snapshot.pareto),
                       key=lambda p: p[0])
        self.front = [p[2].number for p in front]
        if len(front) > 1:
            self.plot([p[0] for p in front], [p[1] for p in front],
                      pen=pg.mkPen("#D55E00", width=2, style=pg.QtCore.Qt.PenStyle.DashLine))

    @staticmethod
    def _x(row: TrialRow, two: bool) -> float:
        if two and row.values is not None and len(row.values) > 1:
            return float(row.values[1])
        return float(row.metrics.get("macs") or 0)

