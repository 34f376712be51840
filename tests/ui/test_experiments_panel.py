"""The Experiments panel: Start and Stop pressed, a study watched, trials compared."""

from __future__ import annotations

import os
import time
from pathlib import Path

import optuna
import pytest
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from netbuilder.core.serialize import load
from netbuilder.experiments.study import create_or_open, default_storage
from netbuilder.experiments.worker import Worker
from netbuilder.ui.experiments.panel import ExperimentsPanel
from tests.experiments.conftest import write_project, write_space


class Heartbeat:
    """A 10 ms GUI timer that records how late each beat came (the worst lateness)."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._beat)
        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer.start()

    def _beat(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last - 0.010)
        self.last = now


def _panel(qtbot: QtBot, project: Path | None) -> ExperimentsPanel:
    panel = ExperimentsPanel(lambda: project)
    qtbot.addWidget(panel)
    panel.resize(1100, 480)
    panel.show()
    return panel


def _states(panel: ExperimentsPanel) -> list[str]:
    table = panel.table
    return [table.item(row, 1).text() for row in range(table.rowCount())
            if table.item(row, 1) is not None]


def test_start_and_stop_run_the_sweep_in_worker_processes(qtbot: QtBot,
                                                          tmp_path: Path) -> None:
    project = write_project(tmp_path, epochs=40)
    space = write_space(tmp_path, {"parameters": {"c1.out_channels": {"values": [2, 4, 6]}},
                                   "search": {"method": "grid"}}, "widths.json")
    panel = _panel(qtbot, project)
    panel.space_edit.setText(str(space))
    panel.jobs_spin.setValue(2)
    heartbeat = Heartbeat()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: "running" in _states(panel), timeout=60_000)
    qtbot.waitUntil(lambda: panel.stop_button.isEnabled(), timeout=10_000)
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.timer.isActive(), timeout=60_000)
    heartbeat.timer.stop()
    study = optuna.load_study(study_name="widths", storage=default_storage(project))
    pids = {t.user_attrs.get("worker_pid") for t in study.get_trials()}
    assert pids and os.getpid() not in pids  # no trial ran in the editor's process
    assert "running" not in _states(panel)
    assert "fail" in _states(panel)
    assert panel.start_button.isEnabled()
    reasons = [panel.table.item(r, panel.table.columnCount() - 1).text()
               for r in range(panel.table.rowCount())]
    assert any("stopped" in reason for reason in reasons)
    print(f"heartbeat worst lateness while the sweep ran: {heartbeat.worst * 1000:.1f} ms")


def test_start_needs_a_saved_project_and_a_space(qtbot: QtBot) -> None:
    panel = _panel(qtbot, None)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert "Save the project" in panel.status_label.text()
    assert panel.start_button.isEnabled() and not panel.timer.isActive()


@pytest.fixture
def finished_study(tmp_path: Path) -> tuple[str, str]:
    """A two-objective study with three completed trials (trained in this process: the
    fixture stands in for workers elsewhere)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    project_file = write_project(tmp_path, epochs=2)
    storage = default_storage(project_file)
    space = {"parameters": {"c1.out_channels": {"values": [2, 4, 8]}},
             "search": {"method": "grid"}, "objectives": ["val_acc", "params"]}
    Worker(create_or_open(storage, "pareto", load(project_file), space,
                          tmp_path / "runs")).run(3)
    return storage, "pareto"


def test_a_watched_study_fills_table_and_plots(qtbot: QtBot,
                                              finished_study: tuple[str, str]) -> None:
    panel = _panel(qtbot, None)
    opened: list[str] = []
    panel.openTrialRequested.connect(opened.append)
    panel.watch(*finished_study)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=20_000)
    assert _states(panel) == ["complete"] * 3
    assert len(panel.curves.curves) == 3  # nothing selected: every trial's curve
    panel.tabs.setCurrentWidget(panel.parallel)  # hidden plots are drawn when shown
    assert len(panel.parallel.lines) == 3
    panel.tabs.setCurrentWidget(panel.pareto)
    assert panel.pareto.front
    panel.tabs.setCurrentWidget(panel.importance)
    assert panel.importance.bars is not None
    panel.table.sortItems(2)  # by width
    panel.table.selectRow(0)
    assert panel.selected_numbers() == [0] or len(panel.selected_numbers()) == 1
    assert len(panel.curves.curves) == 1
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert opened and Path(opened[0]).suffix == ".nbproj" and Path(opened[0]).is_file()
    assert panel.table.item(0, 2).text() == "2"
