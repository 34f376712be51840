"""The File menu's project commands: new, open, templates, save, recent files, export.

:class:`FileController` acts on the window it is given through the window's public
methods (``document``, ``set_document``, ``show_message``, ``refresh_title``...) and owns
the actions of the ``FILE_ACTIONS`` section of :mod:`netbuilder.ui.action_table` and the
Open Recent submenu.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu, QMessageBox

from netbuilder.core import layout
from netbuilder.core.document import Document
from netbuilder.core.errors import NetBuilderError
from netbuilder.core.messages import one_line
from netbuilder.core.outputs import check_output_path, write_output
from netbuilder.core.project_paths import file_problem
from netbuilder.ui.action_table import FILE_ACTIONS
from netbuilder.ui.actions import ActionSet

if TYPE_CHECKING:
    from netbuilder.ui.dialogs import TemplateEntry
    from netbuilder.ui.main_window import MainWindow

PROJECT_FILTER = "NetBuilder projects (*.nbproj);;All files (*)"
MAX_RECENT = 10


def document_name(document: Document) -> str:
    """What the title bar calls a document: file name, else its title, else untitled."""
    if document.path is not None:
        return document.path.stem
    return str(document.meta.get("title") or "untitled")


class FileController(QObject):
    """New, Open, Open Template, Save, Save As, Open Recent and Export for one window.

    Attributes:
        actions: The File actions.
        recent_menu: The Open Recent submenu (filled when it opens).
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.actions = ActionSet(FILE_ACTIONS, self, window)
        self.recent_menu = QMenu("Open &Recent", window)
        self.recent_menu.setObjectName("menuRecent")
        self.recent_menu.setAccessibleName("Recent files")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)

    @property
    def document(self) -> Document:
        """The window's document."""
        return self.window.document

    def document_name(self) -> str:
        """What the title bar calls the window's document."""
        return document_name(self.document)

    def report_error(self, title: str, error: Exception | str) -> None:
        """Tell the user that ``title`` failed and why (one line, control characters escaped).

        Before the window is shown (a file named on the command line), the message waits
        until it is, and the status bar says it too: the window opens either way.
        """
        text = one_line(str(error))
        if not self.window.isVisible():
            self.window.show_message(f"{title}: {text}", 30000)
            QTimer.singleShot(0, lambda: QMessageBox.warning(self.window, title, text))
            return
        QMessageBox.warning(self.window, title, text)

    # -- asking ------------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask what to do with unsaved changes; return whether it is fine to go on."""
        if not self.document.modified:
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window, "Unsaved changes",
            f"Save the changes to “{self.document_name()}” before closing it?",
            buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    def _trust_foreign_modules(self, path: Path) -> bool:
        """Ask before opening a project whose opaque nodes import modules outside torch."""
        from netbuilder.blocks.opaque import foreign_modules_in_file, trust_modules

        foreign = foreign_modules_in_file(path)
        if not foreign:
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window, "Import Python modules?",
            f"“{path.name}” holds layers defined in {', '.join(foreign)}. Opening it imports "
            "those modules, which runs their code. Open it only if you trust them.",
            buttons.Open | buttons.Cancel, buttons.Cancel)
        if answer != buttons.Open:
            return False
        trust_modules(foreign)
        return True

    # -- new / open ------------------------------------------------------------------------
    def new_document(self) -> None:
        """Replace the document by an empty one."""
        if self.maybe_save():
            self.window.set_document(Document())

    def open_file(self) -> None:
        """Ask for a project file and open it."""
        if not self.maybe_save():
            return
        recent = self.recent_files()
        start = str(recent[0].parent) if recent else ""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open Project", start,
                                              PROJECT_FILTER)
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        """Open ``path`` in the window (no question asked); report failures.

        A folder, pipe, device or missing file is refused by its kind, before anything is
        read (a pipe with no writer would block).
        """
        problem = file_problem(path)
        if problem is not None:
            self.report_error("Cannot open the project", problem)
            self._forget_recent(path)
            return False
        try:
            if not self._trust_foreign_modules(path):
                return False
            document = Document.open(path)
        except (NetBuilderError, OSError) as error:
            self.report_error("Cannot open the project", error)
            self._forget_recent(path)
            return False
        if layout.needs_layout(document.graph):
            layout.apply_layout(document.graph)
        self.window.set_document(document)
        self._add_recent(path)
        self.window.show_message(f"Opened {path}")
        return True

    def choose_template(self) -> None:
        """Choose a template in a dialog and open it as a new, unsaved document."""
        from netbuilder.ui.dialogs import TemplateDialog

        dialog = TemplateDialog(parent=self.window)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            entry = dialog.chosen()
            if entry is not None and self.maybe_save():
                self.open_template(entry)

    def open_template(self, entry: TemplateEntry) -> None:
        """Open a template (or bundled example) as a new, unsaved document."""
        try:
            document = entry.take_document()
        except Exception as error:  # a broken template must not take the window down
            self.report_error("Cannot build the template", error)
            return
        self.window.set_document(document)
        self.window.show_message(f"Opened template {entry.title}")

    # -- save -----------------------------------------------------------------------------------
    def save(self) -> bool:
        """Save to the document's file (asking for one the first time)."""
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        """Ask for a file name and save there."""
        start = self.document.path or Path.home() / f"{self.document_name()}.nbproj"
        path, _ = QFileDialog.getSaveFileName(self.window, "Save Project As", str(start),
                                              PROJECT_FILTER)
        if not path:
            return False
        target = Path(path)
        return self.save_to(target if target.suffix else target.with_suffix(".nbproj"))

    def save_to(self, path: Path) -> bool:
        """Save the document to ``path``; report failures."""
        try:
            check_output_path(path)
            self.document.save(path)
        except (OSError, NetBuilderError, ValueError) as error:
            self.report_error("Cannot save the project", error)
            return False
        self.window.autosaver.discard()
        self._add_recent(path)
        self.window.refresh_title()
        self.window.show_message(f"Saved {path}")
        return True

    # -- recent files ------------------------------------------------------------------------------
    def recent_files(self) -> list[Path]:
        """The recently opened or saved files, newest first."""
        value = self.window.settings.value("recentFiles", [])
        items = [value] if isinstance(value, str) else \
            list(value) if isinstance(value, list | tuple) else []
        return [Path(str(p)) for p in items if str(p)]

    def clear_recent_files(self) -> None:
        """Forget the recent files."""
        self._store_recent([])

    def _store_recent(self, paths: list[Path]) -> None:
        self.window.settings.setValue("recentFiles", [str(p) for p in paths[:MAX_RECENT]])

    def _add_recent(self, path: Path) -> None:
        path = path.resolve()
        self._store_recent([path, *[p for p in self.recent_files() if p != path]])

    def _forget_recent(self, path: Path) -> None:
        self._store_recent([p for p in self.recent_files() if p != path.resolve()])

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        paths = self.recent_files()
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
        menu.addAction(self.actions["clear_recent"])

    def _open_recent(self, path: Path) -> None:
        if self.maybe_save():
            self.open_path(path)

    # -- export ------------------------------------------------------------------------------------
    def export_png(self) -> None:
        """Ask for a file name and save the diagram as a PNG image."""
        self._export("png", "PNG images (*.png)")

    def export_svg(self) -> None:
        """Ask for a file name and save the diagram as an SVG drawing."""
        self._export("svg", "SVG drawings (*.svg)")

    def _export(self, kind: str, file_filter: str) -> None:
        start = (self.document.path or Path.home() / self.document_name()).with_suffix(
            f".{kind}")
        path, _ = QFileDialog.getSaveFileName(
            self.window, f"Export Diagram as {kind.upper()}", str(start), file_filter)
        if path:
            self.export_diagram(Path(path))

    def export_diagram(self, path: Path) -> bool:
        """Render the graph shown to ``path`` (PNG or SVG by its suffix)."""
        from netbuilder.ui.render import write_scene

        scene = self.window.editor.view.graph_scene
        try:
            write_output(path, lambda staged: write_scene(scene, staged))
        except (OSError, ValueError, NetBuilderError) as error:
            self.report_error("Cannot export the diagram", error)
            return False
        self.window.show_message(f"Exported {path}")
        return True
