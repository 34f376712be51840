"""Rendering diagrams to PNG and SVG without a window, and grabbing the canvas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from netbuilder.core.document import Document
from netbuilder.core.graph import Graph
from netbuilder.core.layout import needs_layout
from netbuilder.ui.canvas import GraphView
from netbuilder.ui.render import render_document
from tests.ui import canvas_graphs


def pixels(image: QImage) -> np.ndarray:
    """The image as an ``H×W×4`` array of bytes."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    rows = data.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 4]
    return rows.reshape(image.height(), image.width(), 4).copy()  # the image is freed next


def unplaced_lenet() -> Graph:
    graph = canvas_graphs.lenet5()
    for node in graph.nodes.values():
        node.pos = (0.0, 0.0)
    return graph


def test_png_of_a_never_laid_out_graph_is_a_readable_diagram(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    graph = unplaced_lenet()
    path = render_document(graph, tmp_path / "lenet.png", scale=2.0)
    image = QImage(str(path))
    assert not image.isNull()
    assert image.height() > 2 * image.width(), "laid out as a column, not a pile"
    values = pixels(image)
    assert values[..., :3].std() > 20, "not blank"
    assert len(np.unique(values.view(np.uint32))) > 50, "text and shapes, not flat boxes"
    assert needs_layout(graph), "rendering does not move the model's nodes"


def test_png_scale_sets_the_pixel_size(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    document = Document(canvas_graphs.small_chain())
    one = QImage(str(render_document(document, tmp_path / "one.png", scale=1.0)))
    two = QImage(str(render_document(document, tmp_path / "two.png", scale=2.0)))
    assert abs(two.width() - 2 * one.width()) <= 2


def test_svg_holds_the_node_names_and_shapes(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = render_document(Document(canvas_graphs.lenet5()), tmp_path / "lenet.svg")
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for name in ("c1", "s2", "f7", "6×28×28", "5×5, 6, s1 p0"):
        assert name in text


def test_dark_rendering_has_a_dark_background(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = render_document(canvas_graphs.small_chain(), tmp_path / "d.png", dark=True)
    corner = QImage(str(path)).pixelColor(2, 2)
    assert corner.lightness() < 60


def test_unknown_suffix_is_refused(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        render_document(canvas_graphs.small_chain(), tmp_path / "x.jpg")


def test_grab_image_is_device_pixel_ratio_aware(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = GraphView(Document(canvas_graphs.residual(1)))
    qtbot.addWidget(view)
    view.select([next(iter(view.current_graph.nodes))])
    image = view.grab_image(2.0)
    assert image.devicePixelRatio() == 2.0
    size = view.graph_scene.diagram_rect().size()
    assert image.width() >= 2 * size.width() and image.height() >= 2 * size.height()
    assert pixels(image)[..., :3].std() > 20
    assert view.selected_ids(), "the selection survives the export"
