"""The Import PyTorch Model dialog, and the list of what could not be imported.

:class:`ImportDialog` asks for a ``package.module:factory`` (with torchvision presets),
an input shape and optional keyword arguments, then imports the model on a worker thread
(:class:`~netbuilder.ui.busy.BackgroundJob`, polled by a timer) while a busy bar runs.
Cancel closes the dialog at any time. Success emits :attr:`ImportDialog.imported` and
closes; a refusal opens :class:`ImportFailureDialog`, which lists every part of the model
that has no block (name, kind, reason) and leaves the import dialog open for another try.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from netbuilder.compiler.import_job import (
    ImportedModel,
    ImportRequest,
    import_to_file,
    parse_request,
)
from netbuilder.ui.busy import POLL_MS, BackgroundJob

DEFAULT_SHAPE = "3,224,224"


@dataclass(frozen=True)
class ImportPreset:
    """A ready-made choice of the preset box.

    Attributes:
        label: What the box shows.
        factory: ``package.module:factory``.
        shape: Input shape text.
        kwargs: Keyword arguments text.
    """

    label: str
    factory: str
    shape: str = DEFAULT_SHAPE
    kwargs: str = ""


PRESETS: tuple[ImportPreset, ...] = (
    ImportPreset("torchvision ResNet-18", "torchvision.models:resnet18"),
    ImportPreset("torchvision AlexNet", "torchvision.models:alexnet"),
    ImportPreset("torchvision VGG-11", "torchvision.models:vgg11"),
    ImportPreset("torchvision GoogLeNet", "torchvision.models:googlenet",
                 kwargs="aux_logits=False, init_weights=False"),
    ImportPreset("torchvision DenseNet-121", "torchvision.models:densenet121"),
)
CUSTOM = "Other model (type its factory below)"
HINT = ("Nothing was imported: no block reproduces the parts below. Rewrite them in the "
        "model's code with supported layers and operations, or leave them out (for example "
        "auxiliary heads, with the factory's keyword arguments), then import again.")


def _name(widget: QWidget, object_name: str, accessible: str, tip: str) -> None:
    widget.setObjectName(object_name)
    widget.setAccessibleName(accessible)
    widget.setToolTip(tip)


class ImportFailureDialog(QDialog):
    """Why a model was not imported: a message and every unmapped part."""

    def __init__(self, message: str, items: Sequence[Any] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _name(self, "importFailureDialog", "Cannot import the model",
              "What in the model has no NetBuilder block")
        self.setWindowTitle("Cannot Import the Model")
        self.message = QLabel(message, self)
        _name(self.message, "importFailureMessage", "Reason", message)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.message.font()
        font.setBold(True)
        self.message.setFont(font)
        hint = QLabel(HINT if items else "Nothing was imported.", self)
        _name(hint, "importFailureHint", "What to do", "How to get past these parts")
        hint.setWordWrap(True)
        self.table = self._make_table(items)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        _name(buttons, "importFailureButtons", "Close", "Close this list")
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(hint)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(760, 360 if items else 160)

    def _make_table(self, items: Sequence[Any]) -> QTreeWidget:
        table = QTreeWidget(self)
        _name(table, "unmappedList", "Parts that cannot be imported",
              "Each part of the model that no block reproduces: where it is, what it is, why")
        table.setHeaderLabels(["Name", "Kind", "Reason"])
        table.setRootIsDecorated(False)
        table.setAlternatingRowColors(True)
        for item in items:
            row = QTreeWidgetItem([str(item.name), str(item.kind), str(item.reason)])
            row.setToolTip(2, str(item.reason))
            table.addTopLevelItem(row)
        header = table.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        table.setVisible(bool(items))
        return table

    def rows(self) -> list[tuple[str, str, str]]:
        """The listed parts as ``(name, kind, reason)``."""
        table = self.table
        return [tuple(table.topLevelItem(k).text(c) for c in range(3))  # type: ignore[misc]
                for k in range(table.topLevelItemCount())]


class ImportDialog(QDialog):
    """Asks for a model factory, imports it off the GUI thread, reports the outcome.

    Signals:
        imported(ImportedModel): The model was imported (the dialog then closes).

    Args:
        weights_dir: Folder the imported weights are written to.
        parent: The window.
    """

    imported = Signal(object)

    def __init__(self, weights_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _name(self, "importDialog", "Import PyTorch model",
              "Trace a PyTorch model and open it as an editable network")
        self.setWindowTitle("Import PyTorch Model")
        self.weights_dir = weights_dir
        self.job: BackgroundJob[ImportedModel | None] | None = None
        self.failure: ImportFailureDialog | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._make_fields()
        self._make_layout()
        self._preset_chosen(self.preset.currentIndex())
        self.resize(560, 0)

    # -- construction -------------------------------------------------------------------
    def _make_fields(self) -> None:
        self.preset = QComboBox(self)
        _name(self.preset, "importPreset", "Preset", "Fill the fields with a torchvision model")
        self.preset.addItems([p.label for p in PRESETS] + [CUSTOM])
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.factory = self._edit("importFactory", "Factory", "torchvision.models:resnet18",
                                  "The function or class that makes the model: "
                                  "package.module:factory")
        self.factory.textEdited.connect(self._factory_edited)
        self.shape = self._edit("importInputShape", "Input shape", "C,H,W",
                                "One sample's shape without the batch, e.g. 3,224,224")
        self.kwargs = self._edit("importKeywords", "Keyword arguments",
                                 "e.g. num_classes=10", "Arguments for the factory as "
                                 "name=value pairs (Python literals); may stay empty")
        self.progress = QProgressBar(self)
        _name(self.progress, "importProgress", "Importing", "The model is being imported")
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel(self)
        _name(self.status, "importStatus", "Status", "What the import is doing, or what is "
                                                      "wrong with the fields")
        self.status.setWordWrap(True)

    def _edit(self, object_name: str, accessible: str, placeholder: str,
              tip: str) -> QLineEdit:
        edit = QLineEdit(self)
        _name(edit, object_name, accessible, tip)
        edit.setPlaceholderText(placeholder)
        edit.setClearButtonEnabled(True)
        edit.returnPressed.connect(self.start_import)
        return edit

    def _make_layout(self) -> None:
        intro = QLabel("NetBuilder traces the model with torch.fx, turns every layer into a "
                       "block (modules become groups) and opens it with its weights.", self)
        _name(intro, "importIntro", "About importing", "What importing does")
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("&Preset:", self.preset)
        form.addRow("&Factory:", self.factory)
        form.addRow("&Input shape:", self.shape)
        form.addRow("&Keyword arguments:", self.kwargs)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        _name(self.buttons, "importButtons", "Import or cancel",
              "Import the model, or close this dialog")
        self.import_button = QPushButton("&Import", self)
        _name(self.import_button, "importButton", "Import", "Import the model (Return)")
        self.import_button.setDefault(True)
        self.buttons.addButton(self.import_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.import_button.clicked.connect(self.start_import)
        self.buttons.rejected.connect(self.reject)
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        _name(cancel, "importCancel", "Cancel", "Close the dialog (a running import is "
                                                "abandoned)")
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    # -- fields ----------------------------------------------------------------------------
    def _preset_chosen(self, index: int) -> None:
        if 0 <= index < len(PRESETS):
            preset = PRESETS[index]
            self.factory.setText(preset.factory)
            self.shape.setText(preset.shape)
            self.kwargs.setText(preset.kwargs)
        self.status.clear()

    def _factory_edited(self, text: str) -> None:
        matches = [k for k, p in enumerate(PRESETS) if p.factory == text.strip()]
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(matches[0] if matches else len(PRESETS))
        self.preset.blockSignals(False)

    def fill(self, factory: str, shape: str = DEFAULT_SHAPE, kwargs: str = "") -> None:
        """Set the three fields (the preset box follows the factory)."""
        self.factory.setText(factory)
        self._factory_edited(factory)
        self.shape.setText(shape)
        self.kwargs.setText(kwargs)

    def request(self) -> ImportRequest:
        """What the fields ask for.

        Raises:
            ValueError: naming the field at fault.
        """
        return parse_request(self.factory.text(), self.shape.text(), self.kwargs.text())

    # -- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether an import is in progress."""
        return self.job is not None

    def start_import(self) -> bool:
        """Check the fields and start the import; return whether it started."""
        if self.running:
            return False
        try:
            request = self.request()
        except ValueError as error:
            self._say(str(error), error=True)
            return False
        folder = self.weights_dir
        self.job = BackgroundJob(lambda cancelled: import_to_file(request, folder, cancelled),
                                 name="netbuilder-import")
        self._set_running(True)
        self._say(f"Importing {request.label}: tracing, mapping every layer, checking that "
                  "the graph computes what the model computes…")
        self.job.start()
        self._timer.start()
        return True

    def _set_running(self, running: bool) -> None:
        for widget in (self.preset, self.factory, self.shape, self.kwargs,
                       self.import_button):
            widget.setEnabled(not running)
        self.progress.setVisible(running)
        if running:
            self.setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.unsetCursor()

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c62828;" if error else "")

    def _poll(self) -> None:
        job = self.job
        if job is None or not job.done:
            return
        self._timer.stop()
        self.job = None
        self._set_running(False)
        self._finish(job)

    def _finish(self, job: BackgroundJob[ImportedModel | None]) -> None:
        from netbuilder.compiler.importer import ModelImportError

        try:
            outcome = job.result()
        except ModelImportError as error:
            self.show_failure(_headline(error), error.unmapped)
            return
        except Exception as error:  # the user's model code may raise anything: report it
            self.show_failure(f"{type(error).__name__}: {error}".splitlines()[0])
            return
        if outcome is None:
            return
        self._say("")
        self.imported.emit(outcome)
        self.accept()

    def show_failure(self, message: str, items: Sequence[Any] = ()) -> ImportFailureDialog:
        """Open the list of what could not be imported; the dialog stays for another try."""
        self._say(message, error=True)
        if self.failure is not None:
            self.failure.close()
        self.failure = ImportFailureDialog(message, items, self)
        self.failure.open()
        return self.failure

    def reject(self) -> None:
        """Close; a running import is abandoned (its result and weights are dropped)."""
        self._timer.stop()
        self._abandon()
        super().reject()

    def _abandon(self) -> None:
        """Drop the running import; delete its weights file if it already wrote one."""
        job, self.job = self.job, None
        if job is None:
            return
        if not job.done:
            job.cancel()  # the work deletes its file when it sees the flag
            return
        try:
            outcome = job.result()
        except Exception:  # a failed import wrote nothing
            return
        if outcome is not None:
            outcome.weights_file.unlink(missing_ok=True)


def _headline(error: Exception) -> str:
    """The first line of an import error, without the list that follows it."""
    lines = str(error).splitlines() or ["the model cannot be imported"]
    return lines[0].rstrip(":")
