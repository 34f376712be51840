"""Per-layer statistics, as ConvNetJS shows them: activation mean and spread, gradient norm.

Twice a second while training runs, a probe in the training thread reads every node's
gradient norm (as the latest step left it) and — while this tab is shown — the mean and
standard deviation of every node's output over a batch of validation images. A table
lists them; two bar charts show the activations (mean ± std) and the gradient norms on a
logarithmic scale with the vanishing and exploding thresholds. Nodes whose gradient norm
is out of range are reported with :attr:`StatsPanel.flagsChanged` (the panel puts them on
the canvas).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QGraphicsItem,
    QHeaderView,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from netbuilder.ui.plotting import show_grid
from netbuilder.ui.training.common import (
    FLAG_COLORS,
    SERIES,
    caption,
    named,
    palette_colors,
    short_number,
)
from netbuilder.ui.training.records import LayerInfo, RunInfo
from netbuilder.ui.training.session import TrainingSession

if TYPE_CHECKING:
    from netbuilder.training.trainer import Trainer

#: Probes per second while training runs.
STATS_HZ = 1
#: Default thresholds (see :mod:`netbuilder.training.probes`).
VANISHING, EXPLODING = 1e-7, 1e3
COLUMNS = ("Node", "Block", "Act. mean", "Act. std", "Grad. norm", "Status")
_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class LayerStats:
    """What a statistics probe brought back.

    Attributes:
        gradients: Gradient norm per node with trainable weights.
        activations: Mean and standard deviation of each node's output (``None``: not
            measured this time).
    """

    gradients: dict[str, float]
    activations: dict[str, tuple[float, float]] | None


def stats_task(inputs: Any, activations: bool) -> Any:
    """A probe task: gradient norms, and activation statistics over ``inputs``."""

    def task(trainer: Trainer) -> LayerStats:
        from netbuilder.training import probes

        norms = probes.gradient_norms(trainer.model)
        acts = probes.activation_stats(trainer.model, inputs) if activations else None
        return LayerStats(norms, acts)

    return task


class StatsModel(QAbstractTableModel):
    """Rows of layers with their latest statistics."""

    def __init__(self) -> None:
        super().__init__()
        self.layers: list[LayerInfo] = []
        self.gradients: dict[str, float] = {}
        self.activations: dict[str, tuple[float, float]] = {}
        self.node_flags: dict[str, str] = {}

    def set_layers(self, layers: tuple[LayerInfo, ...]) -> None:
        """Show ``layers`` with no statistics yet."""
        self.beginResetModel()
        self.layers = list(layers)
        self.gradients, self.activations, self.node_flags = {}, {}, {}
        self.endResetModel()

    def update(self, stats: LayerStats, flags: Mapping[str, str]) -> None:
        """Take new statistics (activations kept when not measured this time)."""
        self.gradients = dict(stats.gradients)
        if stats.activations is not None:
            self.activations = dict(stats.activations)
        self.node_flags = dict(flags)
        if self.layers:
            self.dataChanged.emit(self.index(0, 2), self.index(len(self.layers) - 1, 5))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.layers)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        layer = self.layers[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(layer, index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole and 2 <= index.column() <= 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 5:
            flag = self.node_flags.get(layer.node_id)
            return QBrush(QColor(FLAG_COLORS[flag])) if flag else None
        return None

    def _text(self, layer: LayerInfo, column: int) -> str:
        node = layer.node_id
        if column == 0:
            return layer.name
        if column == 1:
            return layer.block
        if column in (2, 3):
            pair = self.activations.get(node)
            return short_number(pair[column - 2]) if pair is not None else ""
        if column == 4:
            norm = self.gradients.get(node)
            return short_number(norm) if norm is not None else ("" if not layer.has_weights
                                                                 else "…")
        flag = self.node_flags.get(node)
        return flag if flag else ("ok" if node in self.gradients else "")


class StatsPanel(QWidget):
    """Live per-layer statistics.

    Signals:
        flagsChanged(dict): Node id → ``vanishing``/``exploding`` for flagged gradients.

    Attributes:
        vanishing: Gradient norms below this are flagged.
        exploding: Gradient norms above this are flagged.
    """

    flagsChanged = Signal(dict)

    def __init__(self, session: TrainingSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "statsPanel", "Layer statistics")
        self.session = session
        self.info: RunInfo | None = None
        self.vanishing, self.exploding = VANISHING, EXPLODING
        self.flags: dict[str, str] = {}
        self._sized = False
        self.model = StatsModel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.note = caption("Statistics appear once training runs", "statsNote",
                            "Gradient norms as the latest step left them; activations over "
                            "a batch of validation images")
        self.note.setContentsMargins(6, 2, 6, 0)
        layout.addWidget(self.note)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        named(splitter, "statsSplitter", "Statistics table and charts")
        splitter.addWidget(self._table())
        splitter.addWidget(self._charts())
        splitter.setSizes([420, 800])
        layout.addWidget(splitter, 1)
        self.timer = QTimer(self)
        self.timer.setObjectName("statsTimer")
        self.timer.setInterval(1000 // STATS_HZ)
        self.timer.timeout.connect(self.request)
        self.apply_theme()

    def _table(self) -> QTableView:
        table = QTableView()
        named(table, "statsTable", "Per-layer statistics table",
              "Activation mean and standard deviation, and gradient norm, of every node")
        table.setModel(self.model)
        table.verticalHeader().hide()
        table.setAlternatingRowColors(True)
        table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)
        self.table = table
        return table

    def _charts(self) -> pg.GraphicsLayoutWidget:
        self.graphics = pg.GraphicsLayoutWidget()
        named(self.graphics, "statsCharts", "Activation and gradient charts")
        self.act_plot = self.graphics.addPlot(row=0, col=0, title="Activations: mean ± std")
        self.grad_plot = self.graphics.addPlot(row=0, col=1,
                                               title="Gradient norm (log₁₀)")
        self.grad_plot.setYLink(self.act_plot)
        self.grad_plot.getAxis("left").setStyle(showValues=False)
        for plot in (self.act_plot, self.grad_plot):
            show_grid(plot, y=False)
            plot.getViewBox().invertY(True)
            plot.setMouseEnabled(x=True, y=False)
            plot.enableAutoRange(x=False, y=False)
            for axis in ("left", "bottom"):  # cached: an update then only redraws the bars
                plot.getAxis(axis).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.grad_plot.setXRange(math.log10(self.vanishing) - 2, math.log10(self.exploding) + 1,
                                 padding=0.02)
        self.act_plot.setXRange(-1.0, 1.0, padding=0.02)
        self.act_bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[])
        self.act_errors = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), beam=0.25)
        self.grad_bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[])
        self.act_plot.addItem(self.act_bars)
        self.act_plot.addItem(self.act_errors)
        self.grad_plot.addItem(self.grad_bars)
        for value, flag in ((self.vanishing, "vanishing"), (self.exploding, "exploding")):
            position = math.log10(value)
            self.grad_plot.addItem(pg.InfiniteLine(position, angle=90, pen=pg.mkPen(
                FLAG_COLORS[flag], width=1.2, style=Qt.PenStyle.DashLine)))
            label = pg.TextItem(flag, color=FLAG_COLORS[flag], anchor=(0.5, 0.5))
            label.setPos(position, -0.75)  # in the spare row above the first layer
            self.grad_plot.addItem(label)
        return self.graphics

    # -- theme ---------------------------------------------------------------------------------
    def apply_theme(self) -> None:
        """Draw in the application palette's colours."""
        base, text, _grid = palette_colors()
        self.graphics.setBackground(base)
        for plot in (self.act_plot, self.grad_plot):
            plot.setTitle(plot.titleLabel.text, color=text.name(), size="9pt")
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setPen(pg.mkPen(text))
                plot.getAxis(axis).setTextPen(pg.mkPen(text))
        self.act_errors.setData(pen=pg.mkPen(text, width=1.2))

    def changeEvent(self, event: QEvent) -> None:
        """Follow theme changes."""
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_theme()
        super().changeEvent(event)

    # -- a run ---------------------------------------------------------------------------------
    def set_run(self, info: RunInfo) -> None:
        """A run started: list its layers, forget old flags, probe on the timer."""
        self.info = info
        self.model.set_layers(info.layers)
        ticks = [[(k, layer.name) for k, layer in enumerate(info.layers)]]
        self.act_plot.getAxis("left").setTicks(ticks)
        self.act_plot.setYRange(-1.2, len(info.layers) - 0.5, padding=0)  # a row for labels
        self._set_flags({})
        self._sized = False
        self._size_columns()
        self.note.setText("Waiting for the first steps…")
        self.timer.start()

    def _size_columns(self) -> None:
        """Fit the columns to their text once (not on every update: that costs), the
        node names taking the spare room."""
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def clear(self) -> None:
        """Forget the run and its flags (another document)."""
        self.info = None
        self.timer.stop()
        self.model.set_layers(())
        self._set_flags({})
        self.note.setText("Statistics appear once training runs")

    def set_live(self, running: bool) -> None:
        """Probe on the timer while a run goes on; once more when it ended."""
        if running:
            self.timer.start()
        else:
            self.timer.stop()
            self.request()

    def showEvent(self, event: QShowEvent) -> None:
        """Measure the activations when the tab is shown."""
        super().showEvent(event)
        self.request()

    def request(self) -> None:
        """Ask the training thread for the statistics."""
        info = self.info
        if info is None:
            return
        inputs = info.inputs
        self.session.probe("stats", stats_task(inputs, self.isVisible()), self.show_stats)

    def show_stats(self, stats: LayerStats) -> None:
        """Show a probe's result and flag the nodes out of range."""
        from netbuilder.training.probes import flag_gradients

        flags = flag_gradients(stats.gradients, self.vanishing, self.exploding)
        self.model.update(stats, flags)
        if not self._sized and stats.activations is not None:
            self._size_columns()
            self._sized = True
        self._set_flags(flags)
        self._draw(stats)
        count = len(flags)
        self.note.setText(f"{count} layer{'s' * (count != 1)} with vanishing or exploding "
                          f"gradients" if count else
                          "Gradient norms are within range (10⁻⁷ … 10³)")

    def _set_flags(self, flags: dict[str, str]) -> None:
        if flags != self.flags:
            self.flags = flags
            self.flagsChanged.emit(dict(flags))

    def _draw(self, stats: LayerStats) -> None:
        layers = self.model.layers
        acts = self.model.activations
        rows = [k for k, layer in enumerate(layers) if layer.node_id in acts]
        if rows:
            means = np.array([acts[layers[k].node_id][0] for k in rows])
            stds = np.array([acts[layers[k].node_id][1] for k in rows])
            self.act_bars.setOpts(x0=np.zeros(len(rows)), y=rows, width=means, height=0.6,
                                  brush=pg.mkBrush(SERIES["train"]), pen=None)
            self.act_errors.setData(x=means, y=np.array(rows, float), left=stds, right=stds,
                                    height=None)
            _cover(self.act_plot, min(0.0, float((means - stds).min())),
                   max(0.0, float((means + stds).max())))
        self._draw_gradients(layers, stats.gradients)

    def _draw_gradients(self, layers: list[LayerInfo], norms: Mapping[str, float]) -> None:
        rows = [k for k, layer in enumerate(layers) if layer.node_id in norms]
        values = np.array([_log10(norms[layers[k].node_id]) for k in rows])
        floor = min(math.log10(self.vanishing) - 1, float(values.min()) - 0.5) \
            if len(values) else -8.0
        brushes = [pg.mkBrush(FLAG_COLORS.get(self.flags.get(layers[k].node_id, ""),
                                              SERIES["lr"])) for k in rows]
        self.grad_bars.setOpts(x0=np.full(len(rows), floor), y=rows, height=0.6,
                               width=values - floor, brushes=brushes, pen=None)
        if len(values):
            _cover(self.grad_plot, floor, max(float(values.max()),
                                             math.log10(self.exploding)) + 0.5)


def _cover(plot: pg.PlotItem, low: float, high: float) -> None:
    """Widen (or, when far too wide, narrow) the x range of ``plot`` to ``low … high``.

    The range is changed only when the data leave it or fill less than a quarter of it,
    so that most updates leave the (cached) axes alone.
    """
    (left, right), _ = plot.getViewBox().viewRange()
    span = max(high - low, 1e-9)
    if low < left or high > right or (right - left) > 4 * span:
        plot.setXRange(low - 0.1 * span, high + 0.1 * span, padding=0)


def _log10(value: float) -> float:
    if not math.isfinite(value):
        return 6.0
    return math.log10(max(value, 1e-20))
