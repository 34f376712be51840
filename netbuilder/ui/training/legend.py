"""A plot legend laid out in its own cell, beside the data rather than on it.

pyqtgraph's ``LegendItem`` floats over a plot's view box, where rising accuracy and
learning-rate curves run through it. :class:`PlotLegend` is the same legend (a sample
and a label per curve; clicking a sample hides or shows its curve) placed by a
``GraphicsLayout`` like any other item: the curves panel puts one under each plot.
Its entries flow left to right and wrap onto further rows.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QSizePolicy

#: Entries per row (each entry is a sample and a label).
ENTRIES_PER_ROW = 3


class PlotLegend(pg.LegendItem):
    """A frameless legend sized by a layout (not floating over a plot)."""

    def __init__(self, label_size: str = "9pt") -> None:
        super().__init__(frame=False, labelTextSize=label_size, colCount=ENTRIES_PER_ROW,
                         horSpacing=14)
        # The plots above decide the column widths, not the legend's text: the entries
        # wrap onto more rows when the column is narrow.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(0)
        # Re-wrapping changes the legend's own layout: never during the layout pass that
        # resized it, but just after.
        self._rewrap = QTimer(self)
        self._rewrap.setSingleShot(True)
        self._rewrap.setInterval(0)
        self._rewrap.timeout.connect(lambda: self._wrap(self.geometry().width()))

    def updateSize(self) -> None:
        """Tell the enclosing layout the room the entries need (never move itself)."""
        self.layout.invalidate()
        height = self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).height()
        self.setPreferredHeight(height)
        self.setMinimumHeight(height)
        self.setMaximumHeight(height)
        self.updateGeometry()

    def resizeEvent(self, ev: Any) -> None:
        """Put as many entries on a row as the width allows (at most ENTRIES_PER_ROW)."""
        super().resizeEvent(ev)
        rewrap = getattr(self, "_rewrap", None)  # pyqtgraph resizes it while it is made
        if rewrap is not None:
            rewrap.start()

    def addItem(self, item: Any, name: str) -> None:
        """Add an entry (a curve and its name), wrapped to the current width."""
        super().addItem(item, name)
        self._rewrap.start()

    def _wrap(self, width: float) -> None:
        widest = max((sample.boundingRect().width() + label.preferredWidth()
                      + self.layout.horizontalSpacing() for sample, label in self.items),
                     default=0.0)
        fit = int(width // widest) if widest > 0 else ENTRIES_PER_ROW
        columns = max(1, min(ENTRIES_PER_ROW, fit))
        if columns != self.columnCount:
            self.setColumnCount(columns)

    def mouseDragEvent(self, ev: Any) -> None:
        """The layout places the legend: dragging does not move it."""
        ev.ignore()

    def names(self) -> list[str]:
        """The labels shown, in order."""
        return [label.text for _sample, label in self.items]

    def set_text_color(self, color: QColor) -> None:
        """Write every label (present and future) in ``color``."""
        self.setLabelTextColor(color)
        for _sample, label in self.items:
            label.setText(label.text, color=color)
