"""Render a network diagram to PNG or SVG without showing a window.

:func:`render_document` builds the canvas scene offscreen, lays the graph out when it
was never laid out (every node at the same point), and paints the diagram into an image
or an SVG file. ``netbuilder render FILE -o graph.png|svg`` calls it; the editor's
"Export diagram" uses :func:`render_scene_image` and :func:`write_scene`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QGraphicsItem

from netbuilder.core.document import Document
from netbuilder.core.graph import Graph
from netbuilder.core.layout import layered_layout, needs_layout
from netbuilder.ui.canvas.scene import GraphScene, set_items_cache
from netbuilder.ui.canvas.style import style_for

#: Blank border around an exported diagram, in scene pixels.
MARGIN = 32.0
_APP: list[QApplication] = []
_HINTS = (QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
          | QPainter.RenderHint.SmoothPixmapTransform)


def ensure_app() -> QApplication:
    """The running QApplication, or a new offscreen one (for the command line)."""
    app = QApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication([])
        _APP.append(app)
    assert isinstance(app, QApplication)
    return app


def render_document(document_or_graph: Document | Graph, path: Path | str,
                    scale: float = 2.0, *, dark: bool = False) -> Path:
    """Write the diagram of a document (or graph) to ``path``: ``.png`` or ``.svg``.

    Args:
        document_or_graph: What to draw (its root level; groups drawn collapsed).
        path: Output file; the suffix picks the format.
        scale: Pixels per scene pixel of a PNG (2.0 suits papers and high-DPI screens).
        dark: Use the dark canvas theme instead of the light one.

    Returns:
        The path written.

    Raises:
        ValueError: when the suffix is neither ``.png`` nor ``.svg``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"cannot render to {path.name}: use a .png or .svg file name")
    ensure_app()
    own = isinstance(document_or_graph, Graph)
    document = Document(document_or_graph) if isinstance(document_or_graph, Graph) \
        else document_or_graph
    scene = GraphScene(document, style=style_for(dark))
    try:
        if needs_layout(scene.graph):
            arrange_items(scene)
        write_scene(scene, path, scale)
    finally:
        scene.detach()
        if own:
            document.close()
    return path


def arrange_items(scene: GraphScene) -> None:
    """Place the scene's items by the layered layout, without touching the model."""
    sizes = {item.node_id: item.size for item in scene.node_items()}
    for node_id, (x, y) in layered_layout(scene.graph, sizes).items():
        item = scene.node_item(node_id)
        if item is not None:
            item.setPos(x, y)
    for edge in scene.edge_items():
        edge.update_path(force=True)
    scene.geometry_changed()


def write_scene(scene: GraphScene, path: Path, scale: float = 2.0) -> None:
    """Write the scene's diagram to a ``.png`` or ``.svg`` file."""
    if path.suffix.lower() == ".svg":
        _write_svg(scene, path)
    else:
        image = render_scene_image(scene, scale)
        if not image.save(str(path)):
            raise OSError(f"could not write {path}")


def _source_rect(scene: GraphScene) -> QRectF:
    rect = scene.diagram_rect()
    if rect.isNull():
        rect = QRectF(0.0, 0.0, 200.0, 100.0)
    return rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)


@contextmanager
def _export_state(scene: GraphScene) -> Iterator[None]:
    """No grid, no selection, no item cache while painting an export."""
    scene.flush()
    selected = scene.selectedItems()
    grid = scene.show_grid
    scene.blockSignals(True)
    try:
        for item in selected:
            item.setSelected(False)
        scene.show_grid = False
        set_items_cache(scene, QGraphicsItem.CacheMode.NoCache)
        yield
    finally:
        set_items_cache(scene, QGraphicsItem.CacheMode.DeviceCoordinateCache)
        scene.show_grid = grid
        for item in selected:
            item.setSelected(True)
        scene.blockSignals(False)


def render_scene_image(scene: GraphScene, scale: float = 2.0) -> QImage:
    """The diagram at ``scale`` pixels per scene pixel (device pixel ratio ``scale``)."""
    source = _source_rect(scene)
    width = max(1, math.ceil(source.width() * scale))
    height = max(1, math.ceil(source.height() * scale))
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(scene.style.brushes["background"].color())
    with _export_state(scene):
        painter = QPainter(image)
        painter.setRenderHints(_HINTS)
        scene.render(painter, QRectF(0.0, 0.0, width, height), source,
                     Qt.AspectRatioMode.IgnoreAspectRatio)
        painter.end()
    image.setDevicePixelRatio(scale)
    return image


def _write_svg(scene: GraphScene, path: Path) -> None:
    source = _source_rect(scene)
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(math.ceil(source.width()), math.ceil(source.height())))
    generator.setViewBox(QRectF(0.0, 0.0, source.width(), source.height()))
    generator.setTitle(path.stem)
    generator.setDescription("Network diagram drawn by NetBuilder")
    with _export_state(scene):
        painter = QPainter(generator)
        painter.setRenderHints(_HINTS)
        # every group of the SVG names the painter's font: start with a real family (the
        # canvas's), not the default alias "Sans Serif" that viewers would map elsewhere
        painter.setFont(scene.style.fonts["detail"])
        painter.fillRect(QRectF(0.0, 0.0, source.width(), source.height()),
                         scene.style.brushes["background"])
        scene.render(painter, QRectF(0.0, 0.0, source.width(), source.height()), source)
        painter.end()
