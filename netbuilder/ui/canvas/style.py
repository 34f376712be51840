"""Colours, pens, brushes and fonts of the canvas, built once per theme.

Items never build a pen or a font while painting: they read them from the scene's
:class:`CanvasStyle`. :func:`current_style` picks the light or dark palette from the
platform's colour scheme (``QStyleHints.colorScheme``), falling back to the lightness of
the application palette. Pens are cosmetic (one device pixel wide whatever the zoom), so
wires and borders stay crisp on high-DPI screens and readable when zoomed out.

Font sizes serve the canvas's semantic zoom (see :mod:`netbuilder.ui.canvas.node_item`):
every text of a node's full view is at least :data:`FULL_PX` scene pixels, its summary
(name and shape) :data:`SUMMARY_PX`, so each view is shown only from the zoom at which
its smallest text is :data:`MIN_SCREEN_PX` on screen; the bar fonts are device pixels.
Fonts name the family they resolve to (``QFontInfo``), not an alias such as
"Sans Serif", so an exported SVG is drawn by viewers in the font the canvas used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontInfo,
    QFontMetricsF,
    QGuiApplication,
    QPalette,
    QPen,
    QStaticText,
    QTransform,
)

from netbuilder.ui.icons import FAMILY_COLORS

#: Smallest text the canvas shows, in screen pixels.
MIN_SCREEN_PX = 9.0
#: Pixel sizes of the canvas fonts (pixel sizes, so a node looks the same on every screen):
#: the name, and every other text of a node's full view.
NAME_PX, FULL_PX = 13, 12
#: Name and output shape of a node's summary view (scene pixels).
SUMMARY_PX = 16
#: Text on a node drawn as a bar, in device pixels (it does not scale with the zoom).
BAR_PX = 10
#: Glyphs of the round badges (error, training flags).
BADGE_PX = 10
#: The empty canvas's hint.
HINT_PX = 14


@dataclass(frozen=True)
class Palette:
    """The colours of one theme, as ``#rrggbb`` strings."""

    dark: bool
    background: str
    grid_minor: str
    grid_major: str
    node: str
    node_border: str
    group_back: str
    text: str
    muted: str
    header_text: str
    edge: str
    accent: str
    error: str
    warning: str
    heavy: str
    compatible: str
    shade: str


LIGHT = Palette(
    dark=False, background="#f5f6f8", grid_minor="#eceef2", grid_major="#e0e3e9",
    node="#ffffff", node_border="#c5cbd5", group_back="#e4e8ef", text="#1d2330",
    muted="#667085", header_text="#ffffff", edge="#8a93a3", accent="#2f6fe4",
    error="#d92d20", warning="#dc8a06", heavy="#2f6fe4", compatible="#16a34a",
    shade="#1d2330",
)
DARK = Palette(
    dark=True, background="#1c1e22", grid_minor="#23262b", grid_major="#2a2e34",
    node="#2a2d33", node_border="#40454e", group_back="#363a42", text="#e6e8eb",
    muted="#9aa1ac", header_text="#ffffff", edge="#7d8594", accent="#5b93f5",
    error="#f04438", warning="#f5a524", heavy="#5b93f5", compatible="#3ccb6c",
    shade="#000000",
)


def _cosmetic(color: QColor | str, width: float = 1.0,
              style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(color), width, style)
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _font(pixels: int, weight: QFont.Weight = QFont.Weight.Normal) -> QFont:
    app = QGuiApplication.instance()
    font = QFont(QGuiApplication.font()) if app is not None else QFont()
    font.setPixelSize(pixels)
    font.setWeight(weight)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    if app is not None:  # name the real family ("DejaVu Sans"), not an alias
        font.setFamilies([QFontInfo(font).family()])
    return font


def _alpha(color: str, alpha: int) -> QColor:
    out = QColor(color)
    out.setAlpha(alpha)
    return out


def _mix(a: str, b: str, t: float) -> QColor:
    ca, cb = QColor(a), QColor(b)
    return QColor.fromRgbF(ca.redF() * (1 - t) + cb.redF() * t,
                           ca.greenF() * (1 - t) + cb.greenF() * t,
                           ca.blueF() * (1 - t) + cb.blueF() * t)


@dataclass
class CanvasStyle:
    """Every pen, brush, font and colour the canvas paints with, for one palette."""

    palette: Palette
    pens: dict[str, QPen] = field(default_factory=dict)
    brushes: dict[str, QBrush] = field(default_factory=dict)
    fonts: dict[str, QFont] = field(default_factory=dict)
    _families: dict[str, tuple[QBrush, QBrush]] = field(default_factory=dict)
    _metrics: dict[str, QFontMetricsF] = field(default_factory=dict)
    _lines: dict[str, float] = field(default_factory=dict)
    _texts: dict[tuple[str, str, float], tuple[QStaticText, float]] = field(
        default_factory=dict)

    def __post_init__(self) -> None:
        p = self.palette
        self.pens.update(
            border=_cosmetic(p.node_border), selected=_cosmetic(p.accent, 2.0),
            halo=_cosmetic(_alpha(p.accent, 70), 5.0), error=_cosmetic(p.error, 2.0),
            edge=_cosmetic(p.edge, 1.6), edge_selected=_cosmetic(p.accent, 2.4),
            edge_error=_cosmetic(p.error, 2.0), edge_hover=_cosmetic(p.accent, 2.0),
            new_link=_cosmetic(p.accent, 1.8, Qt.PenStyle.DashLine),
            port=_cosmetic(p.edge, 1.2), port_hot=_cosmetic(p.compatible, 2.0),
            grid_minor=_cosmetic(p.grid_minor), grid_major=_cosmetic(p.grid_major),
            text=QPen(QColor(p.text)), muted=QPen(QColor(p.muted)),
            header_text=QPen(QColor(p.header_text)), badge_text=QPen(QColor("#ffffff")),
            heavy=QPen(QColor(p.heavy)), glyph=_cosmetic(p.header_text, 1.2),
            rubber=_cosmetic(p.accent), frame=_cosmetic(p.accent, 1.0),
        )
        self.brushes.update(
            background=QBrush(QColor(p.background)), node=QBrush(QColor(p.node)),
            group_back=QBrush(QColor(p.group_back)), port=QBrush(QColor(p.node)),
            port_connected=QBrush(QColor(p.edge)), port_hot=QBrush(QColor(p.compatible)),
            error=QBrush(QColor(p.error)), warning=QBrush(QColor(p.warning)),
            heavy=QBrush(_alpha(p.heavy, 34 if not p.dark else 64)),
            edge=QBrush(QColor(p.edge)), edge_error=QBrush(QColor(p.error)),
            edge_selected=QBrush(QColor(p.accent)),
            shade=QBrush(_alpha(p.shade, 22 if not p.dark else 90)),
            rubber=QBrush(_alpha(p.accent, 36)), minimap=QBrush(_alpha(p.node, 230)),
            view=QBrush(_alpha(p.accent, 40)),
        )
        demi, bold = QFont.Weight.DemiBold, QFont.Weight.Bold
        self.fonts.update(
            name=_font(NAME_PX, demi), title=_font(FULL_PX), detail=_font(FULL_PX),
            shape=_font(FULL_PX, demi), small=_font(FULL_PX), small_bold=_font(FULL_PX, bold),
            summary=_font(SUMMARY_PX, demi), bar=_font(BAR_PX), bar_bold=_font(BAR_PX, demi),
            badge=_font(BADGE_PX, bold), hint_title=_font(HINT_PX + 4, demi),
            hint=_font(HINT_PX),
        )

    def line_height(self, font: str) -> float:
        """Height of one line of text in font ``font``."""
        height = self._lines.get(font)
        if height is None:
            height = self._lines[font] = self._font_metrics(font).height()
        return height

    def _font_metrics(self, font: str) -> QFontMetricsF:
        metrics = self._metrics.get(font)
        if metrics is None:
            metrics = self._metrics[font] = QFontMetricsF(self.fonts[font])
        return metrics

    def text(self, font: str, text: str, room: float = 1e9) -> tuple[QStaticText, float]:
        """``text`` in font ``font``, elided to ``room`` pixels, laid out, and its width.

        Laid-out texts are shared by every item (names, titles and shapes repeat a lot).
        """
        key = (font, text, room)
        cached = self._texts.get(key)
        if cached is None:
            metrics = self._font_metrics(font)
            width = metrics.horizontalAdvance(text)
            if width > room:
                text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(room, 0.0))
                width = metrics.horizontalAdvance(text)
            static = QStaticText(text)
            static.setTextFormat(Qt.TextFormat.PlainText)
            static.prepare(QTransform(), self.fonts[font])
            if len(self._texts) > 20_000:
                self._texts.clear()
            cached = self._texts[key] = (static, width)
        return cached

    @property
    def dark(self) -> bool:
        """Whether this is a dark theme."""
        return self.palette.dark

    def family(self, family: str) -> tuple[QBrush, QBrush]:
        """Header brush and level-of-detail box brush of a block family."""
        cached = self._families.get(family)
        if cached is None:
            base = FAMILY_COLORS.get(family, "#667085")
            header = _mix(base, "#000000", 0.12) if self.dark else QColor(base)
            box = _mix(base, self.palette.node, 0.35 if self.dark else 0.25)
            cached = (QBrush(header), QBrush(box))
            self._families[family] = cached
        return cached


def prefers_dark() -> bool:
    """Whether the platform asks for a dark theme (or the palette is dark)."""
    app = QGuiApplication.instance()
    if app is None:
        return False
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme != Qt.ColorScheme.Unknown:
        return scheme == Qt.ColorScheme.Dark
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return window.lightnessF() < 0.5


@cache
def style_for(dark: bool) -> CanvasStyle:
    """The (shared) light or dark style."""
    return CanvasStyle(DARK if dark else LIGHT)


def current_style() -> CanvasStyle:
    """The style matching the platform's colour scheme now."""
    return style_for(prefers_dark())
