"""File commands of the main window: new, open, templates, save, recent files, export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMenu, QMessageBox

from netbuilder.core import layout
from netbuilder.core.document import Document
from netbuilder.core.errors import NetBuilderError

if TYPE_CHECKING:
    from netbuilder.ui.canvas import GraphView
    from netbuilder.ui.dialogs import TemplateEntry
    from netbuilder.ui.recovery import Autosaver

PROJECT_FILTER = "NetBuilder projects (*.nbproj);;All files (*)"
MAX_RECENT = 10


class FileMixin:
    """New, Open, Open Template, Save, Save As, Recent files, Export, Quit."""

    document: Document
    view: GraphView
    settings: QSettings
    act: dict[str, QAction]
    recent_menu: QMenu
    autosaver: Autosaver

    if TYPE_CHECKING:  # provided by MainWindow
        def set_document(self, document: Document) -> None: ...
        def show_message(self, text: str, timeout_ms: int = 6000) -> None: ...
        def _refresh_title(self) -> None: ...

    # -- asking -------------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask what to do with unsaved changes; return whether it is fine to go on."""
        if not self.document.modified:
            return True
        answer = QMessageBox.question(
            self,  # type: ignore[arg-type]
            "Unsaved changes",
            f"Save the changes to “{self._name()}” before closing it?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.file_save()
        return answer == QMessageBox.StandardButton.Discard

    def _name(self) -> str:
        from netbuilder.ui.main_window import document_name

        return document_name(self.document)

    def _error(self, title: str, error: Exception) -> None:
        QMessageBox.warning(self, title, str(error))  # type: ignore[arg-type]

    # -- new / open ------------------------------------------------------------------------
    def file_new(self) -> None:
        """Replace the document by an empty one."""
        if self.maybe_save():
            self.set_document(Document())

    def file_new_window(self) -> Any:
        """Open another window on an empty document."""
        from netbuilder.ui.main_window import MainWindow

        window = MainWindow(Document(), settings=self.settings,
                            recovery_dir=getattr(self, "recovery_dir", None),
                            user_blocks_dir=getattr(self, "user_blocks_dir", None))
        window.show()
        return window

    def file_open(self) -> None:
        """Ask for a project file and open it."""
        if not self.maybe_save():
            return
        start = str(self._recent_files()[0].parent) if self._recent_files() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open Project", start,  # type: ignore
                                              PROJECT_FILTER)
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        """Open ``path`` in this window (no question asked); report failures."""
        try:
            document = Document.open(path)
        except (NetBuilderError, OSError) as error:
            self._error("Cannot open the project", error)
            self._forget_recent(path)
            return False
        if layout.needs_layout(document.graph):
            layout.apply_layout(document.graph)
        self.set_document(document)
        self._add_recent(path)
        self.show_message(f"Opened {path}")
        return True

    def file_open_template(self) -> None:
        """Choose a template in a dialog and open it as a new, unsaved document."""
        from netbuilder.ui.dialogs import TemplateDialog

        dialog = TemplateDialog(parent=self)  # type: ignore[arg-type]
        if dialog.exec() == QDialog.DialogCode.Accepted:
            entry = dialog.chosen()
            if entry is not None and self.maybe_save():
                self.open_template(entry)

    def open_template(self, entry: TemplateEntry) -> None:
        """Open a template (or bundled example) as a new, unsaved document."""
        try:
            document = entry.take_document()
        except Exception as error:  # a broken template must not take the window down
            self._error("Cannot build the template", error)
            return
        self.set_document(document)
        self.show_message(f"Opened template {entry.title}")

    # -- save -----------------------------------------------------------------------------------
    def file_save(self) -> bool:
        """Save to the document's file (asking for one the first time)."""
        if self.document.path is None:
            return self.file_save_as()
        return self.save_to(self.document.path)

    def file_save_as(self) -> bool:
        """Ask for a file name and save there."""
        start = self.document.path or Path.home() / f"{self._name()}.nbproj"
        path, _ = QFileDialog.getSaveFileName(self, "Save Project As",  # type: ignore
                                              str(start), PROJECT_FILTER)
        if not path:
            return False
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix(".nbproj")
        return self.save_to(target)

    def save_to(self, path: Path) -> bool:
        """Save the document to ``path``; report failures."""
        try:
            self.document.save(path)
        except (OSError, NetBuilderError, ValueError) as error:
            self._error("Cannot save the project", error)
            return False
        self.autosaver.discard()
        self._add_recent(path)
        self._refresh_title()
        self.show_message(f"Saved {path}")
        return True

    # -- recent files ------------------------------------------------------------------------------
    def _recent_files(self) -> list[Path]:
        value = self.settings.value("recentFiles", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [Path(str(p)) for p in items if str(p)]

    def _store_recent(self, paths: list[Path]) -> None:
        self.settings.setValue("recentFiles", [str(p) for p in paths[:MAX_RECENT]])

    def _add_recent(self, path: Path) -> None:
        path = path.resolve()
        self._store_recent([path, *[p for p in self._recent_files() if p != path]])

    def _forget_recent(self, path: Path) -> None:
        self._store_recent([p for p in self._recent_files() if p != path.resolve()])

    def recent_files(self) -> list[Path]:
        """The recently opened or saved files, newest first."""
        return self._recent_files()

    def clear_recent_files(self) -> None:
        """Forget the recent files."""
        self._store_recent([])

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        paths = self._recent_files()
        for k, path in enumerate(paths, 1):
            action = menu.addAction(f"&{k % 10} {path.name}")
            action.setObjectName(f"actionRecent{k}")
            action.setStatusTip(str(path))
            action.setToolTip(str(path))
            action.triggered.connect(lambda _c=False, p=path: self._open_recent(p))
        if not paths:
            empty = menu.addAction("No recent files")
            empty.setObjectName("actionNoRecent")
            empty.setEnabled(False)
        menu.addSeparator()
        menu.addAction(self.act["clear_recent"])

    def _open_recent(self, path: Path) -> None:
        if self.maybe_save():
            self.open_path(path)

    # -- export ------------------------------------------------------------------------------------
    def file_export_png(self) -> None:
        """Ask for a file name and save the diagram as a PNG image."""
        self._export("png", "PNG images (*.png)")

    def file_export_svg(self) -> None:
        """Ask for a file name and save the diagram as an SVG drawing."""
        self._export("svg", "SVG drawings (*.svg)")

    def _export(self, kind: str, file_filter: str) -> None:
        start = (self.document.path or Path.home() / self._name()).with_suffix(f".{kind}")
        path, _ = QFileDialog.getSaveFileName(self, f"Export Diagram as {kind.upper()}",  # type: ignore
                                              str(start), file_filter)
        if path:
            self.export_diagram(Path(path))

    def export_diagram(self, path: Path) -> bool:
        """Render the graph shown to ``path`` (PNG or SVG by its suffix)."""
        from netbuilder.ui.render import write_scene

        try:
            write_scene(self.view.graph_scene, path)
        except (OSError, ValueError, NetBuilderError) as error:
            self._error("Cannot export the diagram", error)
            return False
        self.show_message(f"Exported {path}")
        return True

    def quit_app(self) -> None:
        """Close every window (each asks about its unsaved changes), then quit."""
        QApplication.closeAllWindows()
