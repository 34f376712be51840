"""Template thumbnails that show a network's structure: depth, widths, stages.

A network is read left to right as a row of bars, one per layer or block at the level
the lecture draws (:func:`network_profile`): groups whose body is a plain chain (a VGG
block, a ``Sequential``, a ResNet stage) are entered; blocks that branch (a residual
block, an inception module, a dense block) are one bar each, wider the more weight
layers they hold (a dense block of 24 layers is twice as wide as one of 6). A bar's
height grows with the layer's channels (log scale, the widest layer of the network full
height) and its colour is its block family's, as on the canvas; batch norms are thin
slivers after their layer, pools short teal ticks where the maps shrink. So VGG-11
(8 convolutions) and VGG-13 (10) look different, and so do their batch-norm variants.
Nothing here needs a scene or a view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from netbuilder.core.analysis import Analysis
from netbuilder.core.graph import Graph, Node
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT, INPUT, OUTPUT
from netbuilder.ui.icons import family_color

#: Families drawn as nothing (they change no shape, or only join branches).
_SILENT = frozenset(("Activation", "Regularization", "Input/Output", "Merge"))
_PORTS = frozenset((INPUT, OUTPUT, GROUP_INPUT, GROUP_OUTPUT))
#: Width of each kind of bar, in units of a layer's bar (the gap after it included).
_UNITS = {"layer": 1.0, "norm": 0.4, "pool": 0.6}
_WEIGHTED = frozenset(("Convolution", "Linear"))
_STAGE_GAP = 0.6  # between bars of different groups (VGG blocks, ResNet stages)
_MAX_BAR = 16.0  # widest bar, in pixels (a short network is not stretched)
_PAD = 8.0


@dataclass(frozen=True)
class Bar:
    """One layer or block of a profile.

    Attributes:
        kind: ``layer`` (a convolution, linear layer or block), ``norm`` or ``pool``.
        family: The block family (its colour).
        channels: Output channels (features of a vector), 0 when unknown.
        name: The node's dotted path (``features.block1.conv1``).
        units: Width, in layer bars (more for a block holding many layers).
    """

    kind: str
    family: str
    channels: int
    name: str
    units: float = 1.0


def network_profile(graph: Graph, analysis: Analysis, prefix: str = "") -> list[Bar]:
    """The bars of ``graph``, entering chains and rows of blocks (see the module notes)."""
    bars: list[Bar] = []
    for node_id in graph.topological_order():
        node = graph.nodes[node_id]
        if node.type in _PORTS:
            continue
        path = f"{prefix}{node.name}"
        if node.body is not None and is_chain(node.body):
            bars += network_profile(node.body, analysis, f"{path}.")
            continue
        bar = _bar(graph, node, analysis, path)
        if bar is not None:
            bars.append(bar)
    return bars


def is_chain(body: Graph) -> bool:
    """Whether a group's body is a plain chain (no node forks or joins)."""
    return all(len(body.in_edges(n)) <= 1 and len(body.out_edges(n)) <= 1 for n in body.nodes)


def weight_layers(body: Graph) -> int:
    """Convolutions and linear layers below ``body``, at every depth."""
    return sum(1 for graph, node in body.walk()
               if node.body is None and graph.spec(node).family in _WEIGHTED)


def _bar(graph: Graph, node: Node, analysis: Analysis, path: str) -> Bar | None:
    spec = graph.spec(node)
    family = "Composite" if node.body is not None else spec.family
    if family in _SILENT or (family == "Structure" and node.body is None):
        return None
    info = analysis.nodes.get(node.id)
    shape = info.shape if info is not None else None
    channels = int(shape[0]) if shape else 0
    kind = {"Normalization": "norm", "Pooling": "pool"}.get(family, "layer")
    units = _UNITS[kind]
    if node.body is not None:
        units = max(1.0, math.sqrt(weight_layers(node.body) / 2))
    return Bar(kind, family, channels, path, units)


# -- drawing ----------------------------------------------------------------------------
def _colors() -> tuple[QColor, QColor]:
    """Background and faint-line colours of the application's palette."""
    app = QApplication.instance()
    palette = app.palette() if isinstance(app, QApplication) else QPalette()
    return (palette.color(QPalette.ColorRole.AlternateBase),
            palette.color(QPalette.ColorRole.Mid))


def _parent(bar: Bar) -> str:
    return bar.name.rpartition(".")[0]


def _offsets(bars: Sequence[Bar]) -> list[float]:
    """Where each bar starts, in units: a stage gap wherever the enclosing group changes."""
    offsets, cursor = [], 0.0
    for index, bar in enumerate(bars):
        if index and _parent(bar) != _parent(bars[index - 1]):
            cursor += _STAGE_GAP
        offsets.append(cursor)
        cursor += bar.units
    offsets.append(cursor)  # the total
    return offsets


def bar_rects(bars: Sequence[Bar], size: QSize) -> list[QRectF]:
    """Where each bar is drawn in a thumbnail of ``size`` (logical pixels)."""
    offsets = _offsets(bars)
    total = offsets[-1] or 1.0
    unit = min((size.width() - 2 * _PAD) / total, _MAX_BAR)
    left = (size.width() - unit * total) / 2
    widest = max((b.channels for b in bars), default=1)
    full = size.height() - 2 * _PAD
    middle = size.height() / 2
    rects, height = [], full * 0.3
    for bar, offset in zip(bars, offsets):
        if bar.kind == "layer":  # a norm is as tall as the layer before it
            height = full * _height_share(bar.channels, widest)
        width = unit * bar.units - unit * (0.25 if bar.kind != "pool" else 0.5)
        shown = height if bar.kind != "pool" else full * 0.18
        top = middle - shown / 2 if bar.kind != "pool" else size.height() - _PAD - shown
        rects.append(QRectF(left + unit * offset, top, max(width, 1.0), shown))
    return rects


def _height_share(channels: int, widest: int) -> float:
    """A bar's share of the full height: log of its channels against the widest."""
    if channels <= 0 or widest <= 1:
        return 0.3
    return 0.2 + 0.8 * math.log2(channels) / math.log2(widest) if channels > 1 else 0.2


def render_profile(bars: Sequence[Bar], size: QSize, ratio: float = 2.0) -> QPixmap:
    """A thumbnail of ``bars`` in the palette's colours (drawn at ``ratio`` for HiDPI)."""
    pixmap = QPixmap(size * ratio)
    pixmap.setDevicePixelRatio(ratio)
    background, line = _colors()
    pixmap.fill(background)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    line.setAlpha(90)
    painter.setPen(line)
    middle = size.height() / 2  # the axis the bars stand on, centred
    painter.drawLine(QPointF(_PAD, middle), QPointF(size.width() - _PAD, middle))
    painter.setPen(Qt.PenStyle.NoPen)
    for bar, rect in zip(bars, bar_rects(bars, size)):
        painter.setBrush(family_color(bar.family))
        painter.drawRoundedRect(rect, 1.2, 1.2)
    painter.end()
    return pixmap
