"""The confusion matrix after a run: square, filling its side of the panel, its labels
beside it, in the theme's colours (no white square on a dark background).

The panel is shown the results a run reports; the tests read its pixels and hover its
cells with the mouse, as a user looks at it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF
from PySide6.QtGui import QColor, QHelpEvent, QImage, QPalette
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from netbuilder.ui import app as app_module
from netbuilder.ui.training.records import Results
from netbuilder.ui.training.results import ResultsPanel

CLASSES = tuple("0123456789")


def results(classes: tuple[str, ...] = CLASSES) -> Results:
    """A run that gets most of each class right and confuses class 3 with class 5."""
    count = len(classes)
    confusion = np.diag(np.full(count, 30))
    confusion[3, 5], confusion[3, 3] = 10, 20
    worst = np.zeros((2, 1, 8, 8))
    return Results(classes, confusion, float(np.trace(confusion) / confusion.sum()), worst,
                   np.array([3, 3]), np.array([5, 5]), np.array([0.7, 0.6]),
                   np.array([2.0, 1.5]))


@pytest.fixture(params=["light", "dark"])
def theme(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[str]:
    """Run the test in the light and in the dark theme."""
    before = qapp.palette()
    app_module.apply_theme(qapp, request.param)
    yield request.param
    qapp.setPalette(before)


@pytest.fixture
def panel(qtbot: QtBot, theme: str) -> ResultsPanel:
    widget = ResultsPanel()
    qtbot.addWidget(widget)
    widget.resize(1500, 460)  # the Training dock of a wide window
    with qtbot.waitExposed(widget):
        widget.show()
    widget.show_results(results())
    return widget


def pixel(image: QImage, point: QPointF) -> QColor:
    return image.pixelColor(round(point.x()), round(point.y()))


def test_the_matrix_is_square_and_fills_its_side(panel: ResultsPanel) -> None:
    view = panel.matrix
    shape = view.layout_now()
    side = shape.matrix.width()
    assert shape.matrix.height() == side
    assert side >= 0.8 * view.height() - 60  # only the title and labels beside it
    assert side >= 300
    assert view.width() <= view.width_for_height(view.height()) + 2  # no empty band
    assert view.width() < 0.6 * panel.width()  # the worst errors get the rest
    assert shape.row_labels.right() <= shape.matrix.left() <= shape.row_labels.right() + 12
    assert shape.matrix.bottom() <= shape.column_labels.top() <= shape.matrix.bottom() + 12


def test_cells_are_drawn_in_the_themes_colours(panel: ResultsPanel, theme: str) -> None:
    view = panel.matrix
    image = view.grab().toImage()
    matrix = view.layout_now().matrix
    cell = matrix.width() / len(CLASSES)

    def centre(row: int, column: int) -> QPointF:
        return QPointF(matrix.left() + (column + 0.5) * cell, matrix.top() + (row + 0.25) * cell)

    base = view.palette().color(QPalette.ColorRole.Base)
    empty, full = pixel(image, centre(0, 1)), pixel(image, centre(0, 0))
    assert abs(empty.lightnessF() - base.lightnessF()) < 0.1  # no white square when dark
    if theme == "dark":
        assert empty.lightnessF() < 0.3
    highlight = view.palette().color(QPalette.ColorRole.Highlight)
    assert full == highlight
    partial = pixel(image, centre(3, 5))  # a third of class 3
    assert min(empty.lightnessF(), full.lightnessF()) < partial.lightnessF() \
        < max(empty.lightnessF(), full.lightnessF())


def test_hovering_a_cell_says_what_it_counts(qtbot: QtBot, panel: ResultsPanel) -> None:
    view = panel.matrix
    matrix = view.layout_now().matrix
    cell = matrix.width() / len(CLASSES)
    point = QPoint(round(matrix.left() + 5.5 * cell), round(matrix.top() + 3.5 * cell))
    assert view.cell_at(QPointF(point)) == (3, 5)
    qtbot.mouseMove(view, point)
    # What Qt sends once the mouse rests there (offscreen, only to the active window,
    # which another test's window may still be): the tooltip request.
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, point,
                                            view.mapToGlobal(point)))
    qtbot.waitUntil(QToolTip.isVisible)
    assert QToolTip.text() == ("True class 3, predicted 5 (wrong): 10 of the 30 images of "
                               "class 3 (33%)")


def test_many_classes_name_every_few_and_still_fill_the_square(
        qtbot: QtBot, panel: ResultsPanel) -> None:
    classes = tuple(f"class{k}" for k in range(100))
    panel.show_results(results(classes))
    view = panel.matrix
    assert view.label_step() == 5
    shape = view.layout_now()
    assert shape.matrix.width() == shape.matrix.height() >= 250


def test_a_new_run_clears_the_matrix(panel: ResultsPanel) -> None:
    panel.clear()
    assert panel.matrix.counts.size == 0 and panel.matrix.cell_at(QPointF(200, 200)) is None
