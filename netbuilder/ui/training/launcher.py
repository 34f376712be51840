"""The main window's side of training: the Train menu and actions, and the lazy panel.

:class:`TrainingLauncher` is created with the window. It owns the run actions (Train
Ctrl+R, Pause Ctrl+Shift+P, Resume Ctrl+Shift+R, Stop Ctrl+.) and the Train menu, and
builds the :class:`~netbuilder.ui.training.panel.TrainingPanel` only when it is first
needed (Train pressed, or the Training dock shown), so that opening the window imports
neither pyqtgraph nor torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QStandardPaths, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu

from netbuilder.core.document import Document
from netbuilder.ui.canvas import GraphView
from netbuilder.ui.training.common import run_icon

if TYPE_CHECKING:
    from netbuilder.ui.training.panel import TrainingPanel

#: Run actions: key, text, shortcut, tip.
RUN_ACTIONS = (
    ("train", "&Train", "Ctrl+R", "Train the network with the training settings, "
     "watching it learn in the Training panel"),
    ("pause", "&Pause", "Ctrl+Shift+P", "Pause training before the next batch"),
    ("resume", "&Resume", "Ctrl+Shift+R", "Go on training after a pause"),
    ("stop", "&Stop", "Ctrl+.", "Stop training before the next batch (the last "
     "checkpoint is written)"),
)


#: Share of the window's height the Training dock takes when it opens.
DOCK_SHARE = 0.45


def default_checkpoint_root() -> Path:
    """Where checkpoints go: ``runs`` in the application's data folder."""
    folder = QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(folder or Path.home() / ".netbuilder") / "runs"


def make_run_actions(parent: QObject) -> dict[str, QAction]:
    """The Train, Pause, Resume and Stop actions (not yet connected)."""
    actions: dict[str, QAction] = {}
    for key, text, shortcut, tip in RUN_ACTIONS:
        action = QAction(run_icon(key), text, parent)
        action.setObjectName(f"actionTraining{key.title()}")
        action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{text.replace('&', '')} ({shortcut}): {tip}")
        action.setStatusTip(tip)
        actions[key] = action
    return actions


class TrainingLauncher(QObject):
    """Builds and drives the training panel of one main window.

    Attributes:
        actions: The run actions, by key (``train``, ``pause``, ``resume``, ``stop``).
        menu: The Train menu.
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
        self._checkpoint_root: Path | None = default_checkpoint_root()
        self.actions = make_run_actions(window)
        for action in self.actions.values():
            window.addAction(action)
        self.actions["train"].triggered.connect(self.train)
        self.actions["pause"].triggered.connect(lambda: self._forward("pause"))
        self.actions["resume"].triggered.connect(lambda: self._forward("resume"))
        self.actions["stop"].triggered.connect(lambda: self._forward("stop"))
        self._set_idle()
        self.menu = self._make_menu()
        dock.visibilityChanged.connect(self._dock_visible)

    def _make_menu(self) -> QMenu:
        menu = QMenu("T&rain", self.window)
        menu.setObjectName("menuTrain")
        menu.setAccessibleName("Train menu")
        for key in ("train", "pause", "resume", "stop"):
            menu.addAction(self.actions[key])
        menu.addSeparator()
        menu.addAction(self.dock.toggleViewAction())
        return menu

    def _set_idle(self) -> None:
        for key in ("pause", "resume", "stop"):
            self.actions[key].setEnabled(False)
        self.actions["resume"].setVisible(False)

    @property
    def checkpoint_root(self) -> Path | None:
        """Folder under which each project's checkpoints go (``None``: none written)."""
        return self._checkpoint_root

    @checkpoint_root.setter
    def checkpoint_root(self, root: Path | None) -> None:
        self._checkpoint_root = root
        if self.panel is not None:
            self.panel.session.checkpoint_root = root

    # -- the panel -----------------------------------------------------------------------------
    def ensure_panel(self) -> TrainingPanel:
        """The training panel, built (and put into the dock) on first use."""
        if self.panel is None:
            from netbuilder.ui.training.panel import TrainingPanel

            self.panel = TrainingPanel(self.document, self.view, self.actions,
                                       self._checkpoint_root)
            self.dock.setWidget(self.panel)
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

    def _forward(self, what: str) -> None:
        if self.panel is not None:
            getattr(self.panel, what)()

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
