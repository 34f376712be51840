"""The inspector's Memory section and the status bar's training figure (issue 17.1, 17.5)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt

from netbuilder.core.memory import MemorySettings, format_bytes, plan_memory
from netbuilder.ui.inspector import InspectorPanel
from netbuilder.ui.main_window import MainWindow
from netbuilder.ui.memory_section import status_text
from tests.ui.test_inspector import panel, small_net, type_into  # noqa: F401 (fixture)
from tests.ui.test_status import make_window, window  # noqa: F401 (fixtures)


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


