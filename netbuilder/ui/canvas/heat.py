"""The profile's heat overlay: each node tinted by its share of the step, with its figures.

The pre-flight check's findings are shown the same way: a note under the node.

The canvas only paints what the profiler measured (:class:`HeatFigure` per node id); a
badge is a child item of the node's box, so it moves with it, and it is dropped when the
box is rebuilt after an edit (the measurement no longer describes the network) or when
:func:`clear_heat` is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QStyleOptionGraphicsItem, QWidget

from netbuilder.ui.canvas.node_item import NodeItem

#: Cool (a small share of the step) to hot (the largest share).
COOL, HOT = QColor(255, 220, 80), QColor(220, 40, 30)
BADGE_HEIGHT = 16.0


@dataclass(frozen=True)
class HeatFigure:
    """What the overlay shows on one node.

    Attributes:
        ms: Forward plus backward time per step.
        share: Fraction of the step (0 to 1).
        gmacs: Achieved multiply-adds per second, in 10⁹/s (0: none).
        memory_bound: Whether the node moves more bytes than it computes.
    """

    ms: float
    share: float
    gmacs: float = 0.0
    memory_bound: bool = False

    def text(self) -> str:
        """``3.20 ms · 12% · 4.1 GMAC/s`` (``mem-bound`` where memory-bound)."""
        parts = [f"{self.ms:.2f} ms", f"{self.share:.0%}"]
        if self.gmacs:
            parts.append(f"{self.gmacs:.2g} GMAC/s")
        if self.memory_bound:
            parts.append("mem-bound")
        return " · ".join(parts)


def heat_color(share: float, hottest: float) -> QColor:
    """The tint of a node whose share is ``share`` when the largest is ``hottest``."""
    t = 0.0 if hottest <= 0 else max(0.0, min(1.0, share / hottest))
    color = QColor.fromRgbF(COOL.redF() + (HOT.redF() - COOL.redF()) * t,
                            COOL.greenF() + (HOT.greenF() - COOL.greenF()) * t,
                            COOL.blueF() + (HOT.blueF() - COOL.blueF()) * t)
    color.setAlphaF(0.25 + 0.45 * t)
    return color


class HeatBadge(QGraphicsItem):
    """A tint over a node's box and a strip of figures under it."""

    def __init__(self, box: NodeItem, figure: HeatFigure, color: QColor) -> None:
        super().__init__(box)
        self.figure, self.color = figure, color
        self.box = box.box_rect()
        self.setZValue(5)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setToolTip(figure.text())

    def boundingRect(self) -> QRectF:
        return self.box.adjusted(0, 0, 0, BADGE_HEIGHT + 2)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.color)
        painter.drawRoundedRect(self.box, 6, 6)
        strip = QRectF(self.box.left(), self.box.bottom() + 2, self.box.width(), BADGE_HEIGHT)
        solid = QColor(self.color)
        solid.setAlphaF(0.9)
        painter.setBrush(solid)
        painter.drawRoundedRect(strip, 4, 4)
        font = QFont(painter.font())
        font.setPointSizeF(7.5)
        painter.setFont(font)
        painter.setPen(QColor(20, 20, 20))
        painter.drawText(strip, Qt.AlignmentFlag.AlignCenter, self.figure.text())


class NoteBadge(QGraphicsItem):
    """A finding in plain words, on an amber strip under a node's box."""

    def __init__(self, box: NodeItem, text: str) -> None:
        super().__init__(box)
        self.text = text
        rect = box.box_rect()
        self.strip = QRectF(rect.left() - 20, rect.bottom() + 2, rect.width() + 40, 30)
        self.setZValue(6)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setToolTip(text)

    def boundingRect(self) -> QRectF:
        return self.strip

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 196, 60, 235))
        painter.drawRoundedRect(self.strip, 4, 4)
        font = QFont(painter.font())
        font.setPointSizeF(7.0)
        painter.setFont(font)
        painter.setPen(QColor(30, 20, 0))
        painter.drawText(self.strip.adjusted(4, 1, -4, -1),
                         Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.text)


def show_notes(scene: QGraphicsScene, notes: Mapping[str, str]) -> int:
    """Put each note under its node's box (replacing earlier notes); return how many."""
    for item in scene.items():
        if isinstance(item, NoteBadge):
            scene.removeItem(item)
    count = 0
    for item in scene.items():
        if isinstance(item, NodeItem) and item.node_id in notes:
            NoteBadge(item, notes[item.node_id])
            count += 1
    return count


def note_badges(scene: QGraphicsScene) -> list[NoteBadge]:
    """The notes the scene shows now."""
    return [item for item in scene.items() if isinstance(item, NoteBadge)]


def heat_badges(scene: QGraphicsScene) -> list[HeatBadge]:
    """The badges the scene shows now."""
    return [item for item in scene.items() if isinstance(item, HeatBadge)]


def clear_heat(scene: QGraphicsScene) -> None:
    """Remove the overlay and the notes."""
    for badge in [*heat_badges(scene), *note_badges(scene)]:
        scene.removeItem(badge)


def show_heat(scene: QGraphicsScene, figures: Mapping[str, HeatFigure]) -> int:
    """Tint every node box of ``scene`` that has a figure; return how many were tinted."""
    for badge in heat_badges(scene):
        scene.removeItem(badge)
    hottest = max((f.share for f in figures.values()), default=0.0)
    count = 0
    for item in scene.items():
        if isinstance(item, NodeItem) and item.node_id in figures:
            figure = figures[item.node_id]
            HeatBadge(item, figure, heat_color(figure.share, hottest))
            count += 1
    return count
