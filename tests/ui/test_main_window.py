"""The main window, driven as a user drives it: mouse and keyboard on real widgets.

Every window gets its own settings file, recovery folder and user-block folder under
``tmp_path``, and question boxes are answered by patched functions, so nothing touches the
user's real configuration and no modal dialog blocks the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from netbuilder.core import commands, serialize
from netbuilder.core.document import Document
from netbuilder.ui.main_window import MainWindow
from netbuilder.ui.recovery import find_orphans

Answer = QMessageBox.StandardButton


@pytest.fixture(autouse=True)
def discard_on_close(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Answer "Discard" to every unsaved-changes question; record that it was asked."""
    asked: list[str] = []

    def question(*args: object, **kwargs: object) -> Answer:
        asked.append(str(args[2]) if len(args) > 2 else "")
        return Answer.Discard

    monkeypatch.setattr(QMessageBox, "question", question)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: Answer.Ok)
    return asked


@pytest.fixture
def make_window(qtbot, tmp_path: Path) -> Iterator[Callable[..., MainWindow]]:  # type: ignore[no-untyped-def]
    made: list[MainWindow] = []

    def make(document: Document | None = None, size: tuple[int, int] | None = (1280, 800),
             **kwargs: object) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(document, settings=settings, recovery_dir=tmp_path / "recovery",
                            user_blocks_dir=tmp_path / "blocks", **kwargs)  # type: ignore[arg-type]
        made.append(window)
        if size is not None:
            window.resize(*size)
        with qtbot.waitExposed(window):
            window.show()
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
        return window

    yield make
    for window in made:  # windows delete themselves on close
        if shiboken6.isValid(window):
            window.close()


@pytest.fixture
def window(make_window: Callable[..., MainWindow]) -> MainWindow:
    return make_window()


def snapshot(window: MainWindow) -> str:
    """The whole document as the project file would hold it."""
    doc = window.document
    return serialize.dumps(serialize.Project(doc.graph, doc.training, doc.meta))


def node_id(window: MainWindow, name: str) -> str:
    return window.document.graph.by_name(name).id


def click_node(qtbot, window: MainWindow, name: str) -> None:  # type: ignore[no-untyped-def]
    """Click in the middle of a node box on the canvas."""
    item = window.view.graph_scene.node_item(node_id(window, name))
    window.view.ensureVisible(item.scene_box(), 10, 10)
    point = window.view.mapFromScene(item.scene_box().center())
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def shown_shape(window: MainWindow, name: str) -> str:
    """The output shape written on a node box."""
    return window.view.graph_scene.node_item(node_id(window, name)).look.shape


def type_into(qtbot, field, text: str) -> None:  # type: ignore[no-untyped-def]
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def drop(window: MainWindow, mime: QMimeData, at: QPoint) -> None:
    """What a drag from the palette delivers to the canvas (QDrag cannot run offscreen)."""
    viewport = window.view.viewport()
    actions = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    for event in (QDragEnterEvent(at, actions, mime, buttons, mods),
                  QDragMoveEvent(at, actions, mime, buttons, mods),
                  QDropEvent(QPointF(at), actions, mime, buttons, mods, QEvent.Type.Drop)):
        QApplication.sendEvent(viewport, event)


def undo_all(window: MainWindow) -> None:
    while window.act["undo"].isEnabled():
        window.act["undo"].trigger()


# -- start-up ------------------------------------------------------------------------------
def test_starts_on_lenet5_with_its_nodes_totals_and_title(window: MainWindow) -> None:
    items = window.view.graph_scene.node_items()
    assert len(items) == 14
    assert shown_shape(window, "c1") == "6×28×28"
    assert window.windowTitle() == "LeNet-5[*] — NetBuilder" and not window.isWindowModified()
    assert window.status.params.text() == "Params 61,706"
    assert window.status.errors.text() == "✓ No errors"
    assert window.document.path is None  # Save never overwrites the bundled example
    assert not window.training_dock.isVisible()
    assert window.palette_dock.isVisible() and window.inspector_dock.isVisible()


def test_training_and_experiments_share_the_bottom_as_tabs(
        qtbot, make_window: Callable[..., MainWindow]) -> None:  # type: ignore[no-untyped-def]
    """Each takes the window's width (side by side, neither toolbar row fitted and the
    window grew past 1600 px); the one shown from the View menu comes to the front."""
    window = make_window(size=(1600, 1000))
    window.training.show_dock()
    window.experiments_dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: window.experiments.panel.isVisible())
    assert window.tabifiedDockWidgets(window.training_dock) == [window.experiments_dock]
    assert not window.experiments_dock.visibleRegion().isEmpty()
    assert window.training_dock.visibleRegion().isEmpty()  # behind its tab
    assert window.width() == 1600
    assert window.experiments_dock.width() > 1000
    window.training_dock.toggleViewAction().trigger()  # hidden …
    window.training_dock.toggleViewAction().trigger()  # … and shown again: in front
    assert not window.training_dock.visibleRegion().isEmpty()


def test_experiments_shown_alone_takes_the_training_share_of_the_height(
        qtbot, make_window: Callable[..., MainWindow]) -> None:  # type: ignore[no-untyped-def]
    window = make_window(size=(1600, 1000))
    window.experiments_dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: window.experiments.panel.isVisible())
    assert window.experiments_dock.height() >= 0.4 * window.height()  # Qt's default: 20 %
    assert "press Start" in window.experiments.panel.status_label.text()


def test_actions_have_names_shortcuts_and_tips(window: MainWindow) -> None:
    expected = {"new": "Ctrl+N", "open": "Ctrl+O", "save": "Ctrl+S", "save_as": "Ctrl+Shift+S",
                "undo": "Ctrl+Z", "redo": "Ctrl+Shift+Z", "duplicate": "Ctrl+D",
                "group": "Ctrl+G", "ungroup": "Ctrl+Shift+G", "rename": "F2", "fit": "F",
                "auto_layout": "Ctrl+L", "quit": "Ctrl+Q"}
    for key, shortcut in expected.items():
        assert window.act[key].shortcut().toString() == shortcut, key
    assert "Ctrl+Y" in [s.toString() for s in window.act["redo"].shortcuts()]
    for key, action in window.act.items():
        assert action.objectName().startswith("action"), key
        assert action.statusTip() and action.toolTip(), key
    for widget in (window.view, window.palette_panel, window.inspector, window.status,
                   window.palette_dock, window.inspector_dock, window.training_dock):
        assert widget.objectName() and widget.accessibleName()


# -- palette → canvas → inspector → status bar --------------------------------------------------
def test_drop_a_block_from_the_palette_onto_the_canvas(window: MainWindow) -> None:
    before = len(window.document.graph.nodes)
    at = QPoint(120, 120)
    drop(window, window.palette_panel.mime_data("batchnorm2d"), at)
    graph = window.document.graph
    assert len(graph.nodes) == before + 1
    added = list(graph.nodes.values())[-1]
    assert added.type == "batchnorm2d"
    item = window.view.graph_scene.node_item(added.id)
    assert item.scene_box().contains(window.view.mapToScene(at))
    assert window.act["undo"].text() == f"&Undo Add {added.name}"


def test_param_edit_changes_downstream_label_and_totals(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    click_node(qtbot, window, "c1")
    assert window.view.selected_ids() == [node_id(window, "c1")]
    assert window.inspector.name_edit.text() == "c1"
    type_into(qtbot, window.inspector.editor("out_channels").field, "32")
    assert shown_shape(window, "act1") == "32×28×28"
    assert shown_shape(window, "s2") == "32×14×14"
    assert window.status.params.text() == "Params 72,782"  # c1 +676, c3 +10,400
    assert window.act["undo"].text() == "&Undo Set c1.out_channels"
    assert window.isWindowModified()


def test_a_shape_error_shows_in_the_status_bar_and_selects_its_node(
        qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    click_node(qtbot, window, "c3")
    type_into(qtbot, window.inspector.editor("kernel_size").field, "15")
    assert window.status.errors.text().startswith("● 1 error")
    assert "larger" in window.inspector.issues.text() or window.inspector.issues.text()
    window.view.select([])
    qtbot.mouseClick(window.status.errors, Qt.MouseButton.LeftButton)
    dialog = window.error_dialog
    assert dialog is not None and dialog.isVisible() and dialog.list.count() >= 1
    dialog.list.setCurrentRow(0)
    assert window.view.selected_ids() == [node_id(window, "c3")]


# -- structure -------------------------------------------------------------------------------------
def test_group_and_ungroup_through_the_actions(window: MainWindow) -> None:
    start = snapshot(window)
    names = ("c1", "act1", "s2")
    window.view.select([node_id(window, n) for n in names])
    window.act["group"].trigger()
    graph = window.document.graph
    groups = [n for n in graph.nodes.values() if n.type == "group"]
    assert len(groups) == 1 and window.view.selected_ids() == [groups[0].id]
    assert len(window.view.graph_scene.node_items()) == 14 - 3 + 1
    assert shown_shape(window, groups[0].name) == "6×14×14"
    assert window.act["undo"].text().startswith("&Undo Group")
    window.act["ungroup"].trigger()
    assert {n.name for n in graph.nodes.values()} >= set(names)
    assert not any(n.type == "group" for n in graph.nodes.values())
    assert window.status.errors.text() == "✓ No errors"
    undo_all(window)
    assert snapshot(window) == start


def test_refused_group_reports_why(window: MainWindow) -> None:
    window.view.select([node_id(window, "c1"), node_id(window, "s2")])
    window.act["group"].trigger()
    assert "cannot group" in window.statusBar().currentMessage()
    assert not any(n.type == "group" for n in window.document.graph.nodes.values())


# -- clipboard ------------------------------------------------------------------------------------
def test_copy_paste_with_keys_and_between_windows(
        qtbot, make_window: Callable[..., MainWindow]) -> None:  # type: ignore[no-untyped-def]
    first = make_window()
    first.view.select([node_id(first, "c1"), node_id(first, "act1")])
    first.view.setFocus()
    qtbot.keyClick(first.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasFormat("application/x-netbuilder-fragment")
    qtbot.keyClick(first.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    graph = first.document.graph
    pasted = first.view.selected_ids()
    assert len(graph.nodes) == 16 and len(pasted) == 2
    assert [graph.nodes[i].type for i in pasted] == ["conv2d", "sigmoid"]
    assert any(e.source == pasted[0] and e.target == pasted[1] for e in graph.edges)
    original = graph.by_name("c1")
    assert graph.nodes[pasted[0]].pos == (original.pos[0] + 40, original.pos[1] + 40)

    second = make_window(Document())
    second.view.setFocus()
    qtbot.keyClick(second.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    other = second.document.graph
    assert sorted(n.name for n in other.nodes.values()) == ["act1", "c1"]
    assert other.by_name("c1").params == original.params


def test_cut_duplicate_and_delete(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    start = snapshot(window)
    window.view.select([node_id(window, "f6")])
    window.act["duplicate"].trigger()
    assert len(window.document.graph.nodes) == 15
    window.act["cut"].trigger()
    assert len(window.document.graph.nodes) == 14
    window.view.select([node_id(window, "act4")])
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert "act4" not in {n.name for n in window.document.graph.nodes.values()}
    assert window.status.errors.text().startswith("●")
    undo_all(window)
    assert snapshot(window) == start


# -- undo, save, reopen -----------------------------------------------------------------------
def test_undo_everything_returns_to_the_start(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    start = snapshot(window)
    drop(window, window.palette_panel.mime_data("relu"), QPoint(100, 300))
    click_node(qtbot, window, "f5")
    type_into(qtbot, window.inspector.editor("out_features").field, "64")
    type_into(qtbot, window.inspector.name_edit, "hidden")
    window.view.select([node_id(window, "act3"), node_id(window, "f6")])
    window.act["group"].trigger()
    window.act["freeze"].trigger()
    window.view.select([node_id(window, "c3")])
    window.act["copy"].trigger()
    window.act["paste"].trigger()
    assert snapshot(window) != start and window.isWindowModified()
    undo_all(window)
    assert snapshot(window) == start
    assert not window.isWindowModified()
    assert window.act["undo"].text() == "&Undo"


def test_save_then_reopen_in_a_new_window(
        qtbot, tmp_path: Path, make_window: Callable[..., MainWindow]) -> None:  # type: ignore[no-untyped-def]
    first = make_window()
    click_node(qtbot, first, "f7")
    type_into(qtbot, first.inspector.editor("out_features").field, "100")
    assert first.windowTitle().startswith("LeNet-5[*]") and first.isWindowModified()
    path = tmp_path / "digits.nbproj"
    assert first.files.save_to(path)
    assert first.windowTitle() == "digits[*] — NetBuilder" and not first.isWindowModified()
    second = make_window(Document())
    assert second.files.open_path(path)
    assert snapshot(second) == snapshot(first)
    assert second.status.params.text() == first.status.params.text()
    assert second.files.recent_files()[0] == path.resolve()


def test_close_asks_about_unsaved_changes(
        monkeypatch: pytest.MonkeyPatch, make_window: Callable[..., MainWindow]) -> None:
    answers = [Answer.Cancel, Answer.Discard]
    asked: list[str] = []

    def question(*args: object, **kwargs: object) -> Answer:
        asked.append(str(args[2]))
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "question", question)
    clean = make_window()
    assert clean.close() and not asked  # nothing to save: closes without asking
    window = make_window()
    window.document.push(commands.Rename(window.document.graph, node_id(window, "c1"), "conv"))
    assert window.isWindowModified()
    assert not window.close() and window.isVisible()
    assert asked and "LeNet-5" in asked[0]
    assert window.close()
    assert len(asked) == 2


# -- recovery and persistence ----------------------------------------------------------------
def test_autosave_writes_a_snapshot_that_the_next_launch_restores(
        tmp_path: Path, window: MainWindow,
        make_window: Callable[..., MainWindow]) -> None:
    assert window.autosaver.timer.isActive() and window.autosaver.timer.interval() == 60_000
    assert window.autosaver.save_now() is None  # nothing to save while unmodified
    window.document.push(commands.Rename(window.document.graph, node_id(window, "c1"), "conv"))
    snapshot_path = window.autosaver.save_now()
    assert snapshot_path is not None and snapshot_path.exists()
    assert find_orphans(tmp_path / "recovery") == []  # held by a live window
    crashed = tmp_path / "crashed"  # what a crash leaves: the files without a live lock
    crashed.mkdir()
    for suffix in (".nbproj", ".json"):
        shutil.copy(snapshot_path.with_suffix(suffix), crashed)
    offered = []
    settings = QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat)
    restored = MainWindow.launch(recovery_dir=crashed, settings=settings,
                                 ask_restore=lambda info: offered.append(info) or True,
                                 user_blocks_dir=tmp_path / "blocks")
    try:
        assert len(offered) == 1 and offered[0].title == "untitled"
        assert restored.document.graph.by_name("conv").type == "conv2d"
        assert restored.isWindowModified()
        assert list(crashed.glob("*.nbproj")) == []
    finally:
        restored.close()
    assert window.files.save_to(tmp_path / "saved.nbproj")
    assert not snapshot_path.exists()


def test_declined_recovery_is_deleted_and_the_example_opens(
        tmp_path: Path, window: MainWindow) -> None:
    window.document.push(commands.Rename(window.document.graph, node_id(window, "c1"), "conv"))
    snapshot_path = window.autosaver.save_now()
    assert snapshot_path is not None
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for suffix in (".nbproj", ".json"):
        shutil.copy(snapshot_path.with_suffix(suffix), crashed)
    settings = QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat)
    fresh = MainWindow.launch(recovery_dir=crashed, settings=settings,
                              ask_restore=lambda info: False,
                              user_blocks_dir=tmp_path / "blocks")
    try:
        assert fresh.document.graph.by_name("c1").type == "conv2d"
        assert not fresh.isWindowModified()
        assert list(crashed.iterdir()) == []
    finally:
        fresh.close()


def test_bundled_examples_stand_in_for_templates() -> None:
    from netbuilder.ui.dialogs import example_entries

    entries = example_entries()
    lenet = next(e for e in entries if e.name == "lenet5")
    assert lenet.title == "LeNet-5"
    assert lenet.document_now().analysis.total_params == 61_706
    assert lenet.take_document() is not lenet.document_now()


def test_layout_and_recent_files_persist(
        tmp_path: Path, make_window: Callable[..., MainWindow]) -> None:
    first = make_window()
    first.palette_dock.hide()
    first.resize(700, 500)  # within the offscreen screen (restoreGeometry clamps to it)
    assert first.files.save_to(tmp_path / "a.nbproj")
    first.set_theme("light")
    assert first.close()
    second = make_window(size=None)
    assert second.files.recent_files() == [(tmp_path / "a.nbproj").resolve()]
    assert not second.palette_dock.isVisible() and second.inspector_dock.isVisible()
    assert (second.width(), second.height()) == (700, 500)
    assert second.act["theme_light"].isChecked()
    second.files.recent_menu.aboutToShow.emit()
    names = [a.text() for a in second.files.recent_menu.actions()]
    assert "&1 a.nbproj" in names
    second.act["clear_recent"].trigger()
    assert second.files.recent_files() == []
    second.set_theme("system")


def test_user_block_saved_from_a_selection_drops_back_onto_the_canvas(
        window: MainWindow) -> None:
    window.view.select([node_id(window, "c3"), node_id(window, "act2")])
    assert window.editor.save_user_block("conv_sig") == "conv_sig"
    assert "conv_sig" in window.palette_panel.user_block_names()
    before = len(window.document.graph.nodes)
    drop(window, window.palette_panel.mime_data("conv_sig"), QPoint(200, 200))
    assert len(window.document.graph.nodes) == before + 2
    assert window.act["undo"].text() == "&Undo Paste 2 nodes"


# -- more of the menus ------------------------------------------------------------------------
def test_open_template_through_the_dialog(
        monkeypatch: pytest.MonkeyPatch, window: MainWindow) -> None:
    from PySide6.QtWidgets import QDialog

    from netbuilder.ui import dialogs

    wanted = ("lenet5", "resnet18")
    entries = [e for e in dialogs.template_entries() if e.name in wanted]
    entries = entries or dialogs.example_entries()
    monkeypatch.setattr(dialogs, "template_entries", lambda: entries)
    seen = []

    def run(dialog: dialogs.TemplateDialog) -> int:
        dialog.wait_until_computed()
        seen.append([(dialog.list.item(k).text(), dialog.list.item(k).icon().isNull())
                     for k in range(dialog.list.count())])
        dialog.list.setCurrentRow(dialog.list.count() - 1)
        seen.append(dialog.details.text())
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(dialogs.TemplateDialog, "exec", run)
    window.act["open_template"].trigger()
    assert all("params" in text and not blank for text, blank in seen[0])
    assert "parameters" in seen[1]
    chosen = entries[-1]
    assert window.windowTitle() == f"{chosen.title}[*] — NetBuilder"
    assert window.view.graph_scene.node_items()
    total = window.document.analysis.total_params
    assert window.status.params.text() == f"Params {total:,}"
    assert not window.isWindowModified()


def test_new_gives_an_empty_untitled_network(window: MainWindow) -> None:
    window.act["new"].trigger()
    assert window.document.graph.nodes == {}
    assert window.windowTitle() == "untitled[*] — NetBuilder"
    assert window.status.params.text() == "Params 0"
    assert not window.act["undo"].isEnabled()


def test_export_png_and_svg(tmp_path: Path, window: MainWindow) -> None:
    for name in ("net.png", "net.svg"):
        assert window.files.export_diagram(tmp_path / name)
        assert (tmp_path / name).stat().st_size > 1000
    assert "<svg" in (tmp_path / "net.svg").read_text()


def test_error_inside_a_group_opens_the_group_and_selects_the_culprit(
        window: MainWindow) -> None:
    window.view.select([node_id(window, n) for n in ("c1", "act1", "s2")])
    group_id = window.editor.group_selected()
    body = window.document.graph.nodes[group_id].body
    conv = body.by_name("c1")
    window.document.push(commands.set_param(body, conv.id, "kernel_size", 40))
    assert window.status.errors.text().startswith("● ")
    dialog = window.show_errors()
    row = next(k for k in range(dialog.list.count())
               if dialog.list.item(k).data(Qt.ItemDataRole.UserRole) == conv.id)
    dialog.list.setCurrentRow(row)
    assert window.view.current_graph is body
    assert window.view.selected_ids() == [conv.id]
    assert window.status.level.text() == "Network › group1"
    assert window.act["close_group"].isEnabled()
    window.act["close_group"].trigger()
    assert window.view.current_graph is window.document.graph
    assert window.view.selected_ids() == [group_id]


def test_f2_renames_in_the_inspector(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    click_node(qtbot, window, "c3")
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F2)
    assert QApplication.focusWidget() is window.inspector.name_edit
    qtbot.keyClicks(window.inspector.name_edit, "conv2")
    qtbot.keyClick(window.inspector.name_edit, Qt.Key.Key_Return)
    assert window.document.graph.nodes[node_id(window, "conv2")].type == "conv2d"
    assert window.act["undo"].text() == "&Undo Rename c3 to conv2"


_RUN_GUI_SCRIPT = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from netbuilder.ui import app as app_module
import netbuilder.ui.main_window as main_window
settings = QSettings(sys.argv[2], QSettings.Format.IniFormat)
app_module.app_settings = lambda: settings
main_window.offer_recovery = lambda *a, **k: []
app_module.create_application()  # the timer below needs the application to exist
seen = []
def check_and_close():
    window = main_window.MainWindow.windows[-1]
    seen.append((window.windowTitle(), len(window.document.graph.nodes)))
    window.close()
    QApplication.instance().quit()
QTimer.singleShot(200, check_and_close)
code = app_module.run_gui(sys.argv[1])
print(repr((code, seen, QApplication.applicationName())))
"""


def test_run_gui_opens_a_file_and_returns_when_closed(tmp_path: Path) -> None:
    """In its own process: quitting the application ends every later event loop."""
    import subprocess
    import sys

    path = tmp_path / "tiny.nbproj"
    graph = serialize.Project(Document().graph)
    graph.graph.chain(("input", "x", {"shape": (3, 8, 8)}), ("relu", "r", {}),
                      ("output", "y", {}))
    serialize.save(graph, path)
    done = subprocess.run(
        [sys.executable, "-c", _RUN_GUI_SCRIPT, str(path), str(tmp_path / "gui.ini")],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    code, seen, name = eval(done.stdout.strip().splitlines()[-1])  # our own repr() output
    assert code == 0
    assert seen == [("tiny[*] — NetBuilder", 3)]
    assert name == "NetBuilder"


# -- pictures -------------------------------------------------------------------------------------
def _distinct_colors(image) -> int:  # type: ignore[no-untyped-def]
    colors = set()
    for y in range(0, image.height(), 7):
        for x in range(0, image.width(), 7):
            colors.add(image.pixel(x, y))
    return len(colors)


def test_screenshot_is_not_blank_in_light_and_dark(window: MainWindow) -> None:
    from netbuilder.ui import app as app_module

    image = window.grab().toImage()
    assert image.width() >= 1000 and _distinct_colors(image) > 40
    app = QApplication.instance()
    try:
        window.set_theme("dark")
        dark = window.grab().toImage()
        assert _distinct_colors(dark) > 40
        corner = QColor(dark.pixel(dark.width() // 2, dark.height() - 40))
        assert corner.lightnessF() < 0.5
    finally:
        app_module.apply_theme(app, app_module.LIGHT)
        window.set_theme("system")


def test_the_window_shows_without_importing_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QSettings\n"
        "from netbuilder.ui.app import create_application\n"
        "from netbuilder.ui.main_window import MainWindow\n"
        "app = create_application()\n"
        f"tmp = Path({str(tmp_path)!r})\n"
        "settings = QSettings(str(tmp / 's.ini'), QSettings.Format.IniFormat)\n"
        "w = MainWindow(settings=settings, recovery_dir=tmp / 'r', user_blocks_dir=tmp / 'b')\n"
        "w.show()\n"
        "app.processEvents()\n"
        "assert w.isVisible()\n"
        "heavy = [m for m in ('torch', 'torchvision', 'pyqtgraph') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "w.document.history.set_clean()\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
