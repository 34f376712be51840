"""Bad paths in the editor: the same one-line messages as the command line, nothing lost.

Opening a folder, a pipe or a missing file; saving or exporting into a folder that does
not exist; exporting a project that names weights outside its folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
import torch
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from netbuilder.compiler import compile_graph
from netbuilder.core import serialize
from netbuilder.core.inits import checkpoint_init
from netbuilder.ui.main_window import MainWindow

Answer = QMessageBox.StandardButton


@pytest.fixture
def boxes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Record every warning and question instead of showing it; answer questions Cancel."""
    shown: dict[str, list[str]] = {"warning": [], "question": []}
    answer = {"value": Answer.Cancel}

    def warning(_parent: object, _title: str, text: str, *a: object, **k: object) -> Answer:
        shown["warning"].append(text)
        return Answer.Ok

    def question(_parent: object, _title: str, text: str, *a: object, **k: object) -> Answer:
        shown["question"].append(text)
        return answer["value"]

    monkeypatch.setattr(QMessageBox, "warning", warning)
    monkeypatch.setattr(QMessageBox, "question", question)
    shown["answer"] = answer  # type: ignore[assignment]
    return shown


@pytest.fixture
def settings_kwargs(tmp_path: Path) -> dict[str, object]:
    return {"settings": QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
            "recovery_dir": tmp_path / "recovery", "user_blocks_dir": tmp_path / "blocks"}


@pytest.fixture
def windows(boxes: dict[str, list[str]]) -> Iterator[list[MainWindow]]:
    made: list[MainWindow] = []
    yield made
    boxes["answer"]["value"] = Answer.Discard  # type: ignore[call-overload]
    for window in made:
        if shiboken6.isValid(window):
            window.close()


def shown_window(settings_kwargs: dict[str, object], windows: list[MainWindow]) -> MainWindow:
    window = MainWindow(**settings_kwargs)  # type: ignore[arg-type]
    windows.append(window)
    window.show()
    return window


@pytest.mark.parametrize("kind", ["folder", "missing", "pipe"])
def test_launch_on_a_bad_path_opens_the_window_and_says_why(
        kind: str, tmp_path: Path, qtbot: QtBot, boxes: dict[str, list[str]],
        settings_kwargs: dict[str, object], windows: list[MainWindow]) -> None:
    path = tmp_path / "thing.nbproj"
    if kind == "folder":
        path.mkdir()
    elif kind == "pipe":
        os.mkfifo(path)
    window = MainWindow.launch(path, ask_restore=lambda _snapshot: False, **settings_kwargs)
    windows.append(window)
    window.show()
    qtbot.waitUntil(lambda: len(boxes["warning"]) == 1)
    expected = {"folder": "is a folder", "missing": "no such file", "pipe": "not a regular"}
    assert expected[kind] in boxes["warning"][0]
    assert "\n" not in boxes["warning"][0]
    assert expected[kind] in window.statusBar().currentMessage()
    assert window.document.path is None  # the start example stays open


def test_save_into_a_missing_folder_is_refused_and_keeps_the_old_file(
        tmp_path: Path, qtbot: QtBot, boxes: dict[str, list[str]],
        settings_kwargs: dict[str, object], windows: list[MainWindow]) -> None:
    window = shown_window(settings_kwargs, windows)
    good = tmp_path / "good.nbproj"
    assert window.files.save_to(good)
    before = good.read_bytes()
    target = tmp_path / "missing" / "x.nbproj"
    assert not window.files.save_to(target)
    assert boxes["warning"] == [f"cannot write {target}: the folder {target.parent} "
                                "does not exist"]
    assert good.read_bytes() == before and not target.exists()


def test_export_diagram_into_a_folder_in_the_way_is_one_line(
        tmp_path: Path, boxes: dict[str, list[str]], settings_kwargs: dict[str, object],
        windows: list[MainWindow]) -> None:
    window = shown_window(settings_kwargs, windows)
    target = tmp_path / "picture.png"
    target.mkdir()
    assert not window.files.export_diagram(target)
    assert boxes["warning"] == [f"cannot write {target}: it is a folder"]
    assert window.files.export_diagram(tmp_path / "picture.svg")
    assert (tmp_path / "picture.svg").read_text(encoding="utf-8").startswith("<?xml")


def test_export_source_asks_before_reading_weights_outside_the_project(
        tmp_path: Path, boxes: dict[str, list[str]], settings_kwargs: dict[str, object],
        windows: list[MainWindow]) -> None:
    window = shown_window(settings_kwargs, windows)
    graph = window.document.graph
    conv = graph.by_name("c1")
    outside = tmp_path / "elsewhere" / "weights.pt"
    conv.init = checkpoint_init(outside, "c1")
    project = tmp_path / "project"
    project.mkdir()
    window.files.save_to(project / "net.nbproj")
    target = project / "net.py"
    assert not window.models.export_source_to(target)
    assert len(boxes["question"]) == 1 and str(outside) in boxes["question"][0]
    assert not target.exists()
    conv.init = None
    torch.save(compile_graph(graph).state_dict(), project / "weights.pt")
    conv.init = checkpoint_init("weights.pt", "c1")  # inside the project's folder: no question
    serialize.save(serialize.Project(graph, {}, {}), project / "net.nbproj")
    assert window.models.export_source_to(target), boxes["warning"]
    assert len(boxes["question"]) == 1
    assert "class Net(nn.Module)" in target.read_text(encoding="utf-8")


def test_train_asks_before_reading_weights_outside_the_project(
        tmp_path: Path, boxes: dict[str, list[str]], settings_kwargs: dict[str, object],
        windows: list[MainWindow]) -> None:
    window = shown_window(settings_kwargs, windows)
    window.training.checkpoint_root = tmp_path / "runs"
    outside = tmp_path / "elsewhere" / "weights.pt"
    window.document.graph.by_name("c1").init = checkpoint_init(outside, "c1")
    assert not window.training.train()
    assert len(boxes["question"]) == 1 and str(outside) in boxes["question"][0]
    assert window.training.state() == "idle"


def test_checkpoints_of_a_document_titled_dot_dot_stay_in_the_runs_folder(
        tmp_path: Path, boxes: dict[str, list[str]], settings_kwargs: dict[str, object],
        windows: list[MainWindow]) -> None:
    window = shown_window(settings_kwargs, windows)
    window.training.checkpoint_root = tmp_path / "runs"
    window.document.meta["title"] = ".."
    folder = window.training.ensure_panel().checkpoint_dir()
    assert folder is not None and folder.parent == tmp_path / "runs"
    assert folder.name not in ("", ".", "..")
