"""The inspector's Memory section and the status bar's training figure (issue 17.1, 17.5)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from netbuilder.compiler import compile_graph
from netbuilder.core import commands
from netbuilder.core.document import Document
from netbuilder.core.inits import checkpoint_init
from netbuilder.core.memory import MemorySettings, format_bytes, plan_memory
from netbuilder.ui.canvas.heat import heat_badges, note_badges
from netbuilder.ui.inspector import InspectorPanel
from netbuilder.ui.main_window import MainWindow
from netbuilder.ui.measure import measure
from netbuilder.ui.memory_section import status_text
from tests.training.test_preflight import small_net as preflight_net
from tests.ui.test_inspector import small_net, type_into


@pytest.fixture
def panel(qtbot) -> InspectorPanel:  # type: ignore[no-untyped-def]
    """An inspector on a small LeNet-like network (its node ids in ``panel.ids``)."""
    document, ids = small_net()
    widget = InspectorPanel(document)
    qtbot.addWidget(widget)
    widget.resize(360, 900)
    with qtbot.waitExposed(widget):
        widget.show()
    widget.ids = ids  # type: ignore[attr-defined]
    return widget


@pytest.fixture
def make_window(qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., MainWindow]]:
    """Shown windows with their own settings (LeNet-5 unless given a document)."""
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    made: list[MainWindow] = []

    def make(document: Document | None = None) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(document, settings=settings, recovery_dir=tmp_path / "recovery",
                            user_blocks_dir=tmp_path / "blocks")
        window.resize(1280, 800)
        with qtbot.waitExposed(window):
            window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()


@pytest.fixture
def window(make_window: Callable[..., MainWindow]) -> MainWindow:
    """A shown window on LeNet-5."""
    return make_window()


def test_the_memory_section_shows_the_nodes_arithmetic(
        qtbot, panel: InspectorPanel) -> None:  # type: ignore[no-untyped-def]
    panel.show_nodes([panel.ids["c1"]])  # type: ignore[attr-defined]
    memory = panel.memory
    assert memory.isVisible()
    # c1 keeps its input 1×28×28 for the weight gradient: 32·784·4 B at batch 32
    assert "saved: input 32·784·4 B = 100 kB" in memory.formulas.toPlainText()
    plan = plan_memory(panel.document.graph, panel.analysis, memory.settings)
    assert f"Training at batch 32: {format_bytes(plan.training_peak)}" in \
        memory.totals.text()
    assert "largest batch that fits in 8 GB" in memory.totals.text()


def test_changing_the_batch_updates_the_figures(
        qtbot, panel: InspectorPanel) -> None:  # type: ignore[no-untyped-def]
    panel.show_nodes([panel.ids["c1"]])  # type: ignore[attr-defined]
    type_into(qtbot, panel.memory.batch, "4")
    qtbot.waitUntil(lambda: "saved: input 4·784·4 B" in
                    panel.memory.formulas.toPlainText())
    assert panel.memory.settings == MemorySettings(batch=4)


def test_a_batch_of_zero_and_a_negative_budget_are_refused_at_the_field(
        qtbot, panel: InspectorPanel) -> None:  # type: ignore[no-untyped-def]
    panel.show_nodes([panel.ids["c1"]])  # type: ignore[attr-defined]
    memory = panel.memory
    memory.batch.selectAll()
    qtbot.keyClicks(memory.batch, "0")
    qtbot.keyClick(memory.batch, Qt.Key.Key_Return)
    assert memory.batch.value() >= 1
    memory.budget.selectAll()
    qtbot.keyClicks(memory.budget, "-5")
    qtbot.keyClick(memory.budget, Qt.Key.Key_Return)
    assert memory.budget.value() >= 0


def test_the_status_bar_shows_the_training_step(
        qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    plan = plan_memory(window.document.graph, window.document.analysis,
                       MemorySettings(batch=32))
    qtbot.waitUntil(lambda: window.status.memory.text() == status_text(plan))
    assert window.status.memory.text().startswith("training at batch 32: ")
    window.inspector.memory.batch.setValue(64)
    plan = plan_memory(window.document.graph, window.document.analysis,
                       MemorySettings(batch=64))
    qtbot.waitUntil(lambda: window.status.memory.text() == status_text(plan))




def test_profile_paints_the_heat_overlay_and_an_edit_clears_it(
        qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    scene = window.view.scene()
    window.act["profile"].trigger()
    qtbot.waitUntil(lambda: len(heat_badges(scene)) > 0, timeout=60_000)
    texts = [badge.figure.text() for badge in heat_badges(scene)]
    assert all(" ms · " in text for text in texts)
    assert any("GMAC/s" in text for text in texts)
    assert "Profiled on cpu at batch 8" in window.statusBar().currentMessage()
    conv = window.document.graph.by_name("c1")
    window.document.push(commands.SetParams(window.document.graph, conv.id, {"out_channels": 4}))
    qtbot.waitUntil(lambda: not heat_badges(scene))


def test_profiling_on_an_absent_device_is_a_message(
        qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert measure(window).profile(device="cuda") is None
    assert "no CUDA device" in window.statusBar().currentMessage()
    assert not heat_badges(window.view.scene())


def test_the_preflight_check_reports_in_plain_words(
        qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.act["preflight"].trigger()
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "preflightReport") is not None,
                    timeout=60_000)
    box = window.findChild(QMessageBox, "preflightReport")
    assert box.text().startswith("Loss ") and "steps on one batch" in box.text()
    box.close()


def test_preflight_findings_are_shown_at_the_node(
        qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
        make_window: Callable[..., MainWindow]) -> None:
    graph = preflight_net()
    state = compile_graph(graph, seed=0).state_dict()
    state["conv.bias"] = torch.full_like(state["conv.bias"], -100.0)
    torch.save(state, tmp_path / "dead.pt")
    graph.by_name("conv").init = checkpoint_init(tmp_path / "dead.pt", "conv")
    window = make_window(Document(graph))
    window.act["preflight"].trigger()
    scene = window.view.scene()
    qtbot.waitUntil(lambda: len(note_badges(scene)) >= 2, timeout=60_000)
    notes = {window.document.graph.find(b.parentItem().node_id)[1].name: b.text
             for b in note_badges(scene)}
    assert notes["act"].startswith("act: 100% of outputs are 0 after 50 steps")
    assert notes["conv"].startswith("conv: gradient norm")
    window.findChild(QMessageBox, "preflightReport").close()
