"""The training progress strip: a bar and one line of text, painted only when they change.

Why not a ``QProgressBar``: the Fusion style animates a busy bar (range ``0, 0``, while
the run is prepared) at about 60 frames a second, and goes on animating after the range is
set back for as long as the value stays at its minimum (Qt 6.11; a run's first steps).
A progress bar is not opaque, so every frame repaints the dock, the panel and the toolbar
beneath it: 12–15 % of a core in the GUI thread, taken straight from training on a
two-core machine (``bench/bench_gui_training.py``). :class:`ProgressStrip` keeps the
small part of the ``QProgressBar`` interface the toolbar uses (range, value, format),
draws itself opaquely in the palette's colours, and repaints only when its value or text
changes.

A busy strip (range ``0, 0``: the run is being prepared) is drawn hatched, not animated.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QBrush, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

#: Value steps of a full strip (the toolbar's range).
FULL = 1000


class ProgressStrip(QWidget):
    """A progress bar with its text inside, drawn without animation."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._minimum, self._maximum, self._value = 0, FULL, 0
        self._format = ""

    # -- the QProgressBar subset ------------------------------------------------------------
    def setRange(self, minimum: int, maximum: int) -> None:
        """Set the range (``0, 0``: busy, no known progress)."""
        if (minimum, maximum) != (self._minimum, self._maximum):
            self._minimum, self._maximum = minimum, max(minimum, maximum)
            self._value = min(max(self._value, minimum), self._maximum)
            self.update()

    def setValue(self, value: int) -> None:
        """Set the progress (clamped to the range)."""
        value = min(max(int(value), self._minimum), self._maximum)
        if value != self._value:
            self._value = value
            self.update()

    def setFormat(self, text: str) -> None:
        """Set the text shown inside the strip."""
        if text != self._format:
            self._format = text
            self.setAccessibleDescription(text)
            self.update()

    def value(self) -> int:
        """The progress."""
        return self._value

    def format(self) -> str:
        """The text shown."""
        return self._format

    def text(self) -> str:
        """The text shown (as ``QProgressBar.text``)."""
        return self._format

    @property
    def busy(self) -> bool:
        """Whether the strip shows work of unknown length."""
        return self._maximum == self._minimum

    def fraction(self) -> float:
        """How much of the strip is filled, 0 to 1."""
        span = self._maximum - self._minimum
        return (self._value - self._minimum) / span if span > 0 else 0.0

    # -- drawing ----------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        """As tall as a line of text with some room."""
        return QSize(240, self.fontMetrics().height() + 10)

    def minimumSizeHint(self) -> QSize:
        """Room for a few words."""
        return QSize(80, self.fontMetrics().height() + 6)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Frame, filled part (hatched when busy) and the text over both."""
        palette = self.palette()
        painter = QPainter(self)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Window))
        frame = self.rect().adjusted(0, 1, -1, -2)
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(frame, 3, 3)
        inner = frame.adjusted(1, 1, 0, 0)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        painter.setPen(Qt.PenStyle.NoPen)
        if self.busy:
            highlight.setAlpha(110)
            painter.fillRect(inner, QBrush(highlight, Qt.BrushStyle.BDiagPattern))
        elif self._value > self._minimum:
            width = round(inner.width() * self.fraction())
            highlight.setAlpha(150)
            painter.fillRect(QRect(inner.left(), inner.top(), width, inner.height()),
                             highlight)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(inner.adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignCenter,
                         self.fontMetrics().elidedText(self._format, Qt.TextElideMode.ElideRight,
                                                       max(inner.width() - 12, 0)))
        painter.end()
