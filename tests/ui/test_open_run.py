"""File › Open Run and File › Export Network, driven through the window's actions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
import torch
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from netbuilder.cli import main
from netbuilder.compiler import compile_graph
from netbuilder.core.document import Document
from netbuilder.templates import build_project
from netbuilder.ui.main_window import MainWindow
from netbuilder.ui.models_controller import EXPORT_FILTERS
from netbuilder.ui.training.panel import RUNS_KEY

RUN_TIMEOUT = 240


@pytest.fixture(scope="module")
def trained_job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LeNet-5 job folder after one short epoch of ``python train.py``."""
    folder = tmp_path_factory.mktemp("run") / "lenet-job"
    assert main(["export", "lenet5", "--format", "job", "-o", str(folder)]) == 0
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "batch_size": 32}))
    done = subprocess.run([sys.executable, str(folder / "train.py"), "--epochs", "1",
                           "--max-steps", "6"], cwd=folder, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., MainWindow]]:
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    made: list[MainWindow] = []

    def make(document: Document) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(document, settings=settings, recovery_dir=tmp_path / "recovery",
                            user_blocks_dir=tmp_path / "blocks")
        made.append(window)
        with qtbot.waitExposed(window):
            window.show()
        return window

    yield make
    for window in made:
        if shiboken6.isValid(window):
            window.close()


def template_document(name: str, **kwargs: object) -> Document:
    project = build_project(name, **kwargs)  # type: ignore[arg-type]
    return Document(project.graph, training=project.training, meta=project.meta)


def _open(window: MainWindow, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    window.act["open_run"].trigger()


def _show_feature_maps(qtbot: QtBot, window: MainWindow, block: str) -> None:
    """Select the first ``block`` node and show the feature-map tab; wait for its maps."""
    panel = window.training.panel
    assert panel is not None
    node = next(n for _level, n in window.document.graph.walk() if n.type == block)
    window.training_dock.show()
    panel.tabs.setCurrentWidget(panel.features)
    panel.features.set_node(node.id, node.name)
    qtbot.waitUntil(lambda: panel.features.capture is not None
                    and panel.features.capture.node_id == node.id, timeout=30_000)


def test_open_run_loads_weights_curves_and_results(
        qtbot: QtBot, make_window: Callable[..., MainWindow], trained_job: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(template_document("lenet5"))
    graph = window.document.graph
    _open(window, trained_job, monkeypatch)
    assert window.document.graph is graph  # the weights fit the open network
    state = torch.load(trained_job / "checkpoints" / "last.pt", weights_only=True)
    loaded = compile_graph(graph).state_dict()
    assert all(torch.equal(loaded[k], state["model"][k]) for k in state["model"])
    record = window.document.meta[RUNS_KEY][0]
    assert record["label"].startswith("lenet-job") and record["epochs"] == [1]
    assert len(record["x"]) == len(state["history"]["steps"])
    panel = window.training.panel
    assert panel is not None and panel.curves.past[0] is record
    results = panel.results.results
    assert results is not None and results.total > 0 and len(results.classes) == 10
    _show_feature_maps(qtbot, window, "conv2d")
    assert panel.features.capture is not None and panel.features.capture.maps.shape[0] == 6
    window.document.history.undo()  # one undo step takes the weights out again
    assert not torch.equal(compile_graph(graph, seed=1).state_dict()["conv1.weight"],
                           state["model"]["conv1.weight"])


def test_open_run_into_another_network_opens_its_graph(
        make_window: Callable[..., MainWindow], trained_job: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(template_document("resnet20"))
    _open(window, trained_job, monkeypatch)
    state = torch.load(trained_job / "checkpoints" / "last.pt", weights_only=True)
    loaded = compile_graph(window.document.graph).state_dict()
    assert set(loaded) == set(state["model"])
    assert window.document.meta[RUNS_KEY][0]["epochs"] == [1]


def test_open_run_of_a_folder_without_a_run_reports_it(
        make_window: Callable[..., MainWindow], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[str] = []
    window = make_window(template_document("lenet5"))
    monkeypatch.setattr(window.files, "report_error",
                        lambda title, error: reported.append(str(error)))
    _open(window, tmp_path, monkeypatch)
    assert reported and "holds no run" in reported[0]
    assert RUNS_KEY not in window.document.meta


@pytest.mark.parametrize("chosen", list(EXPORT_FILTERS))
def test_export_network_in_each_format(make_window: Callable[..., MainWindow], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, chosen: str) -> None:
    window = make_window(template_document("lenet5"))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "net"), chosen))
    window.act["export_network"].trigger()
    export_format, suffix = EXPORT_FILTERS[chosen]
    target = tmp_path / f"net{suffix}"
    assert target.is_dir() if export_format == "job" else target.is_file()
    if export_format == "job":
        assert (target / "train.py").is_file() and (target / "initial.pt").is_file()


def test_tensorboard_setting_writes_events_beside_the_checkpoints(
        qtbot: QtBot, make_window: Callable[..., MainWindow], tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    document = template_document("lenet5")
    document.training.update(dataset="digits", epochs=1, batch_size=128)
    window = make_window(document)
    window.training.checkpoint_root = tmp_path / "runs"
    action = window.act["tensorboard"]
    assert action.isCheckable() and not action.isChecked()
    action.trigger()
    assert action.isChecked() and window.training.tensorboard
    window.act["train"].trigger()
    panel = window.training.panel
    assert panel is not None
    qtbot.waitUntil(lambda: panel.session.result is not None, timeout=120_000)
    assert panel.session.result is not None and panel.session.result.status == "completed"
    assert list((tmp_path / "runs").glob("*/tensorboard/events.out.tfevents.*"))
