"""Learning curves: training loss per step (raw and smoothed), validation loss and accuracy
per epoch, learning rate; earlier runs of the project drawn underneath.

Each plot's legend sits in the row under it (:class:`~netbuilder.ui.training.legend.
PlotLegend`), never over the data, and names the earlier runs drawn too. Before the first
run, with no earlier run to draw, the panel says "No run yet — press Train" instead of
showing empty axes.

Every curve is one ``PlotDataItem`` whose data is replaced with ``setData`` at most
:data:`REDRAW_HZ` times a second and only while the panel is visible; long runs stay fast
with peak downsampling and clip-to-view. The x axis of every plot is the epoch (a step is
a fraction of one), so the plots are linked and runs of different lengths line up.

Repainting is what costs in the GUI thread (it competes with training for the GIL and,
when training uses every core, for a core), so the axes — which draw the grid — are
cached as pixmaps, the x range is set to the whole run when it starts, and the loss axis
moves in steps of a 1-2-2.5-3-4-5-6-8 ladder (decades on a log axis) rather than
following every point: appending points then changes no axis, and a repaint is a blit of
the axes plus the curves. pyqtgraph's own auto-range would rescale the loss axis on
every redraw and repaint twice (``bench/bench_gui_training.py`` measured 9 ms against
5.5 ms a repaint). A user who zooms or pans the loss plot keeps the view; the plot's
auto-range button ("A") hands it back to the curves.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QGraphicsItem,
    QHBoxLayout,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from netbuilder.training.callbacks import EpochEnd
from netbuilder.ui.plotting import show_grid
from netbuilder.ui.training.common import (
    Throttle,
    caption,
    named,
    palette_colors,
    series_color,
)
from netbuilder.ui.training.legend import PlotLegend
from netbuilder.ui.training.records import BatchChunk, RunInfo
from netbuilder.ui.training.series import DEFAULT_SMOOTHING, Series, Smoother

#: Earlier runs drawn under the current one.
PAST_SHOWN = 3
#: Points per curve kept in a saved run record.
RECORD_POINTS = 300
#: Most redraws per second while training runs.
REDRAW_HZ = 4
#: Steps per pixel column above which a curve is drawn as each column's extremes.
SAMPLES_PER_PIXEL = 1.0
#: The mantissas a loss axis may end at (times a power of ten).
NICE_TOPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
#: What the panel says before the first run (no earlier run shown either).
EMPTY_TEXT = "No run yet — press Train"


class CurvesPanel(QWidget):
    """The learning curves of the current run over those of earlier runs.

    Signals:
        runRecorded(dict): A finished run as a small JSON-able record (for the project).
    """

    runRecorded = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "curvesPanel", "Learning curves")
        self.steps_per_epoch = 1
        self.label = ""
        self.raw = Series()
        self.smooth = Series()
        self.acc_raw = Series()
        self.acc_smooth = Series()
        self.lr = Series()
        self.epochs: list[EpochEnd] = []
        self.past: list[dict[str, Any]] = []
        #: The finished run still drawn in colour (not drawn again as an earlier run).
        self.current_record: dict[str, Any] | None = None
        self._loss_smoother = Smoother()
        self._acc_smoother = Smoother()
        self._dirty = False
        self.started = False  # a run began since the panel was last cleared
        self._throttle = Throttle(REDRAW_HZ, self.redraw, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self._controls())
        self.graphics = pg.GraphicsLayoutWidget()
        named(self.graphics, "curvesPlots", "Loss, accuracy and learning-rate plots",
              "Drag to pan, wheel to zoom, right-click for options; double-click resets; "
              "click a legend line to hide or show its curve")
        self.empty = caption(EMPTY_TEXT, "curvesEmpty",
                             "The loss, accuracy and learning rate are drawn here as the "
                             "network trains")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pages = QStackedWidget()
        named(self.pages, "curvesPages", "Learning curves")
        self.pages.addWidget(self.empty)
        self.pages.addWidget(self.graphics)
        layout.addWidget(self.pages, 1)
        self._make_plots()
        self.apply_theme()
        self._show_page()

    # -- construction -------------------------------------------------------------------------
    def _controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setContentsMargins(6, 2, 6, 0)
        row.setSpacing(8)
        self.smoothing = QDoubleSpinBox()
        named(self.smoothing, "curvesSmoothing", "Smoothing",
              "Weight of the moving average of the smoothed training curves (0: none)")
        self.smoothing.setRange(0.0, 0.99)
        self.smoothing.setSingleStep(0.05)
        self.smoothing.setValue(DEFAULT_SMOOTHING)
        self.smoothing.valueChanged.connect(self.set_smoothing)
        self.show_past = QCheckBox("Earlier runs")
        named(self.show_past, "curvesShowPast", "Show earlier runs",
              "Draw the curves of this project's earlier runs underneath, in grey")
        self.show_past.setChecked(True)
        self.show_past.toggled.connect(lambda _on: self._draw_past())
        self.log_loss = QCheckBox("Log loss")
        named(self.log_loss, "curvesLogLoss", "Logarithmic loss axis",
              "Draw the loss on a logarithmic axis")
        self.log_loss.toggled.connect(self._log_toggled)
        csv_button = QPushButton("Export CSV…")
        named(csv_button, "curvesExportCsv", "Export curves as CSV",
              "Save every step's loss, accuracy and learning rate, and every epoch's "
              "validation figures, as a CSV table")
        csv_button.clicked.connect(self._ask_csv)
        png_button = QPushButton("Export PNG…")
        named(png_button, "curvesExportPng", "Export curves as PNG",
              "Save a picture of the plots")
        png_button.clicked.connect(self._ask_png)
        self.run_label = caption("No run yet", "curvesRunLabel",
                                 "The run whose curves are drawn in colour")
        smoothing_label = caption("Smoothing", "curvesSmoothingLabel")
        smoothing_label.setBuddy(self.smoothing)
        for widget in (smoothing_label, self.smoothing, self.log_loss, self.show_past):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.run_label)
        row.addStretch(1)
        row.addWidget(csv_button)
        row.addWidget(png_button)
        return row

    def _make_plots(self) -> None:
        self.legends: dict[pg.PlotItem, PlotLegend] = {}
        self.loss_plot = self._plot(0, "Loss", "loss")
        self.acc_plot = self._plot(1, "Accuracy", "accuracy")
        self.lr_plot = self._plot(2, "Learning rate", "lr")
        self.acc_plot.setYRange(0.0, 1.0, padding=0.02)
        self.lr_plot.enableAutoRange(y=False)
        self.loss_plot.enableAutoRange(y=False)
        self._loss_range: tuple[float, float] | None = None
        self._loss_manual = False
        self._past_losses = np.empty(0)  # the loss values of the earlier runs drawn
        self.loss_plot.getViewBox().sigRangeChangedManually.connect(self._loss_zoomed)
        self.acc_plot.setXLink(self.loss_plot)
        self.lr_plot.setXLink(self.loss_plot)
        grid = self.graphics.ci.layout
        grid.setRowStretchFactor(0, 1)
        for column in range(3):
            grid.setColumnStretchFactor(column, 1)
        self.past_items: list[tuple[pg.PlotItem, pg.PlotDataItem]] = []
        self._past_entries: list[tuple[PlotLegend, pg.PlotDataItem]] = []
        self._looks: list[tuple[pg.PlotDataItem, str, float, int, bool]] = []
        self.loss_raw_item = self._curve(self.loss_plot, "train (raw)", "train", 1.0, alpha=80)
        self.loss_item = self._curve(self.loss_plot, "train (smoothed)", "smooth", 2.2)
        self.val_loss_item = self._curve(self.loss_plot, "validation", "val", 2.2, symbol=True)
        self.acc_item = self._curve(self.acc_plot, "train (smoothed)", "acc", 2.0)
        self.val_acc_item = self._curve(self.acc_plot, "validation", "val", 2.2, symbol=True)
        self.lr_item = self._curve(self.lr_plot, "learning rate", "lr", 2.0)

    def _plot(self, column: int, title: str, name: str) -> pg.PlotItem:
        """A plot in ``column`` with its legend in the row under it (off the data)."""
        plot = self.graphics.addPlot(row=0, col=column, title=title)
        plot.setObjectName(f"curvesPlot{name.title()}")
        show_grid(plot)
        plot.setLabel("bottom", "epoch")
        legend = PlotLegend()
        legend.setObjectName(f"curvesLegend{name.title()}")
        self.graphics.addItem(legend, row=1, col=column)
        legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.legends[plot] = legend
        plot.setMenuEnabled(True)
        plot.getViewBox().setMouseMode(pg.ViewBox.RectMode)
        for axis in ("left", "bottom"):
            item = plot.getAxis(axis)
            item.setStyle(maxTickLevel=1)
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        return plot

    def _curve(self, plot: pg.PlotItem, name: str, series: str, width: float, *,
               alpha: int = 255, symbol: bool = False) -> pg.PlotDataItem:
        options: dict[str, Any] = {}
        if symbol:
            options.update(symbol="o", symbolSize=6)
        item = plot.plot([], [], **options)
        self.legends[plot].addItem(item, name)
        item.setDownsampling(auto=True, method="peak")
        # pyqtgraph keeps ~5 points per pixel column; with "peak" (each column's minimum
        # and maximum) one is as exact on screen and a repaint of a long run costs a
        # third (3.5 → 1.2 ms with 5,000 steps drawn). Zooming in shows every step again.
        item.opts["autoDownsampleFactor"] = SAMPLES_PER_PIXEL
        item.setClipToView(True)
        self._looks.append((item, series, width, alpha, symbol))
        return item

    def _paint_curves(self) -> None:
        """Give every curve its pen (and symbols) in the theme's colours."""
        for item, series, width, alpha, symbol in self._looks:
            color = series_color(series)
            pen = QColor(color)
            pen.setAlpha(alpha)
            item.setPen(pg.mkPen(pen, width=width))
            if symbol:
                item.setSymbolBrush(color)
                item.setSymbolPen(pg.mkPen(color))

    # -- theme ---------------------------------------------------------------------------------
    def apply_theme(self) -> None:
        """Draw the plots in the application palette's colours."""
        base, text, _grid = palette_colors()
        self.graphics.setBackground(base)
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            plot.setTitle(plot.titleLabel.text, color=text.name(), size="9pt")
            for axis in ("left", "bottom"):
                item = plot.getAxis(axis)
                item.setPen(pg.mkPen(text))
                item.setTextPen(pg.mkPen(text))
            self.legends[plot].set_text_color(text)
        self.empty.setStyleSheet(f"color: {text.name()}; font-size: 13pt;")
        self._paint_curves()
        self._draw_past()

    def changeEvent(self, event: QEvent) -> None:
        """Follow theme changes."""
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_theme()
        super().changeEvent(event)

    # -- a run --------------------------------------------------------------------------------
    def clear(self, label: str = "No run yet") -> None:
        """Forget the current run's curves (another document, or a new run)."""
        self.label = label
        for series in (self.raw, self.smooth, self.acc_raw, self.acc_smooth, self.lr):
            series.clear()
        self.epochs.clear()
        self.started = False
        self.current_record = None
        self._loss_smoother.reset()
        self._acc_smoother.reset()
        self.run_label.setText(label)
        self._draw_past()
        self._dirty = True
        self.redraw()

    def begin_run(self, info: RunInfo, label: str) -> None:
        """Clear the colour curves for a new run of ``info``."""
        self.steps_per_epoch = max(info.steps_per_epoch, 1)
        self._loss_manual = False
        self.clear(label)
        self.started = True
        self._show_page()
        first = info.start_step / self.steps_per_epoch
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            plot.enableAutoRange(x=False)
            plot.setXRange(first, max(info.epochs, first + 1), padding=0.01)
        self._dirty = True
        self.redraw()

    def add_batches(self, chunk: BatchChunk) -> None:
        """Append the steps of ``chunk`` (drawn now when visible)."""
        x = chunk.steps / self.steps_per_epoch
        self.raw.extend(x, chunk.loss)
        self.smooth.extend(x, self._loss_smoother(chunk.loss))
        self.acc_raw.extend(x, chunk.acc)
        self.acc_smooth.extend(x, self._acc_smoother(chunk.acc))
        self.lr.extend(x, chunk.lr)
        self._changed()

    def add_epoch(self, epoch: EpochEnd) -> None:
        """Append an epoch's validation figures."""
        self.epochs.append(epoch)
        self._changed()

    def _changed(self) -> None:
        """Redraw now, or when :data:`REDRAW_HZ` allows (only while visible)."""
        self._dirty = True
        if self.isVisible():
            self._throttle.poke()

    def end_run(self) -> dict[str, Any] | None:
        """Keep the finished run as an earlier run; return its record (``None``: empty)."""
        self._throttle.flush()  # the last steps are drawn, not left pending
        if not self.raw.size:
            return None
        record = self.record()
        self.current_record = record
        self.past.insert(0, record)
        del self.past[PAST_SHOWN * 3:]
        self.runRecorded.emit(record)
        return record

    def record(self) -> dict[str, Any]:
        """The current run as a small JSON-able record."""
        pick = _thin(self.smooth.size, RECORD_POINTS)
        return {
            "label": self.label,
            "x": [round(float(v), 5) for v in self.smooth.x[pick]],
            "loss": [_round(v) for v in self.smooth.y[pick]],
            "epochs": [e.epoch for e in self.epochs],
            "val_loss": [_round(e.val_loss) for e in self.epochs],
            "val_acc": [_round(e.val_acc) for e in self.epochs],
        }

    def set_past_runs(self, records: list[dict[str, Any]]) -> None:
        """Show ``records`` (newest first) as the earlier runs."""
        self.past = [r for r in records if isinstance(r, dict)]
        self._draw_past()

    def set_smoothing(self, weight: float) -> None:
        """Smooth the training curves with ``weight`` (recomputed over the whole run)."""
        self._loss_smoother = Smoother(weight)
        self._acc_smoother = Smoother(weight)
        self.smooth.clear()
        self.smooth.extend(self.raw.x, self._loss_smoother(self.raw.y))
        self.acc_smooth.clear()
        self.acc_smooth.extend(self.acc_raw.x, self._acc_smoother(self.acc_raw.y))
        self._dirty = True
        self.redraw()

    # -- drawing --------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        """Draw what arrived while hidden."""
        super().showEvent(event)
        self.redraw()

    def redraw(self) -> None:
        """Hand the data to the curves (when anything changed)."""
        if not self._dirty:
            return
        self._dirty = False
        self.loss_raw_item.setData(self.raw.x, self.raw.y)
        self.loss_item.setData(self.smooth.x, self.smooth.y)
        self.acc_item.setData(self.acc_smooth.x, self.acc_smooth.y)
        self.lr_item.setData(self.lr.x, self.lr.y)
        self._fit_lr()
        val = [e for e in self.epochs if e.val_loss is not None]
        self.val_loss_item.setData([e.epoch for e in val], [e.val_loss for e in val])
        self.val_acc_item.setData([e.epoch for e in val], [e.val_acc for e in val])
        self._fit_loss()

    # -- the loss axis --------------------------------------------------------------------------
    def _loss_values(self) -> np.ndarray:
        """Every loss value drawn: this run's steps and epochs, and the earlier runs shown."""
        epochs = np.array([e.val_loss for e in self.epochs if e.val_loss is not None],
                          dtype=float)
        values = np.concatenate([self.raw.y, epochs, self._past_losses])
        return values[np.isfinite(values)]

    def _fit_loss(self) -> None:
        """Move the loss axis when the curves' extent reaches another step of the ladder."""
        view = self.loss_plot.getViewBox()
        if view.autoRangeEnabled()[1]:  # the user pressed "A": the curves lead again
            view.enableAutoRange(y=False)
            self._loss_manual, self._loss_range = False, None
        if self._loss_manual:
            return
        target = loss_axis(self._loss_values(), self.log_loss.isChecked())
        if target is not None and target != self._loss_range:
            self._loss_range = target
            self.loss_plot.setYRange(*target, padding=0)

    def _loss_zoomed(self, _mask: object = None) -> None:
        """The user zoomed or panned the loss plot: leave its range alone."""
        self._loss_manual = True

    def _log_toggled(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self._loss_manual, self._loss_range = False, None
        self._fit_loss()

    def _fit_lr(self) -> None:
        """Show the learning rate from 0 to a little above its peak (moved only when the
        peak changes, so that the cached axis stays valid)."""
        if not self.lr.size:
            return
        top = float(np.nanmax(self.lr.y)) * 1.15
        _bottom, current = self.lr_plot.getViewBox().viewRange()[1]
        if math.isfinite(top) and top > 0 and not math.isclose(top, current, rel_tol=1e-3):
            self.lr_plot.setYRange(0.0, top, padding=0)

    def _draw_past(self) -> None:
        """Draw the earlier runs shown, dashed grey, each with a legend entry."""
        for plot, item in self.past_items:
            plot.removeItem(item)
        self.past_items.clear()
        for legend, item in self._past_entries:
            legend.removeItem(item)
        self._past_entries.clear()
        losses: list[np.ndarray] = []
        if self.show_past.isChecked():
            color = series_color("past")
            earlier = [r for r in self.past if r is not self.current_record]
            for rank, record in enumerate(earlier[:PAST_SHOWN]):
                color.setAlpha(170 - 40 * rank)
                pen = pg.mkPen(color, width=1.6, style=Qt.PenStyle.DashLine)
                losses += self._draw_run(record, pen)
        self._past_losses = np.concatenate(losses) if losses else np.empty(0)
        self._fit_loss()
        self._show_page()

    def _draw_run(self, record: dict[str, Any], pen: Any) -> list[np.ndarray]:
        """Draw one earlier run; return the loss values drawn."""
        name = past_run_name(record)
        loss = [self._past_curve(self.loss_plot, record.get("x"), record.get("loss"), pen),
                self._past_curve(self.loss_plot, record.get("epochs"),
                                 record.get("val_loss"), pen)]
        accuracy = self._past_curve(self.acc_plot, record.get("epochs"),
                                    record.get("val_acc"), pen)
        for plot, drawn in ((self.loss_plot, loss), (self.acc_plot, [accuracy])):
            item = next((item for item, _values in drawn if item is not None), None)
            if item is not None:
                self.legends[plot].addItem(item, name)
                self._past_entries.append((self.legends[plot], item))
        return [values for _item, values in loss]

    def _past_curve(self, plot: pg.PlotItem, x: Any, y: Any,
                    pen: Any) -> tuple[pg.PlotDataItem | None, np.ndarray]:
        """Draw an earlier run's curve; return it and its values (none when empty)."""
        if not x or not y or len(x) != len(y):
            return None, np.empty(0)
        values = np.array([np.nan if v is None else v for v in y], dtype=float)
        item = pg.PlotDataItem(np.asarray(x, dtype=float), values, pen=pen, connect="finite")
        item.setZValue(-10)
        plot.addItem(item)
        self.past_items.append((plot, item))
        return item, values

    def _show_page(self) -> None:
        """The plots once a run started or an earlier run is drawn; else the empty state."""
        has_curves = self.started or bool(self.past_items)
        page = self.graphics if has_curves else self.empty
        if self.pages.currentWidget() is not page:
            self.pages.setCurrentWidget(page)
            if has_curves:  # size the plots now: the first points are thinned to their width
                self.graphics.ci.layout.activate()

    # -- export -------------------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> Path:
        """Write one row per step (validation figures on the step that ended each epoch)."""
        target = Path(path)
        val = {e.epoch * self.steps_per_epoch: e for e in self.epochs}
        with target.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["step", "epoch", "train_loss", "train_loss_smoothed",
                             "train_acc_smoothed", "lr", "val_loss", "val_acc"])
            for k in range(self.raw.size):
                step = round(float(self.raw.x[k]) * self.steps_per_epoch)
                epoch = val.get(step)
                writer.writerow([step, f"{self.raw.x[k]:.6g}", _cell(self.raw.y[k]),
                                 _cell(self.smooth.y[k]), _cell(self.acc_smooth.y[k]),
                                 _cell(self.lr.y[k]),
                                 _cell(epoch.val_loss) if epoch else "",
                                 _cell(epoch.val_acc) if epoch else ""])
        return target

    def export_png(self, path: str | Path, width: int = 1800) -> Path:
        """Save the three plots as one picture (pyqtgraph's image exporter)."""
        from pyqtgraph.exporters import ImageExporter

        self.redraw()
        exporter = ImageExporter(self.graphics.scene())
        exporter.parameters()["width"] = width
        exporter.export(str(path))
        return Path(path)

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export curves", "curves.csv",
                                              "CSV tables (*.csv)")
        if path:
            self.export_csv(path)

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export curves", "curves.png",
                                              "PNG images (*.png)")
        if path:
            self.export_png(path)


def loss_axis(values: np.ndarray, log: bool) -> tuple[float, float] | None:
    """The range of a loss axis showing ``values``: from 0 to the next step of
    :data:`NICE_TOPS` above the largest value, or whole decades (in log10 units) on a
    log axis; ``None`` when there is nothing to show."""
    if log:
        positive = values[values > 0]
        if not positive.size:
            return None
        low = math.floor(math.log10(float(positive.min())))
        high = math.ceil(math.log10(float(positive.max())))
        return float(low), float(max(high, low + 1))
    if not values.size:
        return None
    peak = float(values.max()) * 1.02  # a little room above the highest point
    if peak <= 0:
        return 0.0, 1.0
    scale = 10.0 ** math.floor(math.log10(peak))
    top = next(m for m in NICE_TOPS if m * scale >= peak) * scale
    return min(0.0, float(values.min())), top


def past_run_name(record: dict[str, Any]) -> str:
    """The legend entry of an earlier run: ``Run 2 (earlier)``."""
    label = str(record.get("label") or "").split(" · ")[0].strip()
    return f"{label or 'Run'} (earlier)"


def _thin(size: int, points: int) -> np.ndarray:
    """Indices of at most ``points`` evenly spread samples of ``size`` (last one kept)."""
    if size <= points:
        return np.arange(size)
    return np.unique(np.linspace(0, size - 1, points).round().astype(int))


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.5g}")


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"
