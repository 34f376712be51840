"""The main window: the editor in the middle, palette left, inspector right, status below.

The window holds one :class:`~netbuilder.core.document.Document` at a time. New, Open and
Open Template replace it (after asking to save changes); every panel is re-pointed at the
new document. The window hosts objects with one job each, which it wires together by
their public methods and signals:

* :class:`~netbuilder.ui.editor.NetworkEditor` — the canvas, selection, edit commands
  and the Edit and View actions;
* :class:`~netbuilder.ui.file_controller.FileController` — new, open, save, recent
  files, diagram export;
* :class:`~netbuilder.ui.models_controller.ModelsController` — PyTorch import, weights,
  transfer learning, source export;
* :class:`~netbuilder.ui.training.launcher.TrainingLauncher` — the run actions and the
  training panels.

The window itself keeps the docks, settings, theme, title and status bar, and lays out
the menus and toolbar from the places in :mod:`netbuilder.ui.action_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QMenu, QMessageBox, QWidget

from netbuilder import __version__
from netbuilder.core import layout, serialize
from netbuilder.core.document import Document
from netbuilder.core.errors import NetBuilderError
from netbuilder.core.events import Event
from netbuilder.core.graph import Graph
from netbuilder.core.memory import plan_memory
from netbuilder.ui import app as app_module
from netbuilder.ui.action_table import WINDOW_ACTIONS
from netbuilder.ui.actions import (
    FILE,
    THEME,
    TRAIN,
    VIEW,
    ActionSet,
    Entry,
    Place,
    build_menu_bar,
    build_toolbar,
    fill,
)
from netbuilder.ui.canvas import GraphView
from netbuilder.ui.dialogs import ErrorListDialog, examples_dir
from netbuilder.ui.editor import NetworkEditor
from netbuilder.ui.experiments import ExperimentsDockWidget
from netbuilder.ui.file_controller import FileController, document_name
from netbuilder.ui.inspector import InspectorPanel
from netbuilder.ui.measure import measure
from netbuilder.ui.memory_section import status_text
from netbuilder.ui.models_controller import ModelsController
from netbuilder.ui.palette import BlockPalette, UserBlockStore
from netbuilder.ui.recovery import Ask, Autosaver, offer_recovery
from netbuilder.ui.status import StatusSummary
from netbuilder.ui.training.launcher import DOCK_SHARE, TrainingLauncher

STATE_VERSION = 1
START_EXAMPLE = "lenet5.nbproj"
THEMES = ("system", app_module.LIGHT, app_module.DARK)


def start_document() -> Document:
    """The LeNet-5 example as an unsaved document (Save asks where: never over the example).

    It is laid out for the editor window (its chain folded into columns), whatever the
    positions stored in the example file.
    """
    try:
        project = serialize.load(examples_dir() / START_EXAMPLE)
    except (NetBuilderError, OSError):
        project = serialize.Project(lenet5_graph(), {}, {"title": "LeNet-5"})
    layout.apply_layout(project.graph)
    return Document(project.graph, training=project.training, meta=project.meta)


def lenet5_graph() -> Graph:
    """LeNet-5 for 28×28 digits, built in code (used when the example file is missing)."""
    graph = Graph()
    last = graph.chain(
        ("input", "input", {"shape": (1, 28, 28)}),
        ("conv2d", "c1", {"out_channels": 6, "kernel_size": 5, "padding": 2}),
        ("sigmoid", "act1", {}), ("avgpool2d", "s2", {"kernel_size": 2, "stride": 2}),
        ("conv2d", "c3", {"out_channels": 16, "kernel_size": 5}), ("sigmoid", "act2", {}),
        ("avgpool2d", "s4", {"kernel_size": 2, "stride": 2}), ("flatten", "flatten", {}),
        ("linear", "f5", {"out_features": 120}), ("sigmoid", "act3", {}),
        ("linear", "f6", {"out_features": 84}), ("sigmoid", "act4", {}),
        ("linear", "f7", {"out_features": 10}), ("output", "output", {}))
    assert last is not None
    layout.apply_layout(graph)
    return graph


#: Where the window's submenus and dock toggles go among the actions' places.
RECENT_PLACE = Place(FILE, 0, 5)
DOCK_PLACES = (Place(VIEW, 2, 0), Place(VIEW, 2, 1), Place(VIEW, 2, 2))
THEME_PLACE = Place(VIEW, 3, 0)
TRAINING_DOCK_PLACE = Place(TRAIN, 1, 0)
EXPERIMENTS_DOCK_PLACE = Place(TRAIN, 1, 1)


class MainWindow(QMainWindow):
    """The NetBuilder editor window.

    Attributes:
        editor: The network editor (the central widget).
        files: File commands; ``models``: PyTorch commands; ``training``: training.
        act: Every action of the window by name (see :mod:`netbuilder.ui.action_table`).
        menus: The menu bar's menus by place (``"file"``, ``"edit"``...).
    """

    windows: ClassVar[list[MainWindow]] = []

    def __init__(self, document: Document | None = None, *, settings: QSettings | None = None,
                 recovery_dir: Path | None = None, user_blocks_dir: Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setAccessibleName("NetBuilder")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setDockNestingEnabled(True)
        self.settings = settings if settings is not None else app_module.app_settings()
        self.recovery_dir = recovery_dir
        self.user_blocks_dir = user_blocks_dir
        self.document = document if document is not None else start_document()
        self.palette_panel = BlockPalette(store=UserBlockStore(user_blocks_dir))
        self.inspector = InspectorPanel(self.document)
        self.editor = NetworkEditor(self.document, save_block=self._save_user_block,
                                    parent=self)
        self.setCentralWidget(self.editor)
        self._make_docks()
        self.files = FileController(self)
        self.models = ModelsController(self)
        self.window_actions = ActionSet(WINDOW_ACTIONS, self, self)
        self.training = TrainingLauncher(self, self.training_dock, self.document, self.view)
        self.training.trusted_folders = self.models.trusted_folders
        self.action_sets: list[ActionSet[Any]] = [
            self.files.actions, self.models.actions, self.editor.edit_actions,
            self.window_actions, self.training.actions]
        self.act: dict[str, QAction] = {
            name: action for actions in self.action_sets
            for name, action in actions.actions.items()}
        for actions in (self.files.actions, self.models.actions, self.window_actions):
            actions.bind_keys(self)
        self._make_menus()
        self.status = StatusSummary(self)
        self.statusBar().setObjectName("statusBar")
        self.statusBar().setAccessibleName("Status bar")
        self.statusBar().addPermanentWidget(self.status)
        self.inspector.memory.settingsChanged.connect(self._refresh_status)
        self.error_dialog: ErrorListDialog | None = None
        self._connect_panels()
        self.autosaver = Autosaver(self.document, recovery_dir, parent=self)
        self._watch(self.document)
        self._restore_settings()
        self.resize_default()
        MainWindow.windows.append(self)
        self._refresh_all()
        QTimer.singleShot(0, self.editor.show_start_view)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def launch(cls, path: str | Path | None = None, *, ask_restore: Ask | None = None,
               recovery_dir: Path | None = None, **kwargs: Any) -> MainWindow:
        """The first window of a session: a file, restored work, or the LeNet-5 example.

        Args:
            path: Project file to open.
            ask_restore: Decides whether to restore each crash snapshot (default: ask).
            recovery_dir: Folder of crash snapshots (default: the application's).
            **kwargs: Passed to the constructor.
        """
        restored = offer_recovery(recovery_dir, ask_restore)
        first = restored.pop(0) if restored and path is None else None
        window = cls(first, recovery_dir=recovery_dir, **kwargs)
        if path is not None:
            window.files.open_path(Path(path))
        for extra in restored:  # more restored work (or work beside the file asked for)
            cls(extra, recovery_dir=recovery_dir, **kwargs).show()
        return window

    @property
    def view(self) -> GraphView:
        """The canvas (the editor's view of the document)."""
        return self.editor.view

    def _dock(self, title: str, name: str, widget: QWidget,
              area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setAccessibleName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        toggle = dock.toggleViewAction()
        toggle.setObjectName(f"actionToggle{name[0].upper()}{name[1:]}")
        toggle.setStatusTip(f"Show or hide the {title.lower()} panel")
        toggle.setToolTip(f"Show or hide the {title.lower()} panel")
        # shown from the menu: in front of the docks it shares tabs with
        toggle.triggered.connect(lambda checked: dock.raise_() if checked else None)
        self.addDockWidget(area, dock)
        return dock

    def _make_docks(self) -> None:
        self.palette_dock = self._dock("Blocks", "paletteDock", self.palette_panel,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", "inspectorDock", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        placeholder = QWidget()
        placeholder.setObjectName("trainingPlaceholder")
        placeholder.setAccessibleName("Training panels")
        self.training_dock = self._dock("Training", "trainingDock", placeholder,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        self.training_dock.hide()
        self.experiments = ExperimentsDockWidget(lambda: self.document.path,
                                                 settings=self.settings)
        self.experiments_dock = self._dock("Experiments", "experimentsDock", self.experiments,
                                           Qt.DockWidgetArea.BottomDockWidgetArea)
        # tabbed with Training: side by side, neither left room for its toolbar row, and
        # the two asked for a window wider than 1600 px
        self.tabifyDockWidget(self.training_dock, self.experiments_dock)
        self.experiments_dock.hide()
        for dock in (self.training_dock, self.experiments_dock):
            dock.toggleViewAction().triggered.connect(
                lambda checked, shown=dock: self._bottom_dock_shown(shown) if checked else None)
        self.resizeDocks([self.palette_dock, self.inspector_dock], [230, 330],
                         Qt.Orientation.Horizontal)

    def _bottom_dock_shown(self, dock: QDockWidget) -> None:
        """A bottom dock shown from the View menu where none was: at the Training dock's
        share of the window's height (Qt's default left its plots a few pixels high)."""
        others = (self.training_dock, self.experiments_dock)
        if dock.isFloating() or any(o.isVisible() for o in others if o is not dock):
            return
        self.resizeDocks([dock], [round(self.height() * DOCK_SHARE)], Qt.Orientation.Vertical)

    def _make_menus(self) -> None:
        theme = QMenu("&Theme", self)
        theme.setObjectName("menuTheme")
        theme.setAccessibleName("Theme")
        self._theme_group = QActionGroup(self)
        for action in self.window_actions.placed(THEME):
            self._theme_group.addAction(action)
        docks = (self.palette_dock, self.inspector_dock, self.training_dock)
        entries: list[Entry] = [
            (RECENT_PLACE, self.files.recent_menu), (THEME_PLACE, theme),
            (TRAINING_DOCK_PLACE, self.training_dock.toggleViewAction()),
            (EXPERIMENTS_DOCK_PLACE, self.experiments_dock.toggleViewAction()),
            *((place, dock.toggleViewAction()) for place, dock in zip(DOCK_PLACES, docks)),
            *(entry for actions in self.action_sets for entry in actions.entries())]
        fill(theme, THEME, entries)
        self.menuBar().setObjectName("menuBar")
        self.menuBar().setAccessibleName("Menu bar")
        self.menus = build_menu_bar(self.menuBar(), entries, self.refresh_actions)
        toolbar = build_toolbar(self, entries)
        self.addToolBar(toolbar)

    def _connect_panels(self) -> None:
        editor = self.editor
        editor.selectionChanged.connect(self.inspector.show_nodes)
        editor.levelChanged.connect(self.status.show_level)
        editor.nodeActivated.connect(lambda _node_id: self._show_inspector())
        editor.renameRequested.connect(self._rename)
        editor.statusMessage.connect(self.show_message)
        self.palette_panel.blockActivated.connect(editor.add_block)
        self.palette_panel.userBlockActivated.connect(editor.insert_fragment)
        self.inspector.openGroupRequested.connect(editor.open_group)
        self.inspector.statusMessage.connect(self.show_message)
        self.status.errorsClicked.connect(self.show_errors)
        self.experiments.statusMessage.connect(self.show_message)
        self.experiments.openTrialRequested.connect(
            lambda path: self.open_new_window().files.open_path(Path(path)))

    def resize_default(self) -> None:
        """A comfortable first size (when no saved geometry was restored)."""
        if not self._geometry_restored:
            screen = QGuiApplication.primaryScreen()
            area = screen.availableGeometry() if screen is not None else None
            width = min(1440, area.width() - 40) if area is not None else 1440
            height = min(900, area.height() - 60) if area is not None else 900
            self.resize(max(width, 900), max(height, 600))

    # -- the document ---------------------------------------------------------------------
    def _watch(self, document: Document) -> None:
        document.graph.events.connect(self._on_events)
        document.history.connect(self._history_changed)

    def set_document(self, document: Document) -> None:
        """Show ``document`` in every panel (the previous one is dropped)."""
        self.document.graph.events.disconnect(self._on_events)
        self.document.history.disconnect(self._history_changed)
        self.document = document
        self.editor.set_document(document)
        self.inspector.set_document(document)
        self.autosaver.set_document(document)
        self.training.set_document(document, self.view)
        self._watch(document)
        self._refresh_all()
        QTimer.singleShot(0, self.editor.show_start_view)

    def _on_events(self, events: Sequence[Event]) -> None:
        if any(e.kind != "node_moved" for e in events):
            self._refresh_status()

    def _history_changed(self) -> None:
        self.refresh_title()
        self.refresh_actions()

    def _refresh_all(self) -> None:
        self.refresh_title()
        self._refresh_status()
        self.refresh_actions()
        self.inspector.show_nodes(self.view.selected_ids())

    def refresh_title(self) -> None:
        """Show the document's name, and whether it has unsaved changes, in the title."""
        self.setWindowTitle(f"{document_name(self.document)}[*] — NetBuilder")
        self.setWindowModified(self.document.modified)
        if self.document.path is not None:
            self.setWindowFilePath(str(self.document.path))

    def _refresh_status(self) -> None:
        analysis = self.document.analysis
        self.status.update_from(analysis)
        self.status.show_memory(status_text(plan_memory(
            self.document.graph, analysis, self.inspector.memory.settings)))
        if self.error_dialog is not None and self.error_dialog.isVisible():
            self.error_dialog.set_issues(analysis, self.document.graph)

    def refresh_actions(self) -> None:
        """Enable, check and label every action as its row's predicates say now."""
        for actions in self.action_sets:
            actions.refresh()

    # -- panels ---------------------------------------------------------------------------------
    def _show_inspector(self) -> None:
        self.inspector_dock.show()
        self.inspector_dock.raise_()

    def _rename(self, node_id: str) -> None:
        self._show_inspector()
        self.inspector.show_nodes([node_id])
        self.inspector.focus_name()

    def _save_user_block(self, name: str, data: dict[str, Any]) -> str:
        return self.palette_panel.add_user_block(name, data).name

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        """Show ``text`` in the status bar for a while."""
        self.statusBar().showMessage(text, timeout_ms)

    def show_errors(self) -> ErrorListDialog:
        """Open (or raise) the list of errors and warnings."""
        if self.error_dialog is None:
            self.error_dialog = ErrorListDialog(self)
            self.error_dialog.nodeChosen.connect(self.editor.reveal_node)
        self.error_dialog.set_issues(self.document.analysis, self.document.graph)
        self.error_dialog.show()
        self.error_dialog.raise_()
        return self.error_dialog

    # -- windows ----------------------------------------------------------------------------
    def open_new_window(self) -> MainWindow:
        """Open another window on an empty document."""
        window = MainWindow(Document(), settings=self.settings, recovery_dir=self.recovery_dir,
                            user_blocks_dir=self.user_blocks_dir)
        window.show()
        return window

    @staticmethod
    def quit_app() -> None:
        """Close every window (each asks about its unsaved changes), then quit."""
        QApplication.closeAllWindows()

    def profile_network(self) -> None:
        """Profile a training step on the CPU and paint the heat overlay."""
        measure(self).profile()

    def save_profile_trace(self) -> None:
        """Profile again and save the trace for Perfetto or chrome://tracing."""
        measure(self).save_trace()

    def preflight_check(self) -> None:
        """Overfit one batch and show what looks wrong per node."""
        measure(self).preflight()

    def show_about(self) -> None:
        """Show the version and licence."""
        QMessageBox.about(self, "About NetBuilder",
                          f"<h3>NetBuilder {__version__}</h3><p>Build convolutional networks "
                          "visually, see every shape and cost, train them live.</p>"
                          "<p>MIT licence.</p>")

    # -- theme ------------------------------------------------------------------------------
    def theme(self) -> str:
        """The colours chosen: ``"system"``, ``"light"`` or ``"dark"``."""
        choice = str(self.settings.value("theme", "system"))
        return choice if choice in THEMES else "system"

    def set_theme(self, choice: str) -> None:
        """Use light or dark colours, or follow the system's (``"system"``)."""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app_module.choose_theme(app, choice)
        self.settings.setValue("theme", choice)
        self._apply_canvas_theme()
        self.window_actions.refresh()

    def _apply_canvas_theme(self) -> None:
        forced = {app_module.LIGHT: False, app_module.DARK: True}.get(self.theme())
        self.editor.set_dark(forced)

    def changeEvent(self, event: QEvent) -> None:
        """Redraw the action icons in the new colours after a theme change."""
        if event.type() == QEvent.Type.PaletteChange:
            for actions in self.action_sets:
                actions.refresh_icons()
        super().changeEvent(event)

    # -- settings ---------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state, STATE_VERSION)
        geometry = self.settings.value("window/geometry")
        self._geometry_restored = isinstance(geometry, QByteArray) and \
            self.restoreGeometry(geometry)
        self.editor.set_minimap_enabled(
            bool(self.settings.value("view/minimap", True, type=bool)))
        self.editor.set_fold_columns(
            bool(self.settings.value("view/fold_columns", True, type=bool)), arrange=False)
        app = QApplication.instance()
        if self.theme() != "system" and isinstance(app, QApplication):
            app_module.choose_theme(app, self.theme())
        self._apply_canvas_theme()

    def save_settings(self) -> None:
        """Remember the window's geometry, dock layout and view options."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))
        self.settings.setValue("view/minimap", self.editor.minimap_enabled())
        self.settings.setValue("view/fold_columns", self.editor.fold_columns())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask to save unsaved changes; remember the layout; drop the crash snapshot."""
        if not self.files.maybe_save():
            event.ignore()
            return
        self.training.shutdown()
        self.experiments.shutdown()
        self.save_settings()
        self.autosaver.stop()
        if self.error_dialog is not None:
            self.error_dialog.close()
        if self in MainWindow.windows:
            MainWindow.windows.remove(self)
        event.accept()


__all__ = ["MainWindow", "document_name", "lenet5_graph", "start_document"]
