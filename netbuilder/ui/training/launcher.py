"""The main window's side of training: the run actions and the lazy panel.

:class:`TrainingLauncher` is created with the window. It owns the run actions (the
``TRAINING_ACTIONS`` section of :mod:`netbuilder.ui.action_table`: Train Ctrl+R, Pause
Ctrl+Shift+P, Resume Ctrl+Shift+R, Stop Ctrl+.), enabled and shown by the run's state,
and builds the :class:`~netbuilder.ui.training.panel.TrainingPanel` only when it is first
needed (Train pressed, or the Training dock shown), so that opening the window imports
neither pyqtgraph nor torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QStandardPaths, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from netbuilder.core.document import Document
from netbuilder.ui.action_table import TRAINING_ACTIONS
from netbuilder.ui.actions import ActionSet
from netbuilder.ui.canvas import GraphView

if TYPE_CHECKING:
    from netbuilder.ui.training.panel import TrainingPanel


#: Share of the window's height the Training dock takes when it opens.
DOCK_SHARE = 0.45


def default_checkpoint_root() -> Path:
    """Where checkpoints go: ``runs`` in the application's data folder."""
    folder = QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(folder or Path.home() / ".netbuilder") / "runs"


class TrainingLauncher(QObject):
    """Builds and drives the training panel of one main window.

    Attributes:
        actions: The run actions, by key (``train``, ``pause``, ``resume``, ``stop``).
        panel: The training panel, once built.
    """

    def __init__(self, window: QMainWindow, dock: QDockWidget, document: Document,
                 view: GraphView) -> None:
        super().__init__(window)
        self.setObjectName("trainingLauncher")
        self.window = window
        self.dock = dock
        self.document = document
        self.view = view
        self.panel: TrainingPanel | None = None
        #: Folders a project may name without a question (given to the panel).
        self.trusted_folders: Callable[[], list[Path]] = list
        self._checkpoint_root: Path | None = default_checkpoint_root()
        self._tensorboard = False
        self.actions = ActionSet(TRAINING_ACTIONS, self, window)
        self.actions.bind_keys(window)
        dock.visibilityChanged.connect(self._dock_visible)

    def state(self) -> str:
        """The run's state (``idle`` until the panel is built; see ``TrainingSession``)."""
        return self.panel.session.state if self.panel is not None else "idle"

    @property
    def checkpoint_root(self) -> Path | None:
        """Folder under which each project's checkpoints go (``None``: none written)."""
        return self._checkpoint_root

    @checkpoint_root.setter
    def checkpoint_root(self, root: Path | None) -> None:
        self._checkpoint_root = root
        if self.panel is not None:
            self.panel.session.checkpoint_root = root

    @property
    def tensorboard(self) -> bool:
        """Whether runs write TensorBoard events (into their checkpoint folder)."""
        return self._tensorboard

    def toggle_tensorboard(self) -> None:
        """Turn TensorBoard events on or off for the next runs."""
        self._tensorboard = not self._tensorboard
        if self.panel is not None:
            self.panel.session.tensorboard = self._tensorboard
        self.actions.refresh()

    # -- the panel -----------------------------------------------------------------------------
    def ensure_panel(self) -> TrainingPanel:
        """The training panel, built (and put into the dock) on first use."""
        if self.panel is None:
            from netbuilder.ui.training.panel import TrainingPanel

            self.panel = TrainingPanel(self.document, self.view, self.actions,
                                       self._checkpoint_root)
            self.panel.trusted_folders = self.trusted_folders
            self.panel.session.tensorboard = self._tensorboard
            self.panel.session.stateChanged.connect(lambda _state: self.actions.refresh())
            self.dock.setWidget(self.panel)
            self.actions.refresh()
        return self.panel

    def _dock_visible(self, visible: bool) -> None:
        if visible:
            self.ensure_panel()

    def show_dock(self) -> None:
        """Show and raise the Training dock (at about 45 % of the window's height when it
        was hidden, so that the canvas keeps most of the room)."""
        if not self.dock.isVisible() and not self.dock.isFloating():
            self.dock.show()
            self.window.resizeDocks([self.dock], [round(self.window.height() * DOCK_SHARE)],
                                    Qt.Orientation.Vertical)
        self.dock.show()
        self.dock.raise_()

    # -- actions -------------------------------------------------------------------------------
    def train(self) -> bool:
        """Show the panel and start a run; return whether it started."""
        panel = self.ensure_panel()
        self.show_dock()
        return panel.train()

    def pause(self) -> None:
        """Pause the run before its next batch."""
        if self.panel is not None:
            self.panel.pause()

    def resume(self) -> None:
        """Go on with a paused run."""
        if self.panel is not None:
            self.panel.resume()

    def stop(self) -> None:
        """Stop the run before its next batch."""
        if self.panel is not None:
            self.panel.stop()

    def set_document(self, document: Document, view: GraphView) -> None:
        """Follow the window's new document and canvas."""
        self.document, self.view = document, view
        if self.panel is not None:
            self.panel.set_document(document, view)

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop a run and wait for its thread (the window is closing)."""
        if self.panel is None:
            return True
        return self.panel.shutdown(timeout)
