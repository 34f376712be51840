"""What the canvas says and draws around the nodes: the empty hint, quick add, SVG fonts."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QFontInfo, QImage
from pytestqt.qtbot import QtBot

from netbuilder.core.graph import Graph
from netbuilder.ui.canvas import GraphView
from netbuilder.ui.canvas.quick_add import VISIBLE_ROWS, QuickAddPopup
from netbuilder.ui.canvas.style import style_for
from netbuilder.ui.render import render_document
from tests.ui import canvas_graphs
from tests.ui.conftest import MakeEditor


def dark_pixels(image: QImage, left: int, top: int, right: int, bottom: int) -> int:
    return sum(QColor(image.pixel(x, y)).lightnessF() < 0.4
               for x in range(left, right, 2) for y in range(top, bottom, 2))


def middle_band(view: GraphView) -> tuple[int, int, int, int]:
    rect = view.viewport().rect()
    return (rect.width() // 6, rect.height() // 2 - 60, rect.width() * 5 // 6,
            rect.height() // 2 + 60)


def test_the_empty_canvas_says_how_to_begin(make_editor: MakeEditor, qtbot: QtBot) -> None:
    editor = make_editor(Graph())
    view = editor.view
    hint = view.empty_hint()
    for words in ("Drag a block", "Tab", "Ctrl+K", "File › Open Template"):
        assert words in hint
    qtbot.waitUntil(lambda: dark_pixels(view.viewport().grab().toImage(),
                                        *middle_band(view)) > 40)
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    popup = view.quick_add_popup
    assert popup is not None
    qtbot.waitUntil(popup.isVisible)
    qtbot.keyClicks(popup.search, "input")
    qtbot.keyClick(popup.search, Qt.Key.Key_Return)
    assert len(view.current_graph.nodes) == 1
    assert view.empty_hint() == ""
    view.centerOn(view.graph_scene.diagram_rect().center() + QPoint(0, 2000))
    qtbot.waitUntil(lambda: dark_pixels(view.viewport().grab().toImage(),
                                        *middle_band(view)) == 0)


def list_rows_height(popup: QuickAddPopup) -> int:
    return popup.list.count() and popup.list.sizeHintForRow(0) * min(popup.list.count(),
                                                                     VISIBLE_ROWS)


def test_quick_add_is_as_large_as_what_it_lists(make_editor: MakeEditor,
                                                qtbot: QtBot) -> None:
    view = make_editor(canvas_graphs.small_chain()).view
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    popup = view.quick_add_popup
    assert popup is not None
    qtbot.waitUntil(popup.isVisible)
    furniture = popup.height() - popup.list.height()
    for typed in ("", "conv", "conv2"):
        popup.search.clear()
        qtbot.keyClicks(popup.search, typed)
        rows = list_rows_height(popup)
        assert popup.list.viewport().height() - rows <= 2, f"no empty band ({typed!r})"
        assert popup.height() - popup.list.height() == furniture
    assert popup.list.count() < VISIBLE_ROWS
    popup.search.clear()
    qtbot.keyClicks(popup.search, "zzzz")
    assert not popup.list.isVisible() and popup.nothing.isVisible()
    assert "zzzz" in popup.nothing.text()
    assert popup.height() < popup.search.height() * 3


def test_exported_svg_names_the_font_the_canvas_draws_with(tmp_path: Path) -> None:
    svg = render_document(canvas_graphs.lenet5(), tmp_path / "lenet.svg")
    families = set(re.findall(r'font-family="([^"]*)"', svg.read_text()))
    real = QFontInfo(style_for(False).fonts["name"]).family()
    assert families == {real}
    assert "Sans Serif" not in families and real
