"""The template dialog's grid: one card per template, the cards filling the dialog's width.

A card is the template's structure thumbnail (:mod:`netbuilder.ui.thumbnails`), its full
name (bold, wrapped onto a second line rather than cut) and a line with its parameter
count and cost. :class:`TemplateGrid` is a ``QListWidget`` in icon mode whose grid cells
widen with the view, so the cards spread over the whole width with no empty band beside
them; :class:`TemplateCardDelegate` paints the cards. An item's display text stays the
plain ``title\\nfacts`` (what accessibility tools and tests read).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QIcon, QPainter, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QListView,
    QListWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

#: Size of a thumbnail on a card.
THUMB = QSize(184, 96)
#: Narrowest card: the grid has as many columns as cards this wide fit.
MIN_CARD_WIDTH = 212
#: Lines a card's title may take.
TITLE_LINES = 2
ROLE_TITLE = Qt.ItemDataRole.UserRole + 2
ROLE_FACTS = Qt.ItemDataRole.UserRole + 3
_PAD = 8
_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class CardLayout:
    """Where the parts of a card go.

    Attributes:
        thumbnail: The structure thumbnail.
        title: The room for the title (two lines).
        facts: The parameter-count line.
    """

    thumbnail: QRect
    title: QRect
    facts: QRect


def title_font(base: QFont) -> QFont:
    """The bold font of card titles."""
    font = QFont(base)
    font.setBold(True)
    return font


def card_height(font: QFont) -> int:
    """Height of a card: thumbnail, two title lines, the facts line, margins."""
    title, facts = QFontMetrics(title_font(font)), QFontMetrics(font)
    return _PAD + THUMB.height() + _PAD + TITLE_LINES * title.lineSpacing() + 2 \
        + facts.lineSpacing() + _PAD


def card_layout(rect: QRect, font: QFont) -> CardLayout:
    """The parts of a card drawn in ``rect``."""
    title_height = TITLE_LINES * QFontMetrics(title_font(font)).lineSpacing()
    inner = rect.adjusted(_PAD, _PAD, -_PAD, -_PAD)
    thumb = QRect(inner.left() + (inner.width() - THUMB.width()) // 2, inner.top(),
                  THUMB.width(), THUMB.height())
    title = QRect(inner.left(), thumb.bottom() + 1 + _PAD, inner.width(), title_height)
    facts = QRect(inner.left(), title.bottom() + 3, inner.width(),
                  QFontMetrics(font).lineSpacing())
    return CardLayout(thumb, title, facts)


def title_height_needed(title: str, width: int, font: QFont) -> int:
    """Height the wrapped title takes in ``width`` pixels."""
    flags = Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap
    return QFontMetrics(title_font(font)).boundingRect(
        QRect(0, 0, width, 10_000), flags, title).height()


class TemplateCardDelegate(QStyledItemDelegate):
    """Paints a card: thumbnail, wrapped bold title, grey facts line."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        """Draw the card of ``index`` in ``option.rect``."""
        painter.save()
        palette, rect = option.palette, option.rect.adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            highlight = palette.color(QPalette.ColorRole.Highlight)
            highlight.setAlpha(60)
            painter.setPen(palette.color(QPalette.ColorRole.Highlight))
            painter.setBrush(highlight)
            painter.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        parts = card_layout(option.rect, option.font)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(icon, QIcon):
            icon.paint(painter, parts.thumbnail)
        text = palette.color(QPalette.ColorRole.Text)
        painter.setPen(text)
        painter.setFont(title_font(option.font))
        painter.drawText(parts.title, int(Qt.AlignmentFlag.AlignHCenter
                                          | Qt.AlignmentFlag.AlignTop
                                          | Qt.TextFlag.TextWordWrap),
                         str(index.data(ROLE_TITLE) or ""))
        faint = palette.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(faint)
        painter.setFont(option.font)
        painter.drawText(parts.facts, int(Qt.AlignmentFlag.AlignHCenter), str(
            index.data(ROLE_FACTS) or ""))
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        """The size of one card: its whole grid cell."""
        view = self.parent()
        if isinstance(view, QListView) and view.gridSize().isValid():
            return view.gridSize()
        return QSize(MIN_CARD_WIDTH, card_height(option.font))


class TemplateGrid(QListWidget):
    """Cards in a grid whose columns share the whole width of the view."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(THUMB)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSpacing(0)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setItemDelegate(TemplateCardDelegate(self))
        self._fit_grid()

    def columns(self) -> int:
        """Cards per row at the current width."""
        return max(1, self.viewport().width() // MIN_CARD_WIDTH)

    def _fit_grid(self) -> None:
        width = self.viewport().width() // self.columns()
        size = QSize(max(width, MIN_CARD_WIDTH), card_height(self.font()))
        if size != self.gridSize():
            self.setGridSize(size)  # the cards (the delegate's size) follow the grid
            self.doItemsLayout()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Widen the cards so that the columns fill the view."""
        super().resizeEvent(event)
        self._fit_grid()
