"""Icons drawn with QPainter: one per block family and one per editor action.

No image files are needed: every glyph is a few vector strokes on a 16×16 grid, rendered
into pixmaps at several sizes so that the icons stay crisp on high-DPI screens. Family
icons are coloured (the family's colour on a tinted tile); action icons are monochrome in
the colour of the current palette's text, so they follow light and dark themes.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication

Glyph = Callable[[QPainter, QColor], None]

#: Colour of each block family (shared with the canvas where it has none of its own).
FAMILY_COLORS: dict[str, str] = {
    "Input/Output": "#6b7a8f",
    "Structure": "#8a8f98",
    "Convolution": "#3b7dd8",
    "Linear": "#7a5cc7",
    "Pooling": "#1e9e8f",
    "Normalization": "#d49a1f",
    "Activation": "#d9622b",
    "Regularization": "#9b8f4e",
    "Merge": "#c2417d",
    "Transformer": "#a83232",
    "Composite": "#2f9a55",
    "User blocks": "#5f6b7a",
}
_FALLBACK = "#667085"
_SIZES = (16, 20, 24, 32, 48, 64)


def family_color(family: str) -> QColor:
    """The colour of a block family (grey for families without one)."""
    return QColor(FAMILY_COLORS.get(family, _FALLBACK))


def _pen(color: QColor, width: float = 1.4) -> QPen:
    pen = QPen(color, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _render(glyph: Glyph, color: QColor, tile: QColor | None = None) -> QIcon:
    """An icon of ``glyph`` at every standard size (drawn on a 16×16 grid)."""
    icon = QIcon()
    for size in _SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.scale(size / 16.0, size / 16.0)
        if tile is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(tile)
            painter.drawRoundedRect(QRectF(0.5, 0.5, 15, 15), 3.5, 3.5)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        glyph(painter, color)
        painter.end()
        icon.addPixmap(pixmap)
    return icon


# -- family glyphs ------------------------------------------------------------------------
def _io(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c))
    p.drawLine(QPointF(3, 8), QPointF(10, 8))
    p.drawPolyline([QPointF(7.5, 5.2), QPointF(10.3, 8), QPointF(7.5, 10.8)])
    p.drawPolyline([QPointF(9.5, 3.5), QPointF(12.8, 3.5), QPointF(12.8, 12.5),
                    QPointF(9.5, 12.5)])


def _structure(p: QPainter, c: QColor) -> None:
    pen = _pen(c, 1.2)
    pen.setDashPattern([1.6, 1.4])
    p.setPen(pen)
    p.drawRoundedRect(QRectF(2.8, 2.8, 10.4, 10.4), 2, 2)
    p.setPen(_pen(c))
    p.drawLine(QPointF(8, 5.5), QPointF(8, 10.5))


def _conv(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.0))
    for k in range(4):
        x = 3 + k * 10 / 3
        p.drawLine(QPointF(x, 3), QPointF(x, 13))
        p.drawLine(QPointF(3, x), QPointF(13, x))
    fill = QColor(c)
    fill.setAlpha(150)
    p.fillRect(QRectF(3, 3, 20 / 3, 20 / 3), fill)


def _linear(p: QPainter, c: QColor) -> None:
    left = [QPointF(4, 4), QPointF(4, 8), QPointF(4, 12)]
    right = [QPointF(12, 5.5), QPointF(12, 10.5)]
    p.setPen(_pen(c, 0.8))
    for a in left:
        for b in right:
            p.drawLine(a, b)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(c)
    for point in left + right:
        p.drawEllipse(point, 1.5, 1.5)


def _pool(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.0))
    for x in (2.5, 5.5):
        for y in (3.5, 6.5):
            p.drawRect(QRectF(x, y, 3, 3))
    p.drawLine(QPointF(9, 6.5), QPointF(11, 8.5))
    p.setBrush(c)
    p.drawRect(QRectF(11, 8.5, 3.5, 3.5))


def _norm(p: QPainter, c: QColor) -> None:
    path = QPainterPath(QPointF(2, 12.5))
    path.cubicTo(QPointF(5.5, 12.5), QPointF(6, 3), QPointF(8, 3))
    path.cubicTo(QPointF(10, 3), QPointF(10.5, 12.5), QPointF(14, 12.5))
    p.setPen(_pen(c))
    p.drawPath(path)
    p.setPen(_pen(c, 0.9))
    p.drawLine(QPointF(2, 13.5), QPointF(14, 13.5))


def _activation(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 0.8))
    p.drawLine(QPointF(2, 10), QPointF(14, 10))
    p.setPen(_pen(c, 1.6))
    p.drawPolyline([QPointF(2.5, 10), QPointF(8, 10), QPointF(13, 3.5)])


def _regularization(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.1))
    for k, (x, y) in enumerate(((4.5, 4.5), (11.5, 4.5), (4.5, 11.5), (11.5, 11.5))):
        if k in (1, 2):
            p.drawLine(QPointF(x - 2, y - 2), QPointF(x + 2, y + 2))
            p.drawLine(QPointF(x - 2, y + 2), QPointF(x + 2, y - 2))
        else:
            p.drawEllipse(QPointF(x, y), 2.2, 2.2)


def _merge(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c))
    p.drawPolyline([QPointF(3, 2.5), QPointF(8, 8), QPointF(13, 2.5)])
    p.drawLine(QPointF(8, 8), QPointF(8, 13.5))
    p.drawEllipse(QPointF(8, 8), 1.4, 1.4)


def _composite(p: QPainter, c: QColor) -> None:
    fill = QColor(c)
    fill.setAlpha(90)
    p.setPen(_pen(c, 1.0))
    for k in range(3):
        p.setBrush(fill)
        p.drawRoundedRect(QRectF(2.5 + k * 1.8, 2.5 + k * 3.3, 8.5, 4.2), 1.2, 1.2)


def _user(p: QPainter, c: QColor) -> None:
    path = QPainterPath(QPointF(4.5, 2.5))
    for point in ((11.5, 2.5), (11.5, 13.5), (8, 10.5), (4.5, 13.5)):
        path.lineTo(QPointF(*point))
    path.closeSubpath()
    p.setPen(_pen(c, 1.2))
    p.drawPath(path)


def _letter(letter: str) -> Glyph:
    def draw(p: QPainter, c: QColor) -> None:
        font = p.font()
        font.setPixelSize(10)
        font.setBold(True)
        p.setFont(font)
        p.setPen(c)
        p.drawText(QRectF(0, 0, 16, 16), Qt.AlignmentFlag.AlignCenter, letter)
    return draw


_FAMILY_GLYPHS: dict[str, Glyph] = {
    "Input/Output": _io, "Structure": _structure, "Convolution": _conv, "Linear": _linear,
    "Pooling": _pool, "Normalization": _norm, "Activation": _activation,
    "Regularization": _regularization, "Merge": _merge, "Composite": _composite,
    "User blocks": _user,
}


_FAMILY_ICONS: dict[str, QIcon] = {}


def family_icon(family: str) -> QIcon:
    """The palette icon of a block family: its glyph in its colour on a tinted tile."""
    icon = _FAMILY_ICONS.get(family)
    if icon is None:
        icon = _FAMILY_ICONS[family] = _draw_family_icon(family)
    return icon


def _draw_family_icon(family: str) -> QIcon:
    color = family_color(family)
    tile = QColor(color)
    tile.setAlpha(40)
    glyph = _FAMILY_GLYPHS.get(family) or _letter((family[:1] or "?").upper())
    return _render(glyph, color.darker(110), tile)


# -- action glyphs -------------------------------------------------------------------
def _new(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawPolygon([QPointF(3.5, 1.5), QPointF(9.5, 1.5), QPointF(12.5, 4.5),
                   QPointF(12.5, 14.5), QPointF(3.5, 14.5)])
    p.drawPolyline([QPointF(9.5, 1.5), QPointF(9.5, 4.5), QPointF(12.5, 4.5)])


def _open(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawPolygon([QPointF(1.5, 3.5), QPointF(6, 3.5), QPointF(7.5, 5), QPointF(13.5, 5),
                   QPointF(13.5, 13), QPointF(1.5, 13)])
    p.drawLine(QPointF(1.5, 7.5), QPointF(13.5, 7.5))


def _save(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawPolygon([QPointF(2.5, 2.5), QPointF(11.5, 2.5), QPointF(13.5, 4.5),
                   QPointF(13.5, 13.5), QPointF(2.5, 13.5)])
    p.drawRect(QRectF(5, 2.5, 5, 3.5))
    p.drawRect(QRectF(4.5, 9, 7, 4.5))


def _curved_arrow(p: QPainter, c: QColor, mirror: bool) -> None:
    if mirror:
        p.translate(16, 0)
        p.scale(-1, 1)
    path = QPainterPath(QPointF(4, 6.5))
    path.cubicTo(QPointF(9, 3), QPointF(14, 6), QPointF(13, 10.5))
    path.cubicTo(QPointF(12.5, 12.5), QPointF(11, 13.5), QPointF(9, 13.5))
    p.setPen(_pen(c, 1.4))
    p.drawPath(path)
    p.drawPolyline([QPointF(3.5, 2.5), QPointF(3.5, 6.8), QPointF(7.8, 6.8)])


def _undo(p: QPainter, c: QColor) -> None:
    _curved_arrow(p, c, mirror=False)


def _redo(p: QPainter, c: QColor) -> None:
    _curved_arrow(p, c, mirror=True)


def _fit(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.4))
    for sx, sy in ((1, 1), (-1, 1), (1, -1), (-1, -1)):
        x, y = 8 - 5.5 * sx, 8 - 5.5 * sy
        p.drawPolyline([QPointF(x, y + 3 * sy), QPointF(x, y), QPointF(x + 3 * sx, y)])
    p.drawRect(QRectF(6, 6, 4, 4))


def _magnifier(p: QPainter, c: QColor, plus: bool) -> None:
    p.setPen(_pen(c, 1.4))
    p.drawEllipse(QPointF(6.5, 6.5), 4.2, 4.2)
    p.drawLine(QPointF(9.6, 9.6), QPointF(13.5, 13.5))
    p.drawLine(QPointF(4.6, 6.5), QPointF(8.4, 6.5))
    if plus:
        p.drawLine(QPointF(6.5, 4.6), QPointF(6.5, 8.4))


def _zoom_in(p: QPainter, c: QColor) -> None:
    _magnifier(p, c, plus=True)


def _zoom_out(p: QPainter, c: QColor) -> None:
    _magnifier(p, c, plus=False)


def _layout(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawRoundedRect(QRectF(5.5, 1.5, 5, 3.5), 1, 1)
    p.drawRoundedRect(QRectF(1.5, 11, 5, 3.5), 1, 1)
    p.drawRoundedRect(QRectF(9.5, 11, 5, 3.5), 1, 1)
    p.drawPolyline([QPointF(8, 5), QPointF(8, 8), QPointF(4, 8), QPointF(4, 11)])
    p.drawPolyline([QPointF(8, 8), QPointF(12, 8), QPointF(12, 11)])


def _copy(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawRoundedRect(QRectF(5.5, 5.5, 8, 9), 1, 1)
    p.drawPolyline([QPointF(3.5, 11), QPointF(2.5, 11), QPointF(2.5, 1.5), QPointF(10, 1.5),
                    QPointF(10, 3)])


def _paste(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawRoundedRect(QRectF(2.5, 3, 11, 11.5), 1.2, 1.2)
    p.drawRoundedRect(QRectF(5.5, 1.5, 5, 3), 1, 1)
    p.drawLine(QPointF(5.5, 8.5), QPointF(10.5, 8.5))
    p.drawLine(QPointF(5.5, 11), QPointF(9, 11))


def _cut(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawEllipse(QPointF(4.5, 11.5), 2.2, 2.2)
    p.drawEllipse(QPointF(11.5, 11.5), 2.2, 2.2)
    p.drawLine(QPointF(6, 9.8), QPointF(12, 2))
    p.drawLine(QPointF(10, 9.8), QPointF(4, 2))


def _delete(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawLine(QPointF(2.5, 4), QPointF(13.5, 4))
    p.drawPolyline([QPointF(6, 4), QPointF(6.5, 2), QPointF(9.5, 2), QPointF(10, 4)])
    p.drawPolygon([QPointF(4, 4), QPointF(12, 4), QPointF(11.2, 14), QPointF(4.8, 14)])
    p.drawLine(QPointF(6.8, 6.5), QPointF(6.8, 11.5))
    p.drawLine(QPointF(9.2, 6.5), QPointF(9.2, 11.5))


def _group(p: QPainter, c: QColor) -> None:
    _structure(p, c)
    p.setPen(_pen(c, 1.1))
    p.drawRect(QRectF(5, 5, 6, 2.2))
    p.drawRect(QRectF(5, 8.8, 6, 2.2))


def _ungroup(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.1))
    p.drawRect(QRectF(2, 3, 7, 3))
    p.drawRect(QRectF(7, 10, 7, 3))
    p.drawLine(QPointF(6, 7.5), QPointF(10, 8.5))


def _templates(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    for x in (2.5, 9):
        for y in (2.5, 9):
            p.drawRoundedRect(QRectF(x, y, 4.5, 4.5), 1, 1)


def _export(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawPolyline([QPointF(6, 4.5), QPointF(2.5, 4.5), QPointF(2.5, 13.5),
                    QPointF(11.5, 13.5), QPointF(11.5, 10)])
    p.drawLine(QPointF(7, 9), QPointF(13.5, 2.5))
    p.drawPolyline([QPointF(9, 2.5), QPointF(13.5, 2.5), QPointF(13.5, 7)])


def _rename(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawLine(QPointF(3, 13), QPointF(12, 4))
    p.drawLine(QPointF(10.5, 2.5), QPointF(13.5, 5.5))
    p.drawLine(QPointF(2.5, 13.5), QPointF(5, 13))


def _freeze(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    for angle in (0, 60, 120):
        p.save()
        p.translate(8, 8)
        p.rotate(angle)
        p.drawLine(QPointF(0, -6), QPointF(0, 6))
        p.drawPolyline([QPointF(-1.8, -4.8), QPointF(0, -3.2), QPointF(1.8, -4.8)])
        p.drawPolyline([QPointF(-1.8, 4.8), QPointF(0, 3.2), QPointF(1.8, 4.8)])
        p.restore()


def _minimap(p: QPainter, c: QColor) -> None:
    p.setPen(_pen(c, 1.2))
    p.drawRoundedRect(QRectF(1.5, 2.5, 13, 11), 1.5, 1.5)
    p.drawRect(QRectF(8, 8, 5, 4))


ACTION_GLYPHS: dict[str, Glyph] = {
    "new": _new, "open": _open, "save": _save, "undo": _undo, "redo": _redo, "fit": _fit,
    "zoom_in": _zoom_in, "zoom_out": _zoom_out, "layout": _layout, "copy": _copy,
    "paste": _paste, "cut": _cut, "delete": _delete, "group": _group, "ungroup": _ungroup,
    "templates": _templates, "export": _export, "rename": _rename, "freeze": _freeze,
    "minimap": _minimap,
}


def action_icon(name: str, color: QColor | None = None) -> QIcon:
    """The monochrome icon of an action, in ``color`` (default: the palette's text)."""
    if color is None:
        app = QApplication.instance()
        palette = app.palette() if isinstance(app, QApplication) else QPalette()
        color = palette.color(QPalette.ColorRole.WindowText)
    return _render(ACTION_GLYPHS[name], QColor(color))
