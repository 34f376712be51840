"""The Qt binding is one that survives thousands of paints.

PySide6 6.12.0 on Python 3.11 drops a reference to ``None`` on every void QPainter call;
after a few thousand paints the interpreter aborts with "none_dealloc". This test paints
a few thousand times and checks that ``None``'s reference count did not fall.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPen


def test_void_painter_calls_do_not_leak_none_references(qapp) -> None:  # type: ignore[no-untyped-def]
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    pen = QPen(QColor("steelblue"))
    before = sys.getrefcount(None)
    for _ in range(3000):
        painter = QPainter(image)
        painter.setPen(pen)
        painter.drawRect(QRectF(2, 2, 30, 30))
        painter.drawLine(0, 0, 63, 63)
        painter.end()
    after = sys.getrefcount(None)
    assert after >= before - 100, f"None lost {before - after} references"
