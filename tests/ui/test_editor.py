"""The editor in the main window: multi-level grouping and the keys of the action table.

Keys are pressed on the canvas as real key events, so they go through Qt's shortcut map
as a user's would: what runs is what the action table binds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QToolButton
from pytestqt.qtbot import QtBot

from netbuilder.core.document import Document
from netbuilder.core.graph import Graph
from netbuilder.core.layout import apply_layout
from netbuilder.ui.main_window import MainWindow
from tests.ui import canvas_graphs

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
OpenWindow = Callable[[Graph], MainWindow]


def with_block() -> Graph:
    """input → conv1 → block1 (a residual basic block) → output."""
    graph = Graph()
    graph.chain(("input", "input", {"shape": (3, 16, 16)}),
                ("conv2d", "conv1", {"out_channels": 8, "kernel_size": 3, "padding": 1}),
                ("basic_block", "block1", {"out_channels": 8}), ("output", "output", {}))
    apply_layout(graph)
    return graph


@pytest.fixture
def open_window(qtbot: QtBot, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenWindow]:
    """Opens a shown, active window over ``graph`` whose canvas has the focus."""
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    made: list[MainWindow] = []

    def make(graph: Graph) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(Document(graph), settings=settings,
                            recovery_dir=tmp_path / "recovery",
                            user_blocks_dir=tmp_path / "blocks")
        made.append(window)
        window.resize(1280, 800)
        with qtbot.waitExposed(window):
            window.show()
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
        window.view.setFocus()
        qtbot.waitUntil(window.view.hasFocus, timeout=3000)
        return window

    yield make
    for window in made:
        if shiboken6.isValid(window):
            window.close()


@pytest.fixture
def expanded(open_window: OpenWindow) -> tuple[MainWindow, Graph]:
    """A window whose ``block1`` is expanded in place; and the block's body."""
    window = open_window(with_block())
    block = window.document.graph.by_name("block1")
    assert window.view.edits.set_expanded(block.id, True) and block.body is not None
    return window, block.body


def groups_in(graph: Graph) -> list[str]:
    return [n.name for n in graph.nodes.values() if n.type == "group"]


# -- one multi-level group / ungroup ----------------------------------------------------------
def test_ctrl_g_groups_nodes_selected_inside_an_expanded_group(
        qtbot: QtBot, expanded: tuple[MainWindow, Graph]) -> None:
    window, body = expanded
    window.view.select([body.by_name("conv2").id, body.by_name("bn2").id])
    qtbot.keyClick(window.view, Qt.Key.Key_G, CTRL)
    assert groups_in(body) == ["group1"], "the group is made in the body"
    assert groups_in(window.document.graph) == []
    group = body.by_name("group1")
    assert group.body is not None
    assert {n.name for n in group.body.nodes.values()} >= {"conv2", "bn2"}
    assert window.view.selected_ids() == [group.id]
    qtbot.keyClick(window.view, Qt.Key.Key_G, CTRL | SHIFT)
    assert groups_in(body) == [] and {"conv2", "bn2"} <= {n.name for n in body.nodes.values()}


def test_ctrl_g_refuses_a_selection_across_levels_and_says_why(
        qtbot: QtBot, expanded: tuple[MainWindow, Graph]) -> None:
    window, body = expanded
    steps = len(window.document.history)
    window.view.select([window.document.graph.by_name("conv1").id, body.by_name("conv2").id])
    qtbot.keyClick(window.view, Qt.Key.Key_G, CTRL)
    assert "different groups" in window.statusBar().currentMessage()
    assert len(window.document.history) == steps
    assert groups_in(body) == [] and groups_in(window.document.graph) == []


def test_toolbar_and_context_menu_run_the_same_group_action(
        qtbot: QtBot, expanded: tuple[MainWindow, Graph]) -> None:
    window, body = expanded
    window.view.select([body.by_name("conv2").id, body.by_name("bn2").id])
    menu = window.editor.show_context_menu(window.view.selected_ids(), QPoint(10, 10))
    assert window.act["group"] in menu.actions()
    menu.close()
    button = window.findChild(QToolButton, "toolButtonGroup")
    assert button is not None and button.defaultAction() is window.act["group"]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert groups_in(body) == ["group1"]


def test_freeze_and_delete_reach_every_level(qtbot: QtBot,
                                             expanded: tuple[MainWindow, Graph]) -> None:
    window, body = expanded
    graph = window.document.graph
    conv1, conv2 = graph.by_name("conv1"), body.by_name("conv2")
    window.view.select([conv1.id, conv2.id])
    window.act["freeze"].trigger()
    assert conv1.frozen and conv2.frozen and window.act["freeze"].isChecked()
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert conv1.id not in graph.nodes and conv2.id not in body.nodes
    assert window.act["undo"].text() == "&Undo Delete 2 items"


# -- keys ---------------------------------------------------------------------------------------
def test_ctrl_backspace_leaves_a_group_and_never_deletes(qtbot: QtBot,
                                                         open_window: OpenWindow) -> None:
    window = open_window(canvas_graphs.small_chain())
    graph = window.document.graph
    conv = graph.by_name("conv1").id
    window.view.select([conv])
    assert not window.act["close_group"].isEnabled()
    qtbot.keyClick(window.view, Qt.Key.Key_Backspace, CTRL)
    assert conv in graph.nodes, "Ctrl+Backspace at the top level deletes nothing"
    window.view.select([conv, graph.by_name("relu1").id])
    group_id = window.editor.group_selected()
    assert window.editor.open_group(group_id)
    window.view.select([conv])
    qtbot.keyClick(window.view, Qt.Key.Key_Backspace, CTRL)
    assert window.view.current_graph is graph, "it leaves the group"
    body = graph.nodes[group_id].body
    assert body is not None and conv in body.nodes
    window.view.select([group_id])
    qtbot.keyClick(window.view, Qt.Key.Key_Backspace)
    assert group_id not in graph.nodes, "plain Backspace deletes"


def test_plus_and_minus_zoom_on_the_canvas_only(qtbot: QtBot,
                                                open_window: OpenWindow) -> None:
    window = open_window(canvas_graphs.small_chain())
    view = window.view
    view.resetTransform()
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.zoom == pytest.approx(1.25)
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert view.zoom == pytest.approx(1.0)
    qtbot.keyClick(view, Qt.Key.Key_Equal, CTRL)
    assert view.zoom == pytest.approx(1.25)
    window.view.select([window.document.graph.by_name("conv1").id])
    field = window.inspector.name_edit
    field.setFocus()
    qtbot.waitUntil(field.hasFocus, timeout=3000)
    qtbot.keyClicks(field, "-")
    assert field.text() == "conv1-" and view.zoom == pytest.approx(1.25)


def test_enabled_states_follow_the_selection(open_window: OpenWindow) -> None:
    window = open_window(canvas_graphs.small_chain())
    act, graph = window.act, window.document.graph
    window.view.select([])
    assert not any(act[k].isEnabled() for k in ("cut", "group", "rename", "open_group"))
    window.view.select([graph.by_name("conv1").id, graph.by_name("relu1").id])
    assert act["group"].isEnabled() and act["cut"].isEnabled()
    assert not act["rename"].isEnabled() and not act["ungroup"].isEnabled()
    group_id = window.editor.group_selected()
    assert act["ungroup"].isEnabled() and act["open_group"].isEnabled()
    assert act["rename"].isEnabled() and not act["close_group"].isEnabled()
    window.editor.open_group(group_id)
    assert act["close_group"].isEnabled()
