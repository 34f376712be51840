"""The main window: canvas in the middle, palette left, inspector right, status below.

The window holds one :class:`~netbuilder.core.document.Document` at a time. New, Open and
Open Template replace it (after asking to save changes); every panel is re-pointed at the
new document. File commands live in :mod:`netbuilder.ui.window_files`, editing commands in
:mod:`netbuilder.ui.window_edit`; this module assembles the window and keeps the title,
status bar and action states in step with the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import QByteArray, QEvent, QObject, QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import QActionGroup, QCloseEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QMainWindow,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from netbuilder.core import layout, serialize
from netbuilder.core.document import Document
from netbuilder.core.errors import NetBuilderError, UnknownNodeError
from netbuilder.core.events import Event
from netbuilder.core.graph import Graph
from netbuilder.ui import app as app_module
from netbuilder.ui.actions import build_menus, build_toolbar, canvas_actions, create_actions
from netbuilder.ui.actions import refresh_icons as refresh_action_icons
from netbuilder.ui.canvas import GraphView, Minimap
from netbuilder.ui.clipboard import fragment_from_mime
from netbuilder.ui.dialogs import ErrorListDialog, examples_dir
from netbuilder.ui.inspector import InspectorPanel
from netbuilder.ui.palette import MIME_FRAGMENT, BlockPalette, UserBlockStore
from netbuilder.ui.recovery import Ask, Autosaver, offer_recovery
from netbuilder.ui.status import StatusSummary
from netbuilder.ui.training.launcher import TrainingLauncher
from netbuilder.ui.window_edit import EditMixin
from netbuilder.ui.window_files import FileMixin
from netbuilder.ui.window_models import ModelsMixin

STATE_VERSION = 1
#: Smallest zoom the first view of a document uses: below it, node text is unreadable.
READABLE_ZOOM = 0.75
START_EXAMPLE = "lenet5.nbproj"


def document_name(document: Document) -> str:
    """What the title bar calls a document: file name, else its title, else untitled."""
    if document.path is not None:
        return document.path.stem
    return str(document.meta.get("title") or "untitled")


def start_document() -> Document:
    """The LeNet-5 example as an unsaved document (Save asks where: never over the example)."""
    try:
        project = serialize.load(examples_dir() / START_EXAMPLE)
    except (NetBuilderError, OSError):
        project = serialize.Project(lenet5_graph(), {}, {"title": "LeNet-5"})
    if layout.needs_layout(project.graph):
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


class MainWindow(FileMixin, EditMixin, ModelsMixin, QMainWindow):
    """The NetBuilder editor window."""

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
        self.act = create_actions(self)
        self.palette_panel = BlockPalette(store=UserBlockStore(user_blocks_dir))
        self.inspector = InspectorPanel(self.document)
        self.canvas_host = QWidget(self)
        self.canvas_host.setObjectName("canvasHost")
        self.canvas_host.setAccessibleName("Canvas")
        QVBoxLayout(self.canvas_host).setContentsMargins(0, 0, 0, 0)
        self.view: GraphView = self._make_view(self.document)
        self.canvas_host.layout().addWidget(self.view)
        self.canvas_host.installEventFilter(self)
        self.minimap: Minimap | None = None
        self.setCentralWidget(self.canvas_host)
        self._make_docks()
        self.training = TrainingLauncher(self, self.training_dock, self.document, self.view)
        self._make_menus()
        self.status = StatusSummary(self)
        self.statusBar().setObjectName("statusBar")
        self.statusBar().setAccessibleName("Status bar")
        self.statusBar().addPermanentWidget(self.status)
        self.error_dialog: ErrorListDialog | None = None
        self._connect_panels()
        self.autosaver = Autosaver(self.document, recovery_dir, parent=self)
        self._watch(self.document)
        self._restore_settings()
        self.resize_default()
        MainWindow.windows.append(self)
        self._refresh_all()
        QTimer.singleShot(0, self.show_start_view)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def launch(cls, path: str | Path | None = None, *, ask_restore: Ask | None = None,
               recovery_dir: Path | None = None, **kwargs: object) -> MainWindow:
        """The first window of a session: a file, restored work, or the LeNet-5 example.

        Args:
            path: Project file to open.
            ask_restore: Decides whether to restore each crash snapshot (default: ask).
            recovery_dir: Folder of crash snapshots (default: the application's).
            **kwargs: Passed to the constructor.
        """
        restored = offer_recovery(recovery_dir, ask_restore)
        first = restored.pop(0) if restored and path is None else None
        window = cls(first, recovery_dir=recovery_dir, **kwargs)  # type: ignore[arg-type]
        if path is not None:
            window.open_path(Path(path))
        for extra in restored:  # more restored work (or work beside the file asked for)
            cls(extra, recovery_dir=recovery_dir, **kwargs).show()  # type: ignore[arg-type]
        return window

    def _make_view(self, document: Document) -> GraphView:
        view = GraphView(document, self)
        view.setStatusTip("Drag blocks here; drag from an output port to an input port to "
                          "connect; Tab adds a block at the cursor")
        for action in canvas_actions(self.act):
            view.addAction(action)
        view.selectionChanged.connect(self._selection_changed)
        view.nodeActivated.connect(self._node_activated)
        view.statusMessage.connect(self.show_message)
        view.contextMenuRequested.connect(self._context_menu)
        view.currentGraphChanged.connect(self._level_changed)
        view.viewport().installEventFilter(self)
        view.viewport().setAcceptDrops(True)
        return view

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
        self.resizeDocks([self.palette_dock, self.inspector_dock], [230, 330],
                         Qt.Orientation.Horizontal)

    def set_training_panel(self, widget: QWidget) -> None:
        """Put the training panels (from the training feature) into the bottom dock."""
        self.training_dock.setWidget(widget)

    def _make_menus(self) -> None:
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.setObjectName("menuRecent")
        self.recent_menu.setAccessibleName("Recent files")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        theme = QMenu("&Theme", self)
        theme.setObjectName("menuTheme")
        theme.setAccessibleName("Theme")
        self._theme_group = QActionGroup(self)
        for key in ("theme_system", "theme_light", "theme_dark"):
            self._theme_group.addAction(self.act[key])
            theme.addAction(self.act[key])
        docks = [d.toggleViewAction() for d in
                 (self.palette_dock, self.inspector_dock, self.training_dock)]
        self.menus = build_menus(self.menuBar(), self.act, {
            "recent": self.recent_menu, "docks": docks, "theme": theme})
        self.menuBar().insertMenu(self.menus["help"].menuAction(), self.training.menu)
        self.menuBar().setObjectName("menuBar")
        self.menuBar().setAccessibleName("Menu bar")
        toolbar = build_toolbar(self, self.act)
        toolbar.addSeparator()
        toolbar.addAction(self.training.actions["train"])
        train = toolbar.widgetForAction(self.training.actions["train"])
        if train is not None:
            train.setObjectName("toolButtonTrain")
            train.setAccessibleName("Train")
        self.addToolBar(toolbar)

    def _connect_panels(self) -> None:
        self.palette_panel.blockActivated.connect(self.add_block)
        self.palette_panel.userBlockActivated.connect(self.insert_fragment)
        self.inspector.openGroupRequested.connect(self.edit_open_group)
        self.inspector.statusMessage.connect(self.show_message)
        self.status.errorsClicked.connect(self.show_errors)

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
        document.history.connect(lambda d=document: self._history_changed(d))

    def set_document(self, document: Document) -> None:
        """Show ``document`` in every panel (the previous one is dropped)."""
        self.document.graph.events.disconnect(self._on_events)
        self.document = document
        self.view_toggle_minimap(False)
        old, view = self.view, self._make_view(document)
        self.canvas_host.layout().replaceWidget(old, view)
        self.status.show_level([])
        old.close()
        old.deleteLater()
        self.view = view
        self.inspector.set_document(document)
        self.autosaver.set_document(document)
        self.training.set_document(document, view)
        self._watch(document)
        self._refresh_all()
        self.view_toggle_minimap(self.act["minimap"].isChecked())
        self._apply_canvas_theme()
        QTimer.singleShot(0, self.show_start_view)

    def _on_events(self, events: Sequence[Event]) -> None:
        if any(e.kind != "node_moved" for e in events):
            self._refresh_status()

    def _history_changed(self, document: Document) -> None:
        if document is self.document:
            self._refresh_title()
            self._refresh_actions()

    def _refresh_all(self) -> None:
        self._refresh_title()
        self._refresh_status()
        self._refresh_actions()
        self.inspector.show_nodes(self.view.selected_ids())

    def _refresh_title(self) -> None:
        self.setWindowTitle(f"{document_name(self.document)}[*] — NetBuilder")
        self.setWindowModified(self.document.modified)
        if self.document.path is not None:
            self.setWindowFilePath(str(self.document.path))

    def _refresh_status(self) -> None:
        analysis = self.document.analysis
        self.status.update_from(analysis)
        if self.error_dialog is not None and self.error_dialog.isVisible():
            self.error_dialog.set_issues(analysis, self.document.graph)

    def _refresh_actions(self) -> None:
        history = self.document.history
        self.act["undo"].setEnabled(history.can_undo)
        self.act["redo"].setEnabled(history.can_redo)
        self.act["undo"].setText(f"&Undo {history.undo_text}".rstrip())
        self.act["redo"].setText(f"&Redo {history.redo_text}".rstrip())
        ids = self.view.selected_ids()
        graph = self.view.current_graph
        nodes = [graph.nodes[i] for i in ids if i in graph.nodes]
        for key in ("cut", "copy", "duplicate", "delete", "group", "freeze",
                    "save_user_block"):
            self.act[key].setEnabled(bool(nodes))
        self.act["rename"].setEnabled(len(nodes) == 1)
        self.act["ungroup"].setEnabled(any(n.body is not None for n in nodes))
        self.act["open_group"].setEnabled(len(nodes) == 1 and nodes[0].body is not None)
        self.act["close_group"].setEnabled(graph.parent is not None)
        self.act["freeze"].setChecked(bool(nodes) and all(n.frozen for n in nodes))

    # -- panels ---------------------------------------------------------------------------------
    def _selection_changed(self, ids: list[str]) -> None:
        self.inspector.show_nodes(ids)
        self._refresh_actions()

    def _level_changed(self, names: list[str]) -> None:
        self.status.show_level(names)
        self._refresh_actions()

    def _node_activated(self, node_id: str) -> None:
        self.inspector_dock.show()
        self.inspector_dock.raise_()

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        """Show ``text`` in the status bar for a while."""
        self.statusBar().showMessage(text, timeout_ms)

    def show_errors(self) -> ErrorListDialog:
        """Open (or raise) the list of errors and warnings."""
        if self.error_dialog is None:
            self.error_dialog = ErrorListDialog(self)
            self.error_dialog.nodeChosen.connect(self.reveal_node)
        self.error_dialog.set_issues(self.document.analysis, self.document.graph)
        self.error_dialog.show()
        self.error_dialog.raise_()
        return self.error_dialog

    def reveal_node(self, node_id: str) -> None:
        """Show the graph level holding ``node_id`` in the canvas and select the node."""
        try:
            graph, _node = self.document.graph.find(node_id)
        except UnknownNodeError:
            return
        owners: list[str] = []
        level = graph
        while level.owner is not None and level.parent is not None:
            owners.insert(0, level.owner.id)
            level = level.parent
        if self.view.current_graph is not graph:
            for _ in range(64):
                if self.view.current_graph.parent is None:
                    break
                self.view.close_group()
            for owner in owners:
                self.view.open_group(owner)
        self.view.select([node_id])

    def _context_menu(self, ids: list, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.setObjectName("canvasContextMenu")
        menu.setAccessibleName("Canvas menu")
        keys = (("cut", "copy", "paste", "duplicate", "delete", "-", "group", "ungroup",
                 "open_group", "-", "rename", "freeze", "save_user_block") if ids else
                ("paste", "quick_add", "-", "select_all", "auto_layout", "fit", "close_group"))
        for key in keys:
            if key == "-":
                menu.addSeparator()
            else:
                menu.addAction(self.act[key])
        menu.popup(pos)

    # -- drops of user blocks on the canvas -------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Accept fragment drops (user blocks) on the canvas; keep the minimap placed."""
        if watched is self.canvas_host and event.type() == QEvent.Type.Resize:
            self._place_minimap()
        elif watched is self.view.viewport() and isinstance(event, QDropEvent):
            mime = event.mimeData()
            if mime is not None and mime.hasFormat(MIME_FRAGMENT):
                if event.type() == QEvent.Type.Drop:
                    self._drop_fragment(event)
                event.acceptProposedAction()
                return True
        return super().eventFilter(watched, event)

    def _drop_fragment(self, event: QDropEvent) -> None:
        data = fragment_from_mime(event.mimeData())
        if data is not None:
            pos = self.view.mapToScene(event.position().toPoint())
            self.insert_fragment(data, (pos.x(), pos.y()))

    # -- theme ------------------------------------------------------------------------------
    def view_theme_system(self, _checked: bool = True) -> None:
        """Follow the system's colour scheme."""
        self._set_theme("system")

    def view_theme_light(self, _checked: bool = True) -> None:
        """Use light colours."""
        self._set_theme(app_module.LIGHT)

    def view_theme_dark(self, _checked: bool = True) -> None:
        """Use dark colours."""
        self._set_theme(app_module.DARK)

    def _set_theme(self, choice: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app_module.choose_theme(app, choice)
        self.settings.setValue("theme", choice)
        self.act[f"theme_{choice}"].setChecked(True)
        self._apply_canvas_theme()

    def _apply_canvas_theme(self) -> None:
        choice = str(self.settings.value("theme", "system"))
        forced = {app_module.LIGHT: False, app_module.DARK: True}.get(choice)
        self.view.set_dark(forced)
        if self.minimap is not None:  # its cached picture has the old colours
            self.view_toggle_minimap(False)
            self.view_toggle_minimap(True)

    def changeEvent(self, event: QEvent) -> None:
        """Redraw the action icons in the new colours after a theme change."""
        if event.type() == QEvent.Type.PaletteChange:
            refresh_action_icons(self.act)
        super().changeEvent(event)

    # -- settings ---------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state, STATE_VERSION)
        geometry = self.settings.value("window/geometry")
        self._geometry_restored = isinstance(geometry, QByteArray) and \
            self.restoreGeometry(geometry)
        minimap = bool(self.settings.value("view/minimap", True, type=bool))
        self.act["minimap"].setChecked(minimap)
        self.view_toggle_minimap(minimap)
        theme = str(self.settings.value("theme", "system"))
        key = f"theme_{theme}" if f"theme_{theme}" in self.act else "theme_system"
        self.act[key].setChecked(True)
        app = QApplication.instance()
        if key != "theme_system" and isinstance(app, QApplication):
            app_module.choose_theme(app, theme)
        self._apply_canvas_theme()

    def save_settings(self) -> None:
        """Remember the window's geometry, dock layout and view options."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))
        self.settings.setValue("view/minimap", self.act["minimap"].isChecked())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask to save unsaved changes; remember the layout; drop the crash snapshot."""
        if not self.maybe_save():
            event.ignore()
            return
        self.training.shutdown()
        self.save_settings()
        self.autosaver.stop()
        if self.error_dialog is not None:
            self.error_dialog.close()
        if self in MainWindow.windows:
            MainWindow.windows.remove(self)
        event.accept()

    def show_start_view(self) -> None:
        """Fit the graph, but no smaller than readable: then show its top (the input)."""
        view = self.view
        view.fit()
        if view.zoom >= READABLE_ZOOM:
            return
        view.zoom_by(READABLE_ZOOM / view.zoom)
        diagram = view.graph_scene.diagram_rect()
        visible = view.mapToScene(view.viewport().rect()).boundingRect()
        view.centerOn(diagram.center().x(), diagram.top() - 40.0 + visible.height() / 2)

    # -- view menu ------------------------------------------------------------------------
    def view_fit(self) -> None:
        """Zoom to show the whole graph."""
        self.view.fit()

    def view_zoom_in(self) -> None:
        """Zoom in one step."""
        self.view.zoom_by(1.25)

    def view_zoom_out(self) -> None:
        """Zoom out one step."""
        self.view.zoom_by(0.8)

    def view_auto_layout(self) -> None:
        """Arrange the graph shown in tidy layers (one undo step)."""
        self.view.auto_layout()

    def view_quick_add(self) -> None:
        """Open the quick-add search box on the canvas."""
        self.view.setFocus()
        self.view.quick_add()

    def view_toggle_minimap(self, checked: bool) -> None:
        """Show the minimap (when the diagram does not fit the view) or never show it."""
        if checked and self.minimap is None:
            self.minimap = Minimap(self.view, self.canvas_host)
            self._place_minimap()
        elif not checked and self.minimap is not None:
            self.minimap.deleteLater()
            self.minimap = None

    def _place_minimap(self) -> None:
        """Keep the minimap in the canvas's bottom-right corner, above the view."""
        if self.minimap is None:
            return
        margin = 12
        area = self.canvas_host.rect()
        self.minimap.move(area.right() - self.minimap.width() - margin,
                          area.bottom() - self.minimap.height() - margin)
        self.minimap.raise_()

    def help_about(self) -> None:
        """Show the version and licence."""
        from PySide6.QtWidgets import QMessageBox

        from netbuilder import __version__

        QMessageBox.about(self, "About NetBuilder",
                          f"<h3>NetBuilder {__version__}</h3><p>Build convolutional networks "
                          "visually, see every shape and cost, train them live.</p>"
                          "<p>MIT licence.</p>")


__all__ = ["MainWindow", "document_name", "lenet5_graph", "start_document"]
