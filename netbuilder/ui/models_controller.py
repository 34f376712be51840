"""The File menu's model commands: PyTorch in and out.

* **Import PyTorch Model…** traces a model on a worker thread
  (:class:`~netbuilder.ui.import_dialog.ImportDialog`) and opens it as a new document
  whose layers load the model's weights from a file in the application's data folder;
* **Initialise From Pretrained Weights…** (documents made from a template with
  torchvision weights) points every layer at torchvision's file, from the torch hub cache
  or a file the user picks — one undo step;
* **Transfer Learning…** freezes every layer but a fresh head for a new number of
  classes — one undo step;
* **Export Python Source…** writes a standalone PyTorch file defining the network;
* **Export Network…** writes it as ONNX (checked with onnxruntime), a ``.pt2``
  ExportedProgram, Python source or a training job folder for ``torchrun`` — the same
  functions as ``netbuilder export --format`` (:mod:`netbuilder.export_cli`);
* **Open Run…** brings back a run trained from a job folder
  (:mod:`netbuilder.ui.run_import`).

Everything that imports or runs torch happens off the GUI thread
(:func:`~netbuilder.ui.busy.run_busy`); failures are shown as messages, never tracebacks.
:class:`ModelsController` acts on the window it is given through the window's public
methods and owns the actions of the ``MODEL_ACTIONS`` section of
:mod:`netbuilder.ui.action_table`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from netbuilder.core.document import Document
from netbuilder.core.outputs import write_output
from netbuilder.core.project_paths import anchored_graph
from netbuilder.ui.action_table import MODEL_ACTIONS
from netbuilder.ui.actions import ActionSet
from netbuilder.ui.busy import JobCancelled, run_busy
from netbuilder.ui.path_confirm import confirm_paths, default_imported_weights_dir, project_folder

if TYPE_CHECKING:
    from netbuilder.compiler.import_job import ImportedModel
    from netbuilder.ui.import_dialog import ImportDialog
    from netbuilder.ui.main_window import MainWindow

T = TypeVar("T")
WEIGHTS_FILTER = "PyTorch weights (*.pth *.pt *.bin *.ckpt);;All files (*)"
PYTHON_FILTER = "Python files (*.py);;All files (*)"
#: File › Export Network's choices: the dialog's filter → (format, suffix).
EXPORT_FILTERS = {
    "ONNX model, checked with onnxruntime (*.onnx)": ("onnx", ".onnx"),
    "PyTorch ExportedProgram (*.pt2)": ("pt2", ".pt2"),
    "Python source (*.py)": ("py", ".py"),
    "Training job folder for torchrun (*)": ("job", ""),
}
#: Most classes the transfer-learning question accepts.
MAX_CLASSES = 100_000


class ModelsController(QObject):
    """Import a PyTorch model, pretrained weights, transfer learning, Python source export.

    Attributes:
        actions: The model actions of the File menu.
        imported_weights_dir: Where imported weights go (None:
            :func:`default_imported_weights_dir`).
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.imported_weights_dir: Path | None = None
        self.actions = ActionSet(MODEL_ACTIONS, self, window)

    @property
    def document(self) -> Document:
        """The window's document."""
        return self.window.document

    # -- helpers ----------------------------------------------------------------------------
    def _background(self, text: str, work: Callable[[], T], failure: str) -> T | None:
        """``work()`` off the GUI thread; ``None`` when cancelled or failed (failure shown)."""
        try:
            return run_busy(self.window, text, work)
        except JobCancelled:
            self.window.show_message("Cancelled", 3000)
        except Exception as error:  # torch and user files fail in many ways: show, don't crash
            self.window.files.report_error(failure, error)
        return None

    def trusted_folders(self) -> list[Path]:
        """Folders a project may name without a question (where imports put weights)."""
        return [self.imported_weights_dir] if self.imported_weights_dir is not None else []

    def _weights_module(self) -> ModuleType | None:
        """:mod:`netbuilder.templates.weights`, imported off the GUI thread.

        It imports torch, which takes seconds the first time.
        """

        def load() -> ModuleType:
            from netbuilder.templates import weights

            return weights

        return self._background("Loading PyTorch…", load, "Cannot load PyTorch")

    # -- import ----------------------------------------------------------------------------
    def import_model(self) -> ImportDialog | None:
        """Open the import dialog (after asking about unsaved changes); return it."""
        from netbuilder.ui.import_dialog import ImportDialog

        if not self.window.files.maybe_save():
            return None
        folder = self.imported_weights_dir or default_imported_weights_dir()
        dialog = ImportDialog(folder, parent=self.window)
        dialog.imported.connect(self.open_imported)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_imported(self, imported: ImportedModel) -> Document:
        """Show an imported model as a new, unsaved document."""
        document = Document(imported.graph, meta=imported.meta)
        self.window.set_document(document)
        count = sum(1 for _ in imported.graph.walk())
        gap = imported.max_difference
        check = f", outputs equal to the model's (max |Δ| {gap:.1e})" if gap is not None else ""
        self.window.show_message(f"Imported {imported.name}: {count} nodes{check}; weights in "
                          f"{imported.weights_file}", 12000)
        return document

    # -- pretrained weights -------------------------------------------------------------------
    def pretrained_template(self) -> str | None:
        """The document's template, when torchvision has weights for it."""
        from netbuilder.templates import TemplateError, get_template_info

        name = self.document.meta.get("template")
        if not isinstance(name, str):
            return None
        try:
            info = get_template_info(name)
        except TemplateError:
            return None
        return info.name if info.torchvision is not None else None

    def can_init_pretrained(self) -> bool:
        """Whether Initialise From Pretrained Weights applies to the document."""
        return self.pretrained_template() is not None

    def init_pretrained(self) -> bool:
        """Initialise every layer from torchvision weights (one undo step)."""
        template = self.pretrained_template()
        if template is None:
            self.window.show_message("Only a network opened from a template that "
                                     "torchvision has can take its pretrained weights")
            return False
        weights = self._weights_module()
        source = self._choose_weights(weights, template) if weights is not None else None
        if weights is None or source is None:
            return False
        graph = self.document.graph
        command = self._background(f"Reading {source.name}…",
                                   lambda: weights.init_from_weights(graph, template, source),
                                   "Cannot initialise from these weights")
        if command is None or self.document.graph is not graph:
            return False
        self.document.push(command)
        self.window.show_message(f"Initialised {len(command.children)} layers from {source}")
        return True

    def _choose_weights(self, weights: ModuleType, template: str) -> Path | None:
        """torchvision's cached file (if the user takes it) or a file the user picks."""
        cached = weights.find_cached_weights(template)
        if cached is not None:
            answer = QMessageBox.question(
                self.window, "Pretrained Weights",
                f"Initialise from torchvision's {template} weights found in the cache?\n\n"
                f"{cached}\n\nChoose No to pick another file.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
                | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes)
            if answer == QMessageBox.StandardButton.Yes:
                return Path(cached)
            if answer != QMessageBox.StandardButton.No:
                return None
            folder = Path(cached).parent
        else:
            folder = Path(weights.cache_path(template)).parent
            self.window.show_message(f"torchvision's {template} weights are not in the torch "
                                     f"hub cache ({folder}); choose a state_dict file", 30000)
        start = folder if folder.is_dir() else Path.home()
        path, _ = QFileDialog.getOpenFileName(self.window, f"Choose the {template} Weights",
                                              str(start), WEIGHTS_FILTER)
        return Path(path) if path else None

    # -- transfer learning ----------------------------------------------------------------------
    def transfer_learning(self) -> bool:
        """Ask for a number of classes; freeze all but a fresh head (one undo step)."""
        weights = self._weights_module()
        if weights is None:
            return False
        analysis = self.document.analysis
        count, ok = QInputDialog.getInt(
            self.window, "Transfer Learning",
            "Train a new head for this many classes (every other layer is frozen):",
            self._head_outputs(weights, analysis), 1, MAX_CLASSES)
        if not ok:
            return False
        graph = self.document.graph
        command = self._background(
            "Preparing transfer learning…",
            lambda: weights.transfer_learning(graph, count, analysis=analysis),
            "Cannot set up transfer learning")
        if command is None:
            return False
        self.document.push(command)
        self.window.show_message(f"{command.text}; every other layer is frozen")
        return True

    def _head_outputs(self, weights: ModuleType, analysis: Any) -> int:
        """The head's current number of outputs (10 when there is no head)."""
        from netbuilder.core.errors import NetBuilderError

        try:
            _level, head = weights.head_node(self.document.graph, analysis)
        except NetBuilderError:
            return 10
        names = [n for n in ("out_features", "out_channels") if n in head.resolved]
        return int(head.resolved[names[0]]) if names else 10

    # -- Python source ---------------------------------------------------------------------------
    def export_source(self) -> Path | None:
        """Ask for a file name and write the network as standalone PyTorch source."""
        name = self.window.files.document_name()
        start = (self.document.path or Path.home() / name).with_suffix(".py")
        path, _ = QFileDialog.getSaveFileName(self.window, "Export Python Source",
                                              str(start), PYTHON_FILTER)
        if not path:
            return None
        target = Path(path) if Path(path).suffix else Path(path).with_suffix(".py")
        return target if self.export_source_to(target) else None

    def export_source_to(self, path: Path, class_name: str | None = None) -> bool:
        """Write the network's Python source to ``path``; report failures."""
        from netbuilder.compiler.source import class_name_for

        name = class_name or class_name_for(self.window.files.document_name())
        document = self.document
        if not confirm_paths(self.window, document, "Export", trusted=self.trusted_folders()):
            return False
        graph = anchored_graph(document.graph, project_folder(document))
        analysis = document.analysis

        def write() -> Path:
            from netbuilder.compiler.source import quiet_meta_checkpoints, to_source

            with quiet_meta_checkpoints():
                text = to_source(graph, name, analysis=analysis)
            return write_output(path, lambda staged: staged.write_text(text, encoding="utf-8"))

        written = self._background(f"Writing {path.name}…", write,
                                   "Cannot export the Python source")
        if written is None:
            return False
        self.window.show_message(f"Exported class {name} to {written}")
        return True

    # -- deployment formats and jobs ----------------------------------------------------------
    def export_network(self) -> Path | None:
        """Ask for a format and a name, then write the network in that format."""
        name = self.window.files.document_name()
        start = self.document.path.parent / name if self.document.path else Path.home() / name
        path, chosen = QFileDialog.getSaveFileName(self.window, "Export Network", str(start),
                                                   ";;".join(EXPORT_FILTERS))
        if not path:
            return None
        export_format, suffix = EXPORT_FILTERS.get(chosen, ("onnx", ".onnx"))
        target = Path(path)
        if suffix and target.suffix.lower() != suffix:
            target = target.with_suffix(suffix)
        return target if self.export_network_to(target, export_format) else None

    def export_network_to(self, path: Path, export_format: str, *, force: bool = False) -> bool:
        """Write the network to ``path`` as ``onnx``, ``pt2``, ``py`` or ``job``; report it."""
        if export_format == "py":
            return self.export_source_to(path)
        document = self.document
        if not confirm_paths(self.window, document, "Export", trusted=self.trusted_folders()):
            return False
        graph = anchored_graph(document.graph, project_folder(document))
        copy = Document(graph, training=document.training, meta=dict(document.meta))
        title = self.window.files.document_name()

        def write() -> tuple[Path, float | None]:
            from netbuilder.export_cli import write_format

            return write_format(copy, title, path, export_format, force=force)

        done = self._background(f"Writing {path.name}…", write, "Cannot export the network")
        if done is None:
            return False
        written, difference = done
        check = f" (max |Δ| vs the network {difference:.1e})" if difference is not None else ""
        self.window.show_message(f"Exported {written}{check}", 12000)
        return True

    def open_run(self) -> bool:
        """Ask for a job folder and open its run (curves, weights, results)."""
        folder = QFileDialog.getExistingDirectory(self.window, "Open Run", str(Path.home()))
        return bool(folder) and self.open_run_folder(Path(folder))

    def open_run_folder(self, folder: Path) -> bool:
        """Open the run in ``folder`` (see :func:`netbuilder.ui.run_import.open_run`)."""
        from netbuilder.ui.run_import import open_run

        return open_run(self.window, folder) is not None
