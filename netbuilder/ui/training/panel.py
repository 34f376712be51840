"""The content of the main window's Training dock: toolbar on top, four tabs below.

:class:`TrainingPanel` connects the :class:`~netbuilder.ui.training.session.TrainingSession`
to the panels (curves, feature maps, statistics, results), to the canvas (the selected
node's feature maps, flags on nodes with vanishing or exploding gradients) and to the
document (settings in ``document.training``, earlier runs in ``document.meta``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from netbuilder.core.document import Document
from netbuilder.core.errors import UnknownNodeError
from netbuilder.core.outputs import OutputError, prepare_output_folder
from netbuilder.core.project_paths import anchor_training, anchored_graph, safe_folder_name
from netbuilder.training.callbacks import EpochEnd, FitResult
from netbuilder.training.config import TrainConfig
from netbuilder.training.errors import ConfigError
from netbuilder.ui.actions import FAULT_BANNER, RUN_BAR, ActionSet
from netbuilder.ui.canvas import GraphView
from netbuilder.ui.path_confirm import confirm_paths, project_folder
from netbuilder.ui.training.common import Throttle, caption, named
from netbuilder.ui.training.curves import CurvesPanel
from netbuilder.ui.training.features import FeatureMapsPanel
from netbuilder.ui.training.records import BatchChunk, Results, RunInfo
from netbuilder.ui.training.results import ResultsPanel
from netbuilder.ui.training.session import TrainingSession
from netbuilder.ui.training.stats import StatsPanel
from netbuilder.ui.training.toolbar import TrainingToolbar

#: Key of the earlier runs' curves in ``document.meta``.
RUNS_KEY = "training_runs"
#: Earlier runs kept in the project file.
RUNS_KEPT = 3
#: Progress bar updates per second (a QProgressBar repaints at once on every change).
PROGRESS_HZ = 5


class FaultBanner(QFrame):
    """A strip above the tabs: a fault that paused the run, or why a run failed."""

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "trainingBanner", "Training message")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.message = caption("", "trainingBannerMessage", role="error")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message, 1)
        self.buttons: dict[str, QToolButton] = {}
        for action in actions:
            key = action.objectName().removeprefix("action")
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            named(button, f"trainingBanner{key}", action.text().replace("&", ""))
            layout.addWidget(button)
            self.buttons[key.lower()] = button
        self.dismiss = QPushButton("Dismiss")
        named(self.dismiss, "trainingBannerDismiss", "Dismiss the message")
        self.dismiss.clicked.connect(self.hide)
        layout.addWidget(self.dismiss)
        self.hide()

    def show_fault(self, message: str) -> None:
        """A fault paused the run: offer to resume (after lowering the rate) or stop."""
        self.message.setText(f"⚠ Training paused: {message}.")
        for button in self.buttons.values():
            button.show()
        self.dismiss.hide()
        self.show()

    def show_error(self, message: str) -> None:
        """The run could not start or crashed."""
        self.message.setText(f"⚠ {message}")
        for button in self.buttons.values():
            button.hide()
        self.dismiss.show()
        self.show()


class TrainingPanel(QWidget):
    """Toolbar, fault banner and the Curves / Feature maps / Statistics / Results tabs."""

    def __init__(self, document: Document, view: GraphView, actions: ActionSet[Any],
                 checkpoint_root: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "trainingPanel", "Training panels")
        self.setAutoFillBackground(True)
        self.document = document
        #: Folders a project may name without a question (the editor's imported weights).
        self.trusted_folders: Callable[[], list[Path]] = list
        self.view = view
        self.session = TrainingSession(checkpoint_root, self)
        self.runs = 0
        self._last_batch: BatchChunk | None = None
        self._progress = Throttle(PROGRESS_HZ, self._show_progress, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.toolbar = TrainingToolbar(document, actions.placed(RUN_BAR))
        self.banner = FaultBanner(actions.placed(FAULT_BANNER))
        layout.addWidget(self.toolbar)
        layout.addWidget(self.banner)
        layout.addWidget(self._tabs(), 1)
        self._connect()
        self.toolbar.refresh()  # reports invalid settings, now that the banner listens
        self._watch_view(view)
        self.curves.set_past_runs(list(document.meta.get(RUNS_KEY, [])))
        self.toolbar.set_state(self.session.state)

    def _tabs(self) -> QTabWidget:
        self.tabs = QTabWidget()
        named(self.tabs, "trainingTabs", "Training views")
        self.tabs.setDocumentMode(True)
        self.curves = CurvesPanel()
        self.features = FeatureMapsPanel(self.session)
        self.stats = StatsPanel(self.session)
        self.results = ResultsPanel()
        tips = ("Loss, accuracy and learning rate", "Activation maps of the selected node",
                "Activations and gradients per layer", "Confusion matrix and worst errors")
        for widget, title, tip in zip((self.curves, self.features, self.stats, self.results),
                                      ("Curves", "Feature maps", "Statistics", "Results"),
                                      tips):
            # Opaque pages: a label or plot that repaints stops here instead of repainting
            # the panel, the dock and the main window beneath it.
            widget.setAutoFillBackground(True)
            index = self.tabs.addTab(widget, title)
            self.tabs.setTabToolTip(index, tip)
        return self.tabs

    def _connect(self) -> None:
        session = self.session
        session.stateChanged.connect(self._state_changed)
        session.started.connect(self._started)
        session.batchesArrived.connect(self._batches)
        session.epochEnded.connect(self._epoch)
        session.paused.connect(self._paused)
        session.resumed.connect(self.banner.hide)
        session.faulted.connect(self.banner.show_fault)
        session.failed.connect(self._failed)
        session.finished.connect(self._finished)
        session.resultsReady.connect(self._results)
        session.exited.connect(self._exited)
        self.toolbar.lrChanged.connect(session.set_lr)
        self.toolbar.settingsError.connect(self.banner.show_error)
        self.stats.flagsChanged.connect(self._flags_changed)

    # -- document and canvas ---------------------------------------------------------------------
    def set_document(self, document: Document, view: GraphView) -> None:
        """Follow another document (a run still going on is stopped first)."""
        if self.session.alive:
            self.session.shutdown()
        self.document = document
        self.toolbar.set_document(document)
        self.banner.hide()
        self.stats.clear()
        self.features.clear()
        self.results.clear()
        self.curves.set_past_runs(list(document.meta.get(RUNS_KEY, [])))
        self.curves.clear()
        self._watch_view(view)

    def _watch_view(self, view: GraphView) -> None:
        self.view = view
        view.selectionChanged.connect(self._selection_changed)
        self._selection_changed(view.selected_ids())
        view.set_node_flags(self.stats.flags)

    def _selection_changed(self, ids: list[str]) -> None:
        if len(ids) != 1:
            return
        node_id = ids[0]
        try:
            _graph, node = self.document.graph.find(node_id)
        except UnknownNodeError:
            return
        self.features.set_node(node_id, node.name)

    def _flags_changed(self, flags: dict[str, str]) -> None:
        self.view.set_node_flags(flags)

    # -- run control ---------------------------------------------------------------------------
    def checkpoint_dir(self) -> Path | None:
        """Where this project's checkpoints go (``None``: no checkpoints)."""
        root = self.session.checkpoint_root
        if root is None:
            return None
        name = self.document.path.stem if self.document.path is not None else \
            str(self.document.meta.get("title") or "untitled")
        return Path(root) / safe_folder_name(name)

    def train(self) -> bool:
        """Start a run with the document's settings; return whether it started."""
        if self.session.alive:
            return False
        try:
            config = self.toolbar.config()
        except ConfigError as exc:
            self.banner.show_error(f"The training settings are invalid: {exc}")
            return False
        if not confirm_paths(self, self.document, "Train", config.to_dict(),
                             self.trusted_folders()):
            return False
        folder = project_folder(self.document)
        graph = self.document.graph
        if folder is not None:  # paths in the project resolve against its folder
            graph = anchored_graph(graph, folder)
            config = TrainConfig.from_dict(anchor_training(config.to_dict(), folder))
        checkpoints = self.checkpoint_dir()
        try:
            if checkpoints is not None:
                prepare_output_folder(checkpoints)
        except OutputError as error:
            self.banner.show_error(f"Cannot write checkpoints: {error}")
            return False
        self.banner.hide()
        self.session.start(graph, config, checkpoints)
        return True

    def pause(self) -> None:
        """Pause the run before its next batch."""
        self.session.pause()

    def resume(self) -> None:
        """Let a paused run go on."""
        self.banner.hide()
        self.session.resume()

    def stop(self) -> None:
        """Stop the run before its next batch."""
        self.session.stop()

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop the run and wait for the worker (which writes ``last.pt``)."""
        gone = self.session.shutdown(timeout)
        self.features.timer.stop()
        self.stats.timer.stop()
        self.toolbar.detach()
        return gone

    # -- session news --------------------------------------------------------------------------
    def _state_changed(self, state: str) -> None:
        self.toolbar.set_state(state)

    def _started(self, info: RunInfo) -> None:
        self.runs += 1
        config = self.session.trainer.config if self.session.trainer is not None else None
        label = f"Run {self.runs}"
        if config is not None:
            label += (f" · {config.optimizer} lr {config.lr:.3g} · batch {config.batch_size}"
                      f" · {info.device}")
        self.curves.begin_run(info, label)
        self.features.set_run(info)
        self.stats.set_run(info)
        self.results.clear()
        self.toolbar.show_started(info.epochs)

    def _batches(self, chunk: BatchChunk) -> None:
        self.curves.add_batches(chunk)
        self._last_batch = chunk
        self._progress.poke()

    def _show_progress(self) -> None:
        info, chunk = self.session.info, self._last_batch
        if info is not None and chunk is not None and self.session.state == "running":
            left = self.session.seconds_left(chunk.last.global_step)
            self.toolbar.show_batch(chunk.last, info.epochs, left)

    def _epoch(self, epoch: EpochEnd) -> None:
        self.curves.add_epoch(epoch)
        self.toolbar.show_epoch(epoch.val_loss, epoch.val_acc, epoch.lr)

    def _paused(self, reason: str) -> None:
        self.toolbar.show_paused(fault=reason != "paused by the user")

    def _failed(self, message: str) -> None:
        self.banner.show_error(message)
        self.toolbar.show_finished(f"Failed: {message}")

    def _finished(self, result: FitResult) -> None:
        self.toolbar.show_finished(f"{result.status.replace('_', ' ')}: {result.message}",
                                   completed=result.status == "completed")
        if result.status == "fault":
            self.banner.show_error(result.message)
        else:
            self.banner.hide()
        record = self.curves.end_run()
        if record is not None:
            self._remember(record)

    def _remember(self, record: dict[str, Any]) -> None:
        """Keep the run's curves in the project (marks the document modified)."""
        runs = [r for r in self.document.meta.get(RUNS_KEY, []) if isinstance(r, dict)]
        self.document.meta[RUNS_KEY] = [record, *runs][:RUNS_KEPT]
        self.document.history.mark_modified()

    def _results(self, results: Results) -> None:
        self.results.show_results(results)

    def _exited(self) -> None:
        self.features.set_live(False)
        self.stats.set_live(False)
