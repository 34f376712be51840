"""The Experiments panel: Start and Stop pressed, a study watched, trials compared."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from netbuilder.core.serialize import Project, load
from netbuilder.experiments.study import create_or_open, default_storage
from netbuilder.experiments.worker import Worker
from netbuilder.ui.experiments.panel import ExperimentsPanel
from netbuilder.ui.experiments.plots import colour
from netbuilder.ui.experiments.watch import STORAGE_KEY, STUDY_KEY
from tests.experiments.conftest import small_graph, write_project, write_space


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
    for row in range(3):  # the table is the curves' legend
        number = panel.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
        swatch = panel.table.item(row, 0).data(Qt.ItemDataRole.DecorationRole)
        assert swatch == QColor(colour(number))
        assert panel.curves.curves[number].opts["pen"].color() == swatch
    header = panel.table.horizontalHeader()
    assert all(header.sectionSize(column) >= header.sectionSizeHint(column)
               for column in range(panel.table.columnCount()))  # no header cut short
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


# -- watching a study in another storage ------------------------------------------------------
REMOTE_SPACE = {"parameters": {"lr": {"low": 1e-3, "high": 0.1, "log": True}},
                "search": {"method": "random"}}


def _remote_study(tmp_path: Path) -> str:
    """A study in a second SQLite file, made as ``netbuilder sweep`` makes one; its URL."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    project = Project(small_graph(), {"dataset": "digits", "epochs": 2, "device": "cpu"})
    create_or_open(storage, "remote", project, REMOTE_SPACE, tmp_path / "runs")
    return storage


def _add_trial_elsewhere(storage: str, number: int) -> threading.Thread:
    """A worker elsewhere (a thread with its own connection) reports a finished trial."""
    def report() -> None:
        study = optuna.load_study(study_name="remote", storage=storage)
        accuracy = 0.5 + number / 10
        study.add_trial(optuna.trial.create_trial(
            params={"lr": 0.01 * number},
            distributions={"lr": FloatDistribution(1e-3, 0.1, log=True)}, value=accuracy,
            user_attrs={"curve": [{"epoch": 1, "val_acc": 0.3},
                                  {"epoch": 2, "val_acc": accuracy}]}))

    thread = threading.Thread(target=report)
    thread.start()
    return thread


def test_a_study_in_another_storage_is_watched_as_its_trials_arrive(
        qtbot: QtBot, tmp_path: Path) -> None:
    storage = _remote_study(tmp_path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    panel = ExperimentsPanel(settings=settings)
    qtbot.addWidget(panel)
    panel.show()
    bar = panel.watch_bar
    qtbot.keyClicks(bar.storage_edit, storage)
    qtbot.keyClicks(bar.study_edit, "remote")
    qtbot.mouseClick(bar.watch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Watching 'remote'" in panel.status_label.text(),
                    timeout=30_000)
    assert panel.table.rowCount() == 0 and panel.timer.isActive()
    for number in (1, 2, 3):
        thread = _add_trial_elsewhere(storage, number)
        qtbot.waitUntil(lambda n=number: panel.table.rowCount() == n,  # type: ignore[misc]
                        timeout=20_000)
        thread.join()
    assert _states(panel) == ["complete"] * 3
    assert panel.table.item(0, 3).text() == "0.8"  # best first
    assert len(panel.curves.curves) == 3
    assert "3 complete" in panel.status_label.text()
    assert settings.value(STORAGE_KEY) == storage and settings.value(STUDY_KEY) == "remote"
    again = ExperimentsPanel(settings=settings)
    qtbot.addWidget(again)
    assert again.watch_bar.storage_edit.text() == storage
    assert again.watch_bar.study_edit.text() == "remote"


@pytest.mark.parametrize(("url", "study", "says"), [
    ("sqlite:///{tmp}/no/such/folder/x.db", "s", "Cannot watch: cannot reach the storage"),
    ("postgresql://bob:secret@127.0.0.1:1/db", "s", "Cannot watch: cannot reach the storage"),
    ("{remote}", "nope", "no study 'nope' in sqlite:///"),
    ("not a url", "s", "Not a storage URL"),
    ("{remote}", "", "Give the name of the study"),
])
def test_a_study_that_cannot_be_watched_is_one_line(qtbot: QtBot, tmp_path: Path, url: str,
                                                   study: str, says: str) -> None:
    remote = _remote_study(tmp_path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    panel = ExperimentsPanel(settings=settings)
    qtbot.addWidget(panel)
    panel.watch_bar.storage_edit.setText(url.format(tmp=tmp_path, remote=remote))
    panel.watch_bar.study_edit.setText(study)
    heartbeat = Heartbeat()
    qtbot.mouseClick(panel.watch_bar.watch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: says in panel.status_label.text(), timeout=30_000)
    heartbeat.timer.stop()
    text = panel.status_label.text()
    assert "\n" not in text and "secret" not in text and "Traceback" not in text
    assert not panel.timer.isActive() and panel.storage is None
    assert settings.value(STORAGE_KEY) is None  # only a study that was reached is kept
    if says.startswith("no study"):
        assert "studies there: remote" in text
    print(f"heartbeat worst lateness while connecting: {heartbeat.worst * 1000:.1f} ms")
