"""Small helpers the training panels share: naming, icons, colours and image tiling.

Nothing here imports torch or pyqtgraph, so the launcher (created with the main window)
may use it without slowing the window's start-up.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap, QPolygonF
from PySide6.QtWidgets import QApplication, QLabel, QWidget

#: Colours of the curves (a colour-blind-safe set, after Okabe and Ito).
SERIES = {"train": "#2f6fd0", "smooth": "#1f4fa8", "val": "#e07b18", "acc": "#2a9d5b",
          "lr": "#8c5cc7", "past": "#9aa1ad"}
#: The same, brighter, for dark backgrounds.
SERIES_DARK = {"train": "#6fa0f0", "smooth": "#8ab4ff", "val": "#f59a3c", "acc": "#4cc483",
               "lr": "#b08cf0", "past": "#7d8594"}
#: Badge colours of flagged gradients.
FLAG_COLORS = {"vanishing": "#2b8fd6", "exploding": "#d64545"}
PLAY, PAUSE, STOP = "#2a9d5b", "#c98a12", "#d64545"

Glyph = Callable[[QPainter, QColor], None]


def named(widget: QWidget, name: str, accessible: str, tip: str = "") -> QWidget:
    """Give ``widget`` an object name, an accessible name and (optionally) a tooltip."""
    widget.setObjectName(name)
    widget.setAccessibleName(accessible)
    if tip:
        widget.setToolTip(tip)
        widget.setStatusTip(tip)
    return widget


def caption(text: str, name: str, tip: str = "", role: str = "") -> QLabel:
    """A named label (``role``: a style-sheet role such as ``heading`` or ``error``)."""
    label = QLabel(text)
    named(label, name, text or name, tip)
    if role:
        label.setProperty("role", role)
    return label


class Throttle(QObject):
    """Calls a function at most ``hz`` times a second, the latest request last.

    :meth:`poke` calls it at once when the interval has passed since the last call, else
    once when it has (however many pokes came meanwhile).
    """

    def __init__(self, hz: float, function: Callable[[], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = max(1, round(1000 / hz))
        self.function = function
        self._since = QElapsedTimer()
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._call)

    def poke(self) -> None:
        """Ask for a call."""
        if self._later.isActive():
            return
        waited = self._since.elapsed() if self._since.isValid() else self.interval_ms
        if waited >= self.interval_ms:
            self._call()
        else:
            self._later.start(self.interval_ms - waited)

    def flush(self) -> None:
        """Make a pending call now."""
        if self._later.isActive():
            self._later.stop()
            self._call()

    def _call(self) -> None:
        self._since.start()
        self.function()


# -- icons ------------------------------------------------------------------------------
def _play(p: QPainter, c: QColor) -> None:
    p.setBrush(c)
    p.drawPolygon(QPolygonF([QPointF(4.5, 2.5), QPointF(13.5, 8.0), QPointF(4.5, 13.5)]))


def _pause(p: QPainter, c: QColor) -> None:
    p.setBrush(c)
    p.drawRoundedRect(QRectF(3.5, 2.5, 3.2, 11.0), 0.8, 0.8)
    p.drawRoundedRect(QRectF(9.3, 2.5, 3.2, 11.0), 0.8, 0.8)


def _stop(p: QPainter, c: QColor) -> None:
    p.setBrush(c)
    p.drawRoundedRect(QRectF(3.0, 3.0, 10.0, 10.0), 1.5, 1.5)


_GLYPHS: dict[str, tuple[Glyph, str]] = {
    "train": (_play, PLAY), "resume": (_play, PLAY), "pause": (_pause, PAUSE),
    "stop": (_stop, STOP)}


def run_icon(name: str) -> QIcon:
    """The coloured icon of a run control: ``train``, ``resume``, ``pause`` or ``stop``."""
    glyph, color = _GLYPHS[name]
    icon = QIcon()
    for size in (16, 20, 24, 32, 48):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.scale(size / 16.0, size / 16.0)
        painter.setPen(Qt.PenStyle.NoPen)
        glyph(painter, QColor(color))
        painter.end()
        icon.addPixmap(pixmap)
    return icon


# -- theme --------------------------------------------------------------------------------
def palette_colors() -> tuple[QColor, QColor, QColor]:
    """Background, text and grid colours of plots in the application's palette."""
    app = QApplication.instance()
    palette = app.palette() if isinstance(app, QApplication) else QPalette()
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    grid = palette.color(QPalette.ColorRole.Mid)
    return base, text, grid


def is_dark() -> bool:
    """Whether the application is drawn in dark colours."""
    return palette_colors()[0].lightnessF() < 0.5


def series_color(key: str) -> QColor:
    """The colour of curve ``key`` (a key of :data:`SERIES`) in the current theme."""
    return QColor((SERIES_DARK if is_dark() else SERIES)[key])


# -- durations and numbers -------------------------------------------------------------
def duration(seconds: float) -> str:
    """``75`` → ``1:15``; ``3725`` → ``1:02:05``."""
    total = max(round(seconds), 0)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else \
        f"{rest // 60}:{rest % 60:02d}"


def short_number(value: float | None) -> str:
    """A number in at most about six characters (``0.0123``, ``1.2e-08``, ``—``)."""
    if value is None or not math.isfinite(value):
        return "—" if value is None else str(value)
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.2e}"


# -- images -------------------------------------------------------------------------------
def normalise(maps: np.ndarray, symmetric: bool = False) -> np.ndarray:
    """Scale each map of ``(N, ...)`` to 0..1 on its own (``symmetric``: 0.5 is zero)."""
    flat = maps.reshape(len(maps), -1).astype(np.float32, copy=False)
    if symmetric:
        scale = np.abs(flat).max(axis=1, keepdims=True)
        scale[scale == 0] = 1.0
        out = 0.5 + 0.5 * flat / scale
    else:
        low = flat.min(axis=1, keepdims=True)
        span = flat.max(axis=1, keepdims=True) - low
        span[span == 0] = 1.0
        out = (flat - low) / span
    return np.nan_to_num(out, nan=0.0).reshape(maps.shape)


def grid_columns(count: int, height: int, width: int, aspect: float = 1.8) -> int:
    """Columns of a grid of ``count`` tiles about ``aspect`` times wider than high.

    Among the column counts near the ideal one, the one leaving the fewest empty cells
    wins (16 maps: 4 × 4 rather than 5 + 5 + 5 + 1).
    """
    if count <= 1:
        return 1
    ideal = math.sqrt(count * aspect * height / max(width, 1))
    low, high = max(1, math.floor(ideal * 0.7)), min(count, math.ceil(ideal * 1.4))
    return min(range(low, high + 1),
               key=lambda c: (math.ceil(count / c) * c - count, abs(c - ideal)))


def tile(maps: np.ndarray, columns: int | None = None, pad: int = 1,
         fill: float = math.nan) -> np.ndarray:
    """Lay maps ``(N, H, W)`` or ``(N, H, W, 3)`` out as one mosaic, ``pad`` pixels apart.

    Args:
        maps: The tiles (values as they should be shown).
        columns: Tiles per row (default: :func:`grid_columns`).
        pad: Gap between tiles, in pixels.
        fill: Value of the gaps (NaN draws them transparent).

    Returns:
        ``(rows·(H+pad)-pad, columns·(W+pad)-pad[, 3])``.
    """
    count, height, width = maps.shape[:3]
    columns = columns or grid_columns(count, height, width)
    rows = math.ceil(count / columns) if count else 0
    shape = (rows * (height + pad) - pad, columns * (width + pad) - pad, *maps.shape[3:])
    out = np.full(shape, fill, dtype=np.float32)
    for k in range(count):
        top, left = (k // columns) * (height + pad), (k % columns) * (width + pad)
        out[top:top + height, left:left + width] = maps[k]
    return out


def as_maps(values: np.ndarray) -> np.ndarray:
    """A node's output for one sample as maps ``(C, H, W)``: a vector becomes one square map.

    ``(C, H, W)`` is kept, ``(C, L)`` (a 1-D signal) becomes ``(C, 1, L)``, and a vector of
    ``F`` features becomes one ``⌈√F⌉``-wide map padded with NaN.
    """
    if values.ndim == 3:
        return values
    if values.ndim == 2:
        return values[:, None, :]
    flat = values.reshape(-1)
    side = max(1, math.ceil(math.sqrt(flat.size)))
    rows = math.ceil(flat.size / side)
    out = np.full(rows * side, np.nan, dtype=np.float32)
    out[:flat.size] = flat
    return out.reshape(1, rows, side)


def to_display(pixels: np.ndarray) -> np.ndarray:
    """Pixel values 0..1 ``(C, H, W)`` as a displayable ``(H, W)`` or ``(H, W, 3)`` image."""
    if pixels.shape[0] == 1:
        return pixels[0]
    return np.moveaxis(pixels[:3], 0, -1)
