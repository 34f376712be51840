"""Training from the main window, driven as a user drives it.

Each test opens the editor on the LeNet-5 example with its own settings file, recovery
folder and checkpoint folder under ``tmp_path``, trains on the built-in digits for a few
short epochs, and looks at what the user would see: the progress bar, the curves, the
feature-map grid of a node clicked on the canvas, the statistics and their flags on the
canvas, the results after training, the fault banner. Question boxes are answered by
patched functions, so no modal dialog blocks the run.
"""

from __future__ import annotations

import csv
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QGraphicsView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabBar,
    QTabWidget,
    QToolBar,
    QToolButton,
)
from pytestqt.qtbot import QtBot

from netbuilder.core.document import Document
from netbuilder.ui.main_window import MainWindow, start_document
from netbuilder.ui.training.panel import RUNS_KEY, TrainingPanel
from netbuilder.ui.training.progress import ProgressStrip

Answer = QMessageBox.StandardButton
#: Fast settings: 23 steps of 64 digits per epoch.
FAST = {"epochs": 3, "batch_size": 64, "lr": 3e-3, "device": "cpu"}
#: Long enough to be stopped, paused or closed while it runs.
LONG = {**FAST, "epochs": 500}
WAIT = 30_000


@pytest.fixture(autouse=True)
def discard_on_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answer "Discard" to every unsaved-changes question."""
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: Answer.Discard)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: Answer.Ok)


@pytest.fixture(autouse=True)
def event_loops_run(qapp: QApplication) -> None:
    """Make sure ``QEventLoop.exec`` runs (timers fire) before the test starts.

    A ``QCoreApplication.exit()`` called while no event loop runs (e.g. ``quit()`` after
    the last window closed and ended ``exec`` already) stays pending: every later
    ``QEventLoop.exec`` — ``qtbot.wait``'s included — returns at once, and timers such as
    the session's drain never fire. One ``exec``/``exit`` cycle clears it.
    """
    ran: list[bool] = []
    loop = QEventLoop()
    QTimer.singleShot(0, lambda: (ran.append(True), loop.quit()))
    loop.exec()
    if not ran:
        QTimer.singleShot(0, qapp.exit)
        qapp.exec()


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path) -> Iterator[Callable[..., MainWindow]]:
    """Open a window on ``document`` (default: LeNet-5) with ``settings`` for training."""
    made: list[MainWindow] = []

    def make(document: Document | None = None, settings: dict[str, Any] | None = None,
             size: tuple[int, int] = (1440, 960)) -> MainWindow:
        qsettings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(document or start_document(), settings=qsettings,
                            recovery_dir=tmp_path / "recovery",
                            user_blocks_dir=tmp_path / "blocks")
        window.training.checkpoint_root = tmp_path / "runs"
        if settings is not None:
            window.document.training.update(settings)
        made.append(window)
        window.resize(*size)
        with qtbot.waitExposed(window):
            window.show()
        window.activateWindow()
        return window

    yield make
    for window in made:  # a failed test must not leave a training thread behind
        if shiboken6.isValid(window) and not os.environ.get("DBG"):
            window.training.shutdown(10.0)
            window.close()


def panel_of(window: MainWindow) -> TrainingPanel:
    panel = window.training.panel
    assert panel is not None
    return panel


def click_train(qtbot: QtBot, window: MainWindow) -> TrainingPanel:
    """Press the Train button of the main toolbar; wait until training runs."""
    button = window.findChild(QToolButton, "toolButtonTrain")
    assert button is not None and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    panel = panel_of(window)
    assert window.training_dock.isVisible()
    qtbot.waitUntil(lambda: panel.session.state in ("running", "idle"), timeout=WAIT)
    return panel


def panel_button(panel: TrainingPanel, key: str) -> QToolButton:
    button = panel.findChild(QToolButton, f"trainingButton{key.capitalize()}")
    assert button is not None
    return button


def worker_gone(panel: TrainingPanel) -> bool:
    worker = panel.session.worker
    return worker is not None and not worker.is_alive()


def curve_length(panel: TrainingPanel) -> int:
    """Points handed to the raw loss curve (``setData``) so far."""
    x = panel.curves.loss_raw_item.xData
    return 0 if x is None else len(x)


def click_node(qtbot: QtBot, window: MainWindow, name: str) -> str:
    """Click node ``name`` on the canvas (scrolled into view first); return its id."""
    view = window.view
    node_id = view.current_graph.by_name(name).id
    item = view.graph_scene.node_item(node_id)
    assert item is not None
    view.centerOn(item)
    point = view.mapFromScene(item.scene_box().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert view.selected_ids() == [node_id]
    return node_id


def show_tab(qtbot: QtBot, panel: TrainingPanel, title: str) -> None:
    bar = panel.tabs.tabBar()
    index = next(k for k in range(panel.tabs.count()) if panel.tabs.tabText(k) == title)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    assert panel.tabs.currentIndex() == index


def wait_done(qtbot: QtBot, panel: TrainingPanel) -> None:
    qtbot.waitUntil(lambda: panel.session.state == "idle" and worker_gone(panel),
                    timeout=WAIT)


# -- the main path ------------------------------------------------------------------------------
@pytest.mark.slow  # a real training run, watched over several epochs
def test_train_watch_curves_and_feature_maps_then_stop(qtbot: QtBot,
                                                       make_window: Callable[..., MainWindow],
                                                       ) -> None:
    window = make_window(settings=LONG)
    assert window.training.panel is None  # built when first needed
    panel = click_train(qtbot, window)
    assert panel.session.state == "running"
    assert not panel_button(panel, "train").isEnabled()
    qtbot.waitUntil(lambda: len(panel.curves.epochs) >= 2, timeout=WAIT)
    assert panel.toolbar.progress.format().startswith("Epoch ")
    assert "samples/s" in panel.toolbar.progress.format()
    assert "val acc" in panel.toolbar.metrics.text()
    qtbot.waitUntil(lambda: curve_length(panel) >= 2 * 23, timeout=WAIT)
    grown = curve_length(panel)
    qtbot.waitUntil(lambda: curve_length(panel) > grown, timeout=WAIT)
    assert panel.curves.val_loss_item.xData is not None
    assert len(panel.curves.val_loss_item.xData) >= 2

    node_id = click_node(qtbot, window, "c1")
    show_tab(qtbot, panel, "Feature maps")
    features = panel.features
    qtbot.waitUntil(lambda: features.capture is not None
                    and features.capture.node_id == node_id, timeout=WAIT)
    mosaic = features.maps_view.item.image
    assert mosaic is not None and mosaic.shape[0] >= 28 and mosaic.shape[1] >= 2 * 28
    assert features.capture.maps.shape == (6, 28, 28)
    assert features.filters_view.item.image is not None  # first-layer filters
    assert features.input_view.item.image is not None
    assert "6 maps of 28×28" in features.node_label.text()
    first = features.capture
    qtbot.waitUntil(lambda: features.capture is not first, timeout=WAIT)  # live

    worker = panel.session.worker
    assert isinstance(worker, threading.Thread) and worker.is_alive()
    qtbot.mouseClick(panel_button(panel, "stop"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not worker.is_alive(), timeout=10_000)
    wait_done(qtbot, panel)
    assert panel.session.result is not None and panel.session.result.status == "stopped"
    assert panel_button(panel, "train").isEnabled()
    assert (Path(panel.session.info.checkpoint_dir) / "last.pt").is_file()


def test_training_uses_every_core_and_yields_to_the_gui(qtbot: QtBot,
                                                        make_window: Callable[..., MainWindow]
                                                        ) -> None:
    """The run trains with torch's default threads, at a lower priority than the GUI."""
    import torch

    gui_tid = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, gui_tid)
    window = make_window(settings=LONG)
    panel = click_train(qtbot, window)
    seen: list[tuple[int, int]] = []

    def look(_trainer: Any) -> tuple[int, int]:
        tid = threading.get_native_id()
        return torch.get_num_threads(), os.getpriority(os.PRIO_PROCESS, tid)

    qtbot.waitUntil(lambda: panel.session.probe("look", look, seen.append), timeout=WAIT)
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT)
    threads, niceness = seen[0]
    assert threads == torch.get_num_threads()
    if sys.platform.startswith("linux"):
        assert niceness > os.getpriority(os.PRIO_PROCESS, gui_tid)
    window.training.actions["stop"].trigger()
    wait_done(qtbot, panel)
    assert os.getpriority(os.PRIO_PROCESS, gui_tid) == before  # the GUI kept its priority


def test_pause_and_resume_from_the_toolbar(qtbot: QtBot,
                                           make_window: Callable[..., MainWindow]) -> None:
    window = make_window(settings=LONG)
    qtbot.keyClick(window.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    panel = panel_of(window)
    qtbot.waitUntil(lambda: panel.session.state == "running" and curve_length(panel) > 5,
                    timeout=WAIT)
    qtbot.mouseClick(panel_button(panel, "pause"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.session.state == "paused", timeout=WAIT)
    trainer = panel.session.trainer
    assert trainer is not None and trainer.state == "paused"
    step = trainer.global_step
    steps: list[int] = []
    for probes in (1, 2):  # the worker answers each probe while parked in the pause
        key = f"step{probes}"
        qtbot.waitUntil(lambda key=key: panel.session.probe(key, lambda t: t.global_step,
                                                            steps.append), timeout=WAIT)
        qtbot.waitUntil(lambda probes=probes: len(steps) == probes, timeout=WAIT)
    assert steps == [step, step]
    assert panel.toolbar.progress.format().startswith("Paused at Epoch")
    resume = panel_button(panel, "resume")
    assert resume.isVisible() and not panel_button(panel, "pause").isVisible()
    assert not panel.banner.isVisible()  # a user's pause is no fault
    lr = panel.toolbar.lr
    assert lr.isEnabled() and not panel.toolbar.epochs.isEnabled()
    lr.lineEdit().selectAll()
    qtbot.keyClicks(lr.lineEdit(), "1e-4")
    qtbot.keyClick(lr.lineEdit(), Qt.Key.Key_Return)  # applies from the next batch
    assert window.document.training["lr"] == pytest.approx(1e-4)
    qtbot.mouseClick(resume, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: trainer.global_step > step + 3 and panel.session.state == "running",
                    timeout=WAIT)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    window.training.actions["stop"].trigger()
    wait_done(qtbot, panel)


def test_a_nan_loss_pauses_the_run_with_a_message(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch,
                                                  make_window: Callable[..., MainWindow]) -> None:
    from netbuilder.training import trainer as trainer_module

    real = trainer_module.build_loss

    def poisoned(kind: str, smoothing: float) -> Callable[..., Any]:
        loss_fn = real(kind, smoothing)
        calls = [0]

        def loss(out: Any, y: Any) -> Any:
            calls[0] += 1
            value = loss_fn(out, y)
            return value * float("nan") if calls[0] == 30 else value

        return loss

    monkeypatch.setattr(trainer_module, "build_loss", poisoned)
    window = make_window(settings=LONG)
    panel = click_train(qtbot, window)
    qtbot.waitUntil(lambda: panel.session.state == "paused", timeout=WAIT)
    banner = panel.banner
    assert banner.isVisible()
    assert "loss became nan" in banner.message.text()
    assert "epoch 2, step 1" in banner.message.text()  # the 30th loss: 23 steps, 6 checks
    assert banner.buttons["resume"].isVisible() and banner.buttons["stop"].isVisible()
    assert panel.toolbar.progress.format().startswith("Stopped by a fault")
    assert panel.toolbar.lr.isEnabled()  # lower the rate, then resume
    qtbot.mouseClick(banner.buttons["stop"], Qt.MouseButton.LeftButton)
    wait_done(qtbot, panel)
    assert panel.session.result is not None and panel.session.result.status == "stopped"


def test_closing_the_window_while_training_writes_the_checkpoint(
        qtbot: QtBot, tmp_path: Path, make_window: Callable[..., MainWindow]) -> None:
    from netbuilder.training import load_checkpoint

    window = make_window(settings=LONG)
    panel = click_train(qtbot, window)
    qtbot.waitUntil(lambda: len(panel.curves.epochs) >= 1 and curve_length(panel) > 30,
                    timeout=WAIT)
    worker = panel.session.worker
    assert worker is not None
    assert window.close()
    assert not worker.is_alive()
    state = load_checkpoint(tmp_path / "runs" / "LeNet-5" / "last.pt")
    progress = state["progress"]
    assert progress["epoch"] >= 1 and progress["global_step"] > 23
    assert state["config"]["epochs"] == LONG["epochs"]


def test_another_document_stops_the_run_and_clears_the_panels(
        qtbot: QtBot, make_window: Callable[..., MainWindow]) -> None:
    window = make_window(settings=LONG)
    panel = click_train(qtbot, window)
    qtbot.waitUntil(lambda: curve_length(panel) > 10, timeout=WAIT)
    worker = panel.session.worker
    assert worker is not None
    window.act["new"].trigger()  # "Discard" the unsaved changes
    assert not worker.is_alive() and panel.session.state == "idle"
    assert panel_button(panel, "train").isEnabled()
    assert panel.curves.raw.size == 0 and panel.features.info is None
    assert panel.toolbar.document is window.document
    assert window.view.graph_scene.node_flags() == {}


# -- settings --------------------------------------------------------------------------------
def test_settings_round_trip_through_the_document_and_the_project_file(
        qtbot: QtBot, tmp_path: Path, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    window.training_dock.toggleViewAction().trigger()
    toolbar = panel_of(window).toolbar
    assert window.document.training == {} and not window.isWindowModified()
    toolbar.epochs.setValue(7)
    index = toolbar.optimizer.findData("sgd")
    toolbar.optimizer.setCurrentIndex(index)
    toolbar.optimizer.activated.emit(index)
    toolbar.lr.lineEdit().selectAll()
    qtbot.keyClicks(toolbar.lr.lineEdit(), "0.02")
    qtbot.keyClick(toolbar.lr.lineEdit(), Qt.Key.Key_Return)
    toolbar.augment_actions["horizontal_flip"].trigger()
    expected = {"epochs": 7, "optimizer": "sgd", "lr": 0.02,
                "augment": {"horizontal_flip": True}}
    assert window.document.training == expected
    assert window.isWindowModified()
    assert toolbar.augment.text() == "Augment: flip"

    window.act["undo"].trigger()  # the flip
    assert "augment" not in window.document.training
    assert not toolbar.augment_actions["horizontal_flip"].isChecked()
    window.act["redo"].trigger()
    assert window.document.training == expected

    path = window.document.save(tmp_path / "net.nbproj")
    reopened = Document.open(path)
    assert reopened.training == expected
    other = make_window(reopened)
    other.training.ensure_panel()
    shown = panel_of(other).toolbar
    assert shown.epochs.value() == 7 and shown.optimizer.currentData() == "sgd"
    assert shown.lr.value() == pytest.approx(0.02)
    assert shown.augment_actions["horizontal_flip"].isChecked()
    assert shown.config().optimizer == "sgd"


def test_every_widget_is_named_and_the_actions_have_shortcuts(
        make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    panel = window.training.ensure_panel()
    shortcuts = {"train": "Ctrl+R", "pause": "Ctrl+Shift+P", "resume": "Ctrl+Shift+R",
                 "stop": "Ctrl+."}
    for key, keys in shortcuts.items():
        action = window.training.actions[key]
        assert action.shortcut().toString() == keys and action.toolTip(), key
    assert window.menus["train"].menuAction() in window.menuBar().actions()
    unnamed = []
    for kind in _USER_FACING:
        for widget in panel.findChildren(kind):
            inner = isinstance(widget.parent(), (QAbstractSpinBox, QComboBox, QTabBar)) or \
                widget.metaObject().className() in _QT_PARTS
            if not inner and not (widget.objectName() and widget.accessibleName()):
                unnamed.append((widget.metaObject().className(), widget.objectName()))
    assert not unnamed
    assert panel.toolbar.lr.toolTip() and panel.toolbar.dataset.toolTip()


#: Parts Qt builds inside its own widgets (a toolbar's overflow button, a table's headers).
_QT_PARTS = {"QToolBarExtension", "QComboBoxListView", "QHeaderView"}
#: Widget classes a user sees and assistive tools announce.
_USER_FACING = (QComboBox, QAbstractSpinBox, QCheckBox, QPushButton, QToolButton,
                QProgressBar, ProgressStrip, QAbstractItemView, QLabel, QGraphicsView,
                QTabWidget, QToolBar)


# -- after training --------------------------------------------------------------------------
@pytest.mark.slow  # two real training runs to the end
def test_results_and_earlier_runs_after_training(qtbot: QtBot, tmp_path: Path,
                                                  make_window: Callable[..., MainWindow]
                                                  ) -> None:
    window = make_window(settings=FAST)
    panel = click_train(qtbot, window)
    results = panel.results
    qtbot.waitUntil(lambda: results.results is not None, timeout=WAIT)
    wait_done(qtbot, panel)
    show_tab(qtbot, panel, "Results")
    assert panel.session.result.status == "completed"
    assert panel.toolbar.progress.format() == "Completed: trained 3 epochs"
    shown = results.results
    assert shown.confusion.shape == (10, 10) and shown.total == 359
    assert results.matrix.counts.shape == (10, 10) and results.matrix.classes == shown.classes
    wrong = shown.total - int(shown.confusion.trace())
    assert results.errors.count() == min(wrong, 48) > 0
    losses = list(shown.worst_loss)
    assert losses == sorted(losses, reverse=True)  # worst first
    assert "→" in results.errors.item(0).text()
    assert results.summary.text().startswith("Validation accuracy")

    runs = window.document.meta[RUNS_KEY]
    assert len(runs) == 1 and runs[0]["val_acc"] and window.isWindowModified()
    csv_path = panel.curves.export_csv(tmp_path / "curves.csv")
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 3 * 23 and rows[-1]["val_acc"]
    assert panel.curves.export_png(tmp_path / "curves.png").stat().st_size > 10_000

    qtbot.mouseClick(panel_button(panel, "train"), Qt.MouseButton.LeftButton)  # again
    qtbot.waitUntil(lambda: panel.session.state in ("running", "idle"), timeout=WAIT)
    assert len(panel.curves.past_items) == 3  # loss, val loss, val acc of run 1
    wait_done(qtbot, panel)
    assert len(window.document.meta[RUNS_KEY]) == 2


@pytest.mark.slow  # a real training run with exploding gradients
def test_gradient_flags_reach_the_canvas(qtbot: QtBot,
                                         make_window: Callable[..., MainWindow]) -> None:
    window = make_window(settings=FAST)
    panel = window.training.ensure_panel()
    panel.stats.exploding = 1e-12  # every gradient "explodes" at this threshold
    click_train(qtbot, window)
    scene = window.view.graph_scene
    c1 = window.view.current_graph.by_name("c1").id
    qtbot.waitUntil(lambda: scene.node_flags().get(c1) == "exploding", timeout=WAIT)
    item = scene.node_item(c1)
    assert item is not None and item.flag == "exploding"
    assert "Exploding gradient" in item.tooltip()
    relu = scene.node_item(window.view.current_graph.by_name("act1").id)
    assert relu is not None and relu.flag == ""  # no weights, no gradient
    show_tab(qtbot, panel, "Statistics")
    assert panel.stats.model.rowCount() == 12
    qtbot.waitUntil(lambda: panel.stats.model.activations != {}, timeout=WAIT)
    assert panel.stats.note.text().startswith("5 layers with vanishing or exploding")
    wait_done(qtbot, panel)
    panel.stats.exploding = 1e3
    click_train(qtbot, window)  # a new run forgets the old flags
    qtbot.waitUntil(lambda: scene.node_flags() == {}, timeout=WAIT)
    assert item.flag == ""
    wait_done(qtbot, panel)


def test_canvas_flags_survive_a_rebuild_and_clear(qtbot: QtBot,
                                                  make_window: Callable[..., MainWindow]
                                                  ) -> None:
    window = make_window()
    view = window.view
    c3 = view.current_graph.by_name("c3").id
    view.set_node_flags({c3: "vanishing", "no-such-node": "exploding"})
    assert view.graph_scene.node_item(c3).flag == "vanishing"
    view.graph_scene.rebuild()
    assert view.graph_scene.node_item(c3).flag == "vanishing"
    view.set_node_flags({})
    assert view.graph_scene.node_item(c3).flag == ""
