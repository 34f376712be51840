"""The status bar's totals and warnings as an error or a broadcasting sum appears and goes.

A window on LeNet-5 is edited through the inspector with real key presses; the tests read
the status bar's labels and the inspector's text, as the user reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from netbuilder.core import commands
from netbuilder.core.document import Document
from netbuilder.core.graph import Graph
from netbuilder.core.layout import apply_layout
from netbuilder.ui.main_window import MainWindow
from tests.ui.test_main_window import click_node, node_id, type_into


@pytest.fixture
def make_window(qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., MainWindow]]:
    """Shown windows with their own settings; "Discard" answers the unsaved question."""
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    made: list[MainWindow] = []

    def make(document: Document | None = None) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(document, settings=settings, recovery_dir=tmp_path / "recovery",
                            user_blocks_dir=tmp_path / "blocks")
        made.append(window)
        window.resize(1280, 800)
        with qtbot.waitExposed(window):
            window.show()
        return window

    yield make
    for window in made:
        if shiboken6.isValid(window):
            window.close()


@pytest.fixture
def window(make_window: Callable[..., MainWindow]) -> MainWindow:
    """A window on LeNet-5."""
    return make_window()


def test_an_error_shows_the_totals_of_the_valid_part_marked_partial(
        qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    status = window.status
    assert status.params.text() == "Params 61,706" and "partial" not in status.size.text()
    click_node(qtbot, window, "c3")
    type_into(qtbot, window.inspector.editor("kernel_size").field, "40")
    assert status.errors.text() == "● 1 error"
    conv1 = window.document.analysis.nodes[node_id(window, "c1")]
    assert status.params.text() == f"Params {conv1.params:,} (partial)" == "Params 156 (partial)"
    assert status.macs.text() == "MACs 118 K (partial)"
    assert status.size.text().endswith(" MB (partial)")
    assert "not counted" in status.params.toolTip()
    window.view.select([])
    assert "156 (partial)" in window.inspector.summary.text()
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert status.params.text() == "Params 61,706" and status.errors.text() == "✓ No errors"
    assert "not counted" not in status.params.toolTip()


def test_an_error_that_leaves_every_shape_known_is_not_partial(
        window: MainWindow) -> None:
    graph = window.document.graph
    output = graph.by_name("output")
    window.document.push(commands.remove_nodes(graph, [output.id]))
    assert window.status.errors.text().startswith("● 1 error")
    assert window.status.params.text() == "Params 61,706"


def broadcasting_sum() -> Document:
    """input → wide (16 channels) and thin (1 channel) → sum → output."""
    graph = Graph()
    source = graph.add("input", "input", shape=(3, 8, 8))
    wide = graph.add("conv2d", "wide", after=source, out_channels=16, kernel_size=1)
    thin = graph.add("conv2d", "thin", after=source, out_channels=1, kernel_size=1)
    total = graph.add("add", "sum", after=wide)
    graph.connect(thin, total)
    graph.add("output", "output", after=total)
    apply_layout(graph)
    return Document(graph)


def test_a_sum_that_broadcasts_one_channel_is_warned_about_on_its_node(
        qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window(broadcasting_sum())
    assert window.status.errors.text() == "▲ 1 warning"
    click_node(qtbot, window, "sum")
    assert window.view.selected_ids() == [node_id(window, "sum")]
    issues = window.inspector.issues
    assert issues.isVisible()
    assert "its 1 channel is repeated 16 times" in issues.text()
    click_node(qtbot, window, "thin")
    type_into(qtbot, window.inspector.editor("out_channels").field, "16")
    assert window.status.errors.text() == "✓ No errors"
