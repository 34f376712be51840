"""The confusion matrix, drawn square at the size its space allows, in the theme's colours.

Rows are the true classes, columns the predicted ones; a cell's colour is the share of
its row (how often that true class was predicted as that column), from the background's
colour (never) to the theme's highlight (always), and its count is written in it when
there are few classes. Class names sit beside the rows and under the columns, with the
axis titles beyond them; hovering a cell says what it counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QHelpEvent, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

#: Classes up to which counts are written in the cells and every class is named.
LABELLED_CLASSES = 20
TITLE = "Confusion matrix (validation)"
_GAP = 6.0  # between the labels and the matrix, and around the whole drawing


@dataclass(frozen=True)
class MatrixGeometry:
    """Where the parts of the drawing go, in widget pixels.

    Attributes:
        matrix: The square of the cells.
        title: The title's band above everything.
        row_labels: The class names beside the rows (left of the matrix).
        column_labels: The class names under the columns.
    """

    matrix: QRectF
    title: QRectF
    row_labels: QRectF
    column_labels: QRectF

    @property
    def cell(self) -> float:
        """Side of one cell (0 when there are no classes)."""
        return self.matrix.width()


def mix(low: QColor, high: QColor, share: float) -> QColor:
    """The colour ``share`` (0..1) of the way from ``low`` to ``high``."""
    share = min(max(share, 0.0), 1.0)
    pairs = ((low.redF(), high.redF()), (low.greenF(), high.greenF()),
             (low.blueF(), high.blueF()))
    red, green, blue = (a + (b - a) * share for a, b in pairs)
    return QColor.fromRgbF(red, green, blue)


def text_on(color: QColor) -> QColor:
    """Black or white, whichever reads on ``color``."""
    red, green, blue = color.redF(), color.greenF(), color.blueF()
    return QColor("#111318") if 0.299 * red + 0.587 * green + 0.114 * blue > 0.55 \
        else QColor("#ffffff")


class ConfusionMatrixView(QWidget):
    """A confusion matrix that stays square and fills the widget."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts = np.zeros((0, 0), dtype=np.int64)
        self.share = np.zeros((0, 0))
        self.classes: tuple[str, ...] = ()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    # -- content -----------------------------------------------------------------------------
    def set_matrix(self, counts: np.ndarray, classes: Sequence[str]) -> None:
        """Show ``counts[true, predicted]`` for ``classes``."""
        self.counts = np.asarray(counts, dtype=np.int64)
        rows = self.counts.sum(axis=1, keepdims=True).astype(np.float64)
        self.share = np.divide(self.counts, rows, out=np.zeros(self.counts.shape),
                               where=rows > 0)
        self.classes = tuple(str(name) for name in classes)
        self.update()

    def clear(self) -> None:
        """Show nothing (a new run started)."""
        self.set_matrix(np.zeros((0, 0), dtype=np.int64), ())

    def sizeHint(self) -> QSize:
        """Room for a readable 10-class matrix."""
        return QSize(420, 420)

    def minimumSizeHint(self) -> QSize:
        """Small, but with room for the labels."""
        return QSize(160, 160)

    # -- geometry ----------------------------------------------------------------------------
    def label_step(self) -> int:
        """Every how many classes a name is written (all of them up to 20 classes)."""
        return max(1, -(-len(self.classes) // LABELLED_CLASSES))

    def _label_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() - 0.5, 7.0))
        return font

    def _margins(self) -> tuple[float, float, float, float]:
        """Room for the labels: left, top and bottom of the matrix, and a line's height."""
        metrics = QFontMetricsF(self._label_font())
        line = metrics.height()
        names = self.classes[::self.label_step()] or ("0",)
        label_width = max(metrics.horizontalAdvance(name) for name in names)
        left = _GAP + line + _GAP + label_width + _GAP  # axis title, names, gap
        top = _GAP + line + _GAP  # the title
        bottom = _GAP + line + line + _GAP  # names, axis title
        return left, top, bottom, line

    def width_for_height(self, height: float) -> int:
        """The width at which a matrix of ``height`` pixels is square with no room to spare."""
        left, top, bottom, _line = self._margins()
        return round(left + max(0.0, height - top - bottom) + _GAP)

    def geometry_for(self, width: float, height: float) -> MatrixGeometry:
        """The layout of the drawing in a widget of ``width`` × ``height`` pixels."""
        left, top, bottom, line = self._margins()
        metrics = QFontMetricsF(self._label_font())
        names = self.classes[::self.label_step()] or ("0",)
        label_width = max(metrics.horizontalAdvance(name) for name in names)
        side = max(0.0, min(width - left - _GAP, height - top - bottom))
        # The drawing (labels and matrix) is centred in the width it does not fill.
        shift = max(0.0, (width - left - _GAP - side) / 2)
        matrix = QRectF(left + shift, top, side, side)
        return MatrixGeometry(
            matrix=matrix,
            title=QRectF(0.0, _GAP, width, line),
            row_labels=QRectF(matrix.left() - _GAP - label_width, top, label_width, side),
            column_labels=QRectF(matrix.left(), matrix.bottom() + _GAP / 2, side, line))

    def layout_now(self) -> MatrixGeometry:
        """The layout at the widget's current size."""
        return self.geometry_for(float(self.width()), float(self.height()))

    def cell_at(self, point: QPointF) -> tuple[int, int] | None:
        """``(true, predicted)`` of the cell under ``point``, if any."""
        matrix, count = self.layout_now().matrix, len(self.classes)
        if not count or not matrix.contains(point):
            return None
        size = matrix.width() / count
        row = min(int((point.y() - matrix.top()) // size), count - 1)
        column = min(int((point.x() - matrix.left()) // size), count - 1)
        return row, column

    def cell_color(self, row: int, column: int) -> QColor:
        """The colour of a cell: its share of the row, from background to highlight."""
        low, high = self.theme_colors()
        return mix(low, high, float(self.share[row, column]))

    def theme_colors(self) -> tuple[QColor, QColor]:
        """The colours of an empty and of a full cell in the current palette."""
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        high = palette.color(QPalette.ColorRole.Highlight)
        return mix(base, text, 0.06), high

    # -- drawing -----------------------------------------------------------------------------
    def paintEvent(self, _event: object) -> None:
        """Title, axis titles, class names and cells."""
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        shape = self.layout_now()
        painter.setPen(text)
        painter.drawText(shape.title, Qt.AlignmentFlag.AlignCenter, TITLE)
        if not self.classes:
            painter.end()
            return
        painter.setFont(self._label_font())
        self._paint_cells(painter, shape.matrix)
        painter.setPen(text)
        self._paint_names(painter, shape)
        self._paint_axis_titles(painter, shape)
        painter.end()

    def _paint_cells(self, painter: QPainter, matrix: QRectF) -> None:
        count = len(self.classes)
        size = matrix.width() / count
        write = count <= LABELLED_CLASSES and size >= 14
        for (row, column), value in np.ndenumerate(self.counts):
            cell = QRectF(matrix.left() + column * size, matrix.top() + row * size,
                          size, size)
            color = self.cell_color(row, column)
            painter.fillRect(cell, color)
            if write and value:
                painter.setPen(text_on(color))
                painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, str(int(value)))

    def _paint_names(self, painter: QPainter, shape: MatrixGeometry) -> None:
        count, step = len(self.classes), self.label_step()
        size = shape.matrix.width() / count
        for k in range(0, count, step):
            name = self.classes[k]
            row = QRectF(shape.row_labels.left(), shape.matrix.top() + k * size,
                         shape.row_labels.width(), size)
            painter.drawText(row, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             name)
            room = size * step  # a name may use the width of the unnamed columns
            column = QRectF(shape.matrix.left() + (k + 0.5) * size - room / 2,
                            shape.column_labels.top(), room, shape.column_labels.height())
            short = painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight,
                                                     int(room))
            painter.drawText(column, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                             short)

    def _paint_axis_titles(self, painter: QPainter, shape: MatrixGeometry) -> None:
        line = shape.column_labels.height()
        below = QRectF(shape.matrix.left(), shape.column_labels.bottom(),
                       shape.matrix.width(), line)
        painter.drawText(below, Qt.AlignmentFlag.AlignCenter, "predicted class")
        painter.save()
        centre = QPointF(shape.row_labels.left() - _GAP - line / 2, shape.matrix.center().y())
        painter.translate(centre)
        painter.rotate(-90)
        painter.drawText(QRectF(-shape.matrix.height() / 2, -line / 2, shape.matrix.height(),
                                line), Qt.AlignmentFlag.AlignCenter, "true class")
        painter.restore()

    # -- hover -------------------------------------------------------------------------------
    def cell_text(self, row: int, column: int) -> str:
        """What a cell counts, in words."""
        total = int(self.counts[row].sum())
        value = int(self.counts[row, column])
        true, predicted = self.classes[row], self.classes[column]
        verdict = "right" if row == column else "wrong"
        return (f"True class {true}, predicted {predicted} ({verdict}): {value:,} of the "
                f"{total:,} images of class {true} ({self.share[row, column]:.0%})")

    def event(self, event: QEvent) -> bool:
        """Explain the cell under the mouse in a tooltip."""
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            cell = self.cell_at(QPointF(event.pos()))
            if cell is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), self.cell_text(*cell), self)
            return True
        return super().event(event)
