"""Semantic zoom: at every zoom a node shows what can be read there, and Fit keeps it so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QRectF, QSettings, Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from netbuilder.core.graph import Graph
from netbuilder.core.layout import LayoutOptions, layered_layout
from netbuilder.ui.canvas import GraphView
from netbuilder.ui.canvas.levels import FRAME_HEADER, FRAME_PAD
from netbuilder.ui.canvas.node_item import LOD_FULL, LOD_SUMMARY, NodeItem
from netbuilder.ui.canvas.style import MIN_SCREEN_PX
from netbuilder.ui.canvas.view import FIT_MIN_SCALE
from netbuilder.ui.main_window import MainWindow
from tests.ui import canvas_graphs
from tests.ui.conftest import MakeEditor

FULL_CONTRAST = ("text", "header_text")


def one_column(graph: Graph) -> Graph:
    """``graph`` laid out in a single column, however long (no folding)."""
    for node_id, pos in layered_layout(graph, options=LayoutOptions()).items():
        graph.nodes[node_id].pos = pos
    return graph


def visible_rect(view: GraphView) -> QRectF:
    return view.mapToScene(view.viewport().rect()).boundingRect()


def check_texts(item: NodeItem, zoom: float) -> None:
    """Every text of ``item`` at ``zoom`` is readable, at full contrast, in its place."""
    shown = item.shown_texts(zoom)
    look = item.look
    for text in shown:
        assert text.pixels >= MIN_SCREEN_PX, (look.name, text, zoom)
        assert text.pen in FULL_CONTRAST, (look.name, text)
        assert item.boundingRect().contains(text.rect), "a label never reaches a neighbour"
    texts = [t.text for t in shown]
    if zoom >= LOD_FULL:
        assert look.name in texts and look.title in texts and look.shape in texts
        assert not look.params or look.params in texts
    elif zoom >= LOD_SUMMARY:
        assert texts == [look.name, look.shape or "?"] or texts == [look.name]
    elif item.size[1] * zoom >= 16:  # a bar tall enough for one line
        assert texts and texts[0].rstrip("…") and look.name.startswith(texts[0].rstrip("…"))


def test_every_text_is_readable_at_every_zoom(make_editor: MakeEditor,
                                              qtbot: QtBot) -> None:
    view = make_editor(canvas_graphs.lenet5()).view
    zooms = []
    for _ in range(8):
        zooms.append(view.zoom)
        for item in view.graph_scene.node_items():
            check_texts(item, view.zoom)
        qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert any(z >= LOD_FULL for z in zooms)
    assert any(LOD_SUMMARY <= z < LOD_FULL for z in zooms)
    assert any(z < LOD_SUMMARY for z in zooms)


def dark_pixels(view: GraphView, item: NodeItem) -> int:
    """Pixels of text colour (dark) inside ``item``'s box as the viewport shows it."""
    image = view.viewport().grab().toImage()
    box = view.mapFromScene(item.scene_box()).boundingRect().adjusted(2, 2, -2, -2)
    return sum(QColor(image.pixel(x, y)).lightnessF() < 0.4
               for x in range(box.left(), box.right()) for y in range(box.top(), box.bottom()))


def test_bars_are_labelled_on_screen(make_editor: MakeEditor, qtbot: QtBot) -> None:
    view = make_editor(canvas_graphs.lenet5()).view
    for _ in range(4):
        qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert view.zoom < LOD_SUMMARY
    conv = next(i for i in view.graph_scene.node_items() if i.look.name == "c1")
    view.centerOn(conv.scene_box().center())
    assert dark_pixels(view, conv) > 20, "the name is written on the bar"


def test_fit_keeps_names_readable_and_shows_the_input_or_the_selection(
        make_editor: MakeEditor, qtbot: QtBot) -> None:
    editor = make_editor(one_column(canvas_graphs.residual(6)))
    editor.resize(900, 420)
    view = editor.view
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert view.zoom == pytest.approx(FIT_MIN_SCALE), "no smaller than names are readable"
    scene = view.graph_scene
    first = scene.box(view.current_graph.by_name("input").id)
    assert first is not None and visible_rect(view).contains(first.scene_box())
    fc = scene.box(view.current_graph.by_name("fc").id)
    assert fc is not None and not visible_rect(view).intersects(fc.scene_box())
    view.select([fc.node_id])
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert visible_rect(view).contains(fc.scene_box()), "Fit shows the selection"
    for item in scene.node_items():
        check_texts(item, view.zoom)


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path) -> Iterator[Callable[[], MainWindow]]:
    """A shown 1600×1000 main window on the start example, settings in ``tmp_path``."""
    made: list[MainWindow] = []

    def make() -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, recovery_dir=tmp_path / "recovery",
                            user_blocks_dir=tmp_path / "blocks")
        made.append(window)
        window.resize(1600, 1000)
        with qtbot.waitExposed(window):
            window.show()
        return window

    yield make
    for window in made:
        if shiboken6.isValid(window):  # not closed (and deleted) by the test
            window.document.history.set_clean()
            window.close()


def test_fit_with_the_training_dock_open_keeps_resnet50_readable(
        make_window: Callable[[], MainWindow], qtbot: QtBot) -> None:
    from netbuilder.ui.dialogs import template_entries

    window = make_window()
    window.files.open_template(next(e for e in template_entries() if e.name == "resnet50"))
    for stage in ("layer1", "layer2", "layer3", "layer4"):  # the template opens them expanded
        window.view.edits.set_expanded(window.document.graph.by_name(stage).id, False)
    window.training_dock.show()
    window.resizeDocks([window.training_dock], [450], Qt.Orientation.Vertical)
    canvas = window.view.viewport()  # the training dock takes 45 % of the height
    qtbot.waitUntil(lambda: canvas.width() > 900 and canvas.height() < 500)
    window.act["fit"].trigger()
    view = window.view
    assert view.zoom >= LOD_SUMMARY
    items = view.graph_scene.node_items()
    assert len(items) == len(view.current_graph.nodes)
    visible = visible_rect(view)
    assert all(visible.contains(i.scene_box()) for i in items), "the whole network fits"
    for item in items:
        check_texts(item, view.zoom)


def test_fit_keeps_the_template_as_it_opens_readable_with_the_training_dock(
        make_window: Callable[[], MainWindow], qtbot: QtBot) -> None:
    from netbuilder.ui.dialogs import template_entries

    window = make_window()
    window.files.open_template(next(e for e in template_entries() if e.name == "resnet50"))
    window.training_dock.show()
    window.resizeDocks([window.training_dock], [450], Qt.Orientation.Vertical)
    canvas = window.view.viewport()
    qtbot.waitUntil(lambda: canvas.width() > 900 and canvas.height() < 500)
    window.act["fit"].trigger()
    view = window.view
    assert view.zoom >= LOD_SUMMARY, "names stay readable"
    first = view.graph_scene.box(view.current_graph.by_name("input").id)
    assert first is not None and visible_rect(view).contains(first.scene_box())
    for item in view.graph_scene.node_items():
        check_texts(item, view.zoom)


def test_expanded_group_headers_are_readable_at_every_zoom(make_editor: MakeEditor,
                                                           qtbot: QtBot) -> None:
    from tests.ui.test_canvas_expand import with_block

    view = make_editor(with_block()).view
    block = view.current_graph.by_name("block1")
    assert view.edits.set_expanded(block.id, True)
    frame = view.graph_scene.frame_item(block.id)
    assert frame is not None
    for _ in range(6):
        shown = frame.shown_texts(view.zoom)
        assert all(t.pixels >= MIN_SCREEN_PX and t.pen in FULL_CONTRAST for t in shown)
        if view.zoom >= LOD_SUMMARY or (FRAME_HEADER + FRAME_PAD) * view.zoom >= 20:
            assert shown and shown[0].text == "block1", view.zoom
        for item in view.graph_scene.node_items():
            check_texts(item, view.zoom)
        qtbot.keyClick(view, Qt.Key.Key_Minus)
