"""The background grid: minor and major lines drawn in two batched ``drawLines`` calls."""

from __future__ import annotations

from PySide6.QtCore import QLineF, QRectF
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from netbuilder.ui.canvas.style import CanvasStyle

#: Spacing of the background grid, in scene pixels (every fifth line is stronger).
GRID = 24.0
_MIN_PIXELS = 7.0


class GridPainter:
    """Draws the grid for an exposed rect, reusing the line lists of recent rects."""

    def __init__(self) -> None:
        self._cache: dict[tuple[float, ...], list[QLineF]] = {}

    def clear(self) -> None:
        """Forget the cached lines."""
        self._cache.clear()

    def paint(self, painter: QPainter, rect: QRectF, style: CanvasStyle) -> None:
        """Fill ``rect`` with the background and draw the grid lines dense enough to see."""
        painter.fillRect(rect, style.brushes["background"])
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for spacing, pen in ((GRID, "grid_minor"), (GRID * 5, "grid_major")):
            if spacing * lod < _MIN_PIXELS:
                continue
            painter.setPen(style.pens[pen])
            painter.drawLines(self._lines(rect, spacing, skip_major=spacing == GRID))

    def _lines(self, rect: QRectF, spacing: float, skip_major: bool) -> list[QLineF]:
        left = (rect.left() // spacing) * spacing
        top = (rect.top() // spacing) * spacing
        key = (spacing, left, top, rect.right(), rect.bottom())
        lines = self._cache.get(key)
        if lines is None:
            lines = _grid_lines(left, top, rect, spacing, skip_major)
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = lines
        return lines


def _grid_lines(left: float, top: float, rect: QRectF, spacing: float,
                skip_major: bool) -> list[QLineF]:
    major = spacing * 5
    lines = []
    x = left
    while x <= rect.right():
        if not (skip_major and x % major == 0):
            lines.append(QLineF(x, rect.top(), x, rect.bottom()))
        x += spacing
    y = top
    while y <= rect.bottom():
        if not (skip_major and y % major == 0):
            lines.append(QLineF(rect.left(), y, rect.right(), y))
        y += spacing
    return lines
