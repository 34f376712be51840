"""The training progress strip and the loss axis: cheap to keep on screen while training.

Both exist because the GUI thread shares the cores with training: a Fusion
``QProgressBar`` in progress repaints itself (and the widgets beneath it) about 60 times
a second, and pyqtgraph's auto-range moves the loss axis on every redraw.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QProgressBar, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from netbuilder.training.callbacks import EpochEnd
from netbuilder.ui.training.curves import CurvesPanel, loss_axis
from netbuilder.ui.training.progress import ProgressStrip
from netbuilder.ui.training.records import BatchChunk, RunInfo


class PaintCounter(QObject):
    """Counts the paint events a widget receives."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def shown(qtbot: QtBot, bar: QWidget) -> QWidget:
    host = QWidget()
    qtbot.addWidget(host)
    QVBoxLayout(host).addWidget(bar)
    host.resize(400, 40)
    with qtbot.waitExposed(host):
        host.show()
    return host


def test_the_strip_keeps_the_progress_bar_interface(qapp: QApplication) -> None:
    strip = ProgressStrip()
    strip.setRange(0, 1000)
    strip.setValue(1500)
    assert strip.value() == 1000 and strip.fraction() == 1.0
    strip.setValue(-3)
    assert strip.value() == 0
    strip.setValue(250)
    strip.setFormat("Epoch 1/4 · step 3/23")
    assert strip.format() == strip.text() == "Epoch 1/4 · step 3/23"
    assert strip.fraction() == pytest.approx(0.25) and not strip.busy
    strip.setRange(0, 0)
    assert strip.busy and strip.value() == 0 and strip.fraction() == 0.0
    assert strip.accessibleDescription() == "Epoch 1/4 · step 3/23"


def deliver_pending_events() -> None:
    """Deliver every event already posted (repaints included): no time passes."""
    QApplication.sendPostedEvents()
    QApplication.processEvents()


def test_the_strip_repaints_only_when_it_changes(qtbot: QtBot, qapp: QApplication) -> None:
    """Busy (preparing), then started at 0: no repaint, where Fusion's bar animates on."""
    strip, bar = ProgressStrip(), QProgressBar()
    for widget in (strip, bar):
        widget.setRange(0, 0)
    hosts = shown(qtbot, strip), shown(qtbot, bar)
    for widget in (strip, bar):
        widget.setRange(0, 1000)
        widget.setValue(0)
        widget.setFormat("Epoch 1/4")
    deliver_pending_events()
    strips, bars = PaintCounter(strip), PaintCounter(bar)
    if qapp.style().name().lower() == "fusion":  # the reason for the strip
        qtbot.waitUntil(lambda: bars.count >= 5, timeout=5000)
    deliver_pending_events()
    assert strips.count == 0
    strip.setValue(600)
    qtbot.waitUntil(lambda: strips.count == 1)
    strip.setValue(600)
    strip.setFormat("Epoch 1/4")
    deliver_pending_events()
    assert strips.count == 1
    assert all(host.isVisible() for host in hosts)


def test_the_strip_draws_its_text_and_fill(qtbot: QtBot) -> None:
    strip = ProgressStrip()
    strip.setValue(700)
    strip.setFormat("Epoch 3/4")
    host = shown(qtbot, strip)
    image = strip.grab().toImage()
    assert host.isVisible()
    y = image.height() // 2
    filled = image.pixelColor(int(image.width() * 0.2), y)
    empty = image.pixelColor(int(image.width() * 0.95), y)
    assert filled != empty


@pytest.mark.parametrize(("values", "log", "expected"), [
    ([2.3, 1.0, 0.2], False, (0.0, 2.5)),
    ([0.99], False, (0.0, 1.2)),
    ([0.031, 0.002], False, (0.0, 0.04)),
    ([2.3, 0.02], True, (-2.0, 1.0)),
    ([0.5], True, (-1.0, 0.0)),
    ([], False, None),
    ([0.0], True, None),
])
def test_loss_axis_steps(values: list[float], log: bool,
                         expected: tuple[float, float] | None) -> None:
    got = loss_axis(np.array(values, dtype=float), log)
    assert got == (pytest.approx(expected) if expected is not None else None)


def feed(curves: CurvesPanel, first: int, count: int, loss: np.ndarray) -> None:
    steps = np.arange(first, first + count, dtype=float)
    curves.add_batches(BatchChunk(steps, loss, np.full(count, 0.5), np.full(count, 1e-3),
                                  None))  # type: ignore[arg-type]
    curves.redraw()


def test_a_falling_loss_leaves_the_axis_alone_until_it_leaves_it(qtbot: QtBot) -> None:
    curves = CurvesPanel()
    qtbot.addWidget(curves)
    curves.resize(900, 300)
    curves.show()
    info = RunInfo(4, 20, 32, 0, tuple("0123456789"), (), None, None, None, None, "cpu", "")
    curves.begin_run(info, "Run 1")
    view = curves.loss_plot.getViewBox()
    feed(curves, 0, 20, np.linspace(2.3, 1.0, 20))
    assert view.viewRange()[1] == pytest.approx([0.0, 2.5])
    moves: list[object] = []
    view.sigYRangeChanged.connect(lambda *_a: moves.append(1))
    for k in range(1, 4):
        feed(curves, 20 * k, 20, np.linspace(1.0, 0.3, 20) / k)
    curves.add_epoch(EpochEnd(1, 4, 1.0, 0.5, 0.9, 0.7, 1e-3, 100.0, 1.0))
    curves.redraw()
    assert not moves and view.viewRange()[1] == pytest.approx([0.0, 2.5])
    feed(curves, 80, 1, np.array([7.0]))  # a spike above the axis widens it
    assert view.viewRange()[1] == pytest.approx([0.0, 8.0])
    view.setYRange(0.0, 1.0, padding=0)
    view.sigRangeChangedManually.emit([False, True])  # as a zoom with the wheel does
    feed(curves, 81, 1, np.array([9.5]))
    assert view.viewRange()[1] == pytest.approx([0.0, 1.0])  # the user's view stays
    view.enableAutoRange(y=True)  # the plot's "A" button
    feed(curves, 82, 1, np.array([0.5]))
    assert view.viewRange()[1] == pytest.approx([0.0, 10.0])
    curves.log_loss.setChecked(True)
    assert view.viewRange()[1] == pytest.approx([-1.0, 1.0])


def test_a_long_run_is_drawn_as_each_pixel_columns_extremes(qtbot: QtBot) -> None:
    curves = CurvesPanel()
    qtbot.addWidget(curves)
    curves.resize(900, 300)
    with qtbot.waitExposed(curves):
        curves.show()
    info = RunInfo(20, 1000, 32, 0, tuple("0123456789"), (), None, None, None, None, "cpu",
                   "")
    curves.begin_run(info, "Run 1")
    rng = np.random.default_rng(0)
    loss = 2.0 * np.exp(-np.arange(20_000) / 4000) + 0.2 * rng.random(20_000)
    loss[12_345] = 3.9  # a spike a single step long
    feed(curves, 0, 20_000, loss)
    shown = curves.loss_raw_item.curve
    width = curves.loss_plot.getViewBox().width()
    assert 0 < shown.xData.size <= 2 * width + 4  # a minimum and a maximum per column
    assert shown.yData.max() == pytest.approx(3.9)  # the spike survives
    column = 20 / width  # epochs per pixel column
    assert shown.xData[-1] >= 19_999 / 1000 - column  # the newest steps, to a column
    curves.loss_plot.setXRange(12.3, 12.4, padding=0)  # zoomed in on 100 steps
    qtbot.waitUntil(lambda: curves.loss_raw_item.curve.xData.size >= 100)
    assert curves.loss_raw_item.curve.xData.size <= 110
