"""Dialogs: choose a template (with thumbnails and parameter counts), list the errors.

The template dialog lists :mod:`netbuilder.templates` when that package is importable,
else the example projects bundled in ``resources/examples``, as cards in a grid that fills
the dialog (:mod:`netbuilder.ui.template_cards`): a thumbnail of the network's structure
(:mod:`netbuilder.ui.thumbnails`), its full name and its parameter count. Thumbnails and
parameter counts are computed a few at a time on a zero-delay timer, so the dialog opens
at once even for ResNet-152.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from netbuilder.core import layout, serialize
from netbuilder.core.analysis import ERROR, Analysis, Issue
from netbuilder.core.document import Document
from netbuilder.core.errors import ProjectFileError
from netbuilder.core.graph import Graph
from netbuilder.ui.numbers import compact, grouped
from netbuilder.ui.template_cards import ROLE_FACTS, ROLE_TITLE, THUMB, TemplateGrid
from netbuilder.ui.thumbnails import network_profile, render_profile

ROLE_INDEX = Qt.ItemDataRole.UserRole + 1


@dataclass
class TemplateEntry:
    """One choice of the template dialog.

    Attributes:
        name: Template name or example file stem.
        title: Display name.
        description: One or two sentences.
        build: Makes a fresh graph.
        training: Suggested training settings, copied into the new document.
        document: The document once built (shared by the thumbnail and the opening).
    """

    name: str
    title: str
    description: str
    build: Callable[[], Graph]
    training: dict[str, Any] = field(default_factory=dict)
    document: Document | None = None

    def document_now(self) -> Document:
        """The built, laid-out, unsaved document, building it on first use."""
        if self.document is None:
            graph = self.build()
            if layout.needs_layout(graph):
                layout.apply_layout(graph)
            meta = {"title": self.title, "template": self.name}
            self.document = Document(graph, training=dict(self.training), meta=meta)
        return self.document

    def take_document(self) -> Document:
        """The document to open; the entry builds a new one if asked again."""
        document, self.document = self.document_now(), None
        return document

    @property
    def params(self) -> int | None:
        """Parameter count, once built."""
        return self.document.analysis.total_params if self.document is not None else None

    @property
    def macs(self) -> int | None:
        """Multiply-adds per sample, once built."""
        return self.document.analysis.total_macs if self.document is not None else None


def template_entries() -> list[TemplateEntry]:
    """The templates of :mod:`netbuilder.templates`, else the bundled examples."""
    from netbuilder import templates

    infos = templates.list_templates()
    if not infos:
        return example_entries()
    return [TemplateEntry(info.name, info.title, info.description,
                          _builder(templates, info.name), dict(getattr(info, "training", {})))
            for info in infos]


def _builder(module: Any, name: str) -> Callable[[], Graph]:
    return lambda: module.build_template(name)


def examples_dir() -> Path:
    """``resources/examples``."""
    from netbuilder.resources import resources_dir

    return resources_dir() / "examples"


def example_entries(folder: Path | None = None) -> list[TemplateEntry]:
    """One entry per ``*.nbproj`` file of the examples folder."""
    entries = []
    for path in sorted((folder or examples_dir()).glob("*.nbproj")):
        try:
            project = serialize.load(path)
        except (ProjectFileError, OSError):
            continue
        meta = project.meta
        entries.append(TemplateEntry(
            path.stem, str(meta.get("title", path.stem)), str(meta.get("description", "")),
            _loader(path), dict(project.training)))
    return entries


def _loader(path: Path) -> Callable[[], Graph]:
    return lambda: serialize.load(path).graph


def render_thumbnail(document: Document, size: QSize = THUMB) -> QPixmap:
    """The structure of ``document``'s network as a row of bars (see :mod:`thumbnails`)."""
    return render_profile(network_profile(document.graph, document.analysis), size)


def card_facts(document: Document) -> str:
    """The line under a card's title: ``138.4 M params · 15.5 G MACs``."""
    analysis = document.analysis
    return f"{compact(analysis.total_params)} params · {compact(analysis.total_macs)} MACs"


class TemplateDialog(QDialog):
    """Choose a classic architecture to start from."""

    def __init__(self, entries: Sequence[TemplateEntry] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templateDialog")
        self.setAccessibleName("Open template")
        self.setWindowTitle("Open Template")
        self.entries = list(entries) if entries is not None else template_entries()
        self.list = self._make_list()
        self.details = QLabel()
        self.details.setObjectName("templateDetails")
        self.details.setAccessibleName("Template details")
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.details.setMinimumWidth(240)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.buttons = self._make_buttons()
        body = QHBoxLayout()
        body.addWidget(self.list, 3)
        body.addWidget(self.details, 1)
        layout_ = QVBoxLayout(self)
        layout_.addLayout(body)
        layout_.addWidget(self.buttons)
        self.resize(1040, 660)
        self._pending = list(range(len(self.entries)))
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._compute_next)
        self._timer.start()
        if self.entries:
            self.list.setCurrentRow(0)

    def _make_list(self) -> QListWidget:
        view = TemplateGrid(self)
        view.setObjectName("templateList")
        view.setAccessibleName("Templates")
        view.setToolTip("Double-click a template to open it")
        view.setStatusTip("Choose an architecture to start from")
        for index, entry in enumerate(self.entries):
            item = QListWidgetItem(QIcon(render_placeholder()), entry.title)
            item.setData(ROLE_INDEX, index)
            item.setData(ROLE_TITLE, entry.title)
            item.setData(ROLE_FACTS, "computing…")
            item.setToolTip(entry.description)
            item.setStatusTip(entry.description)
            view.addItem(item)
        view.currentRowChanged.connect(self._show_details)
        view.itemActivated.connect(lambda _item: self.accept())
        return view

    def _make_buttons(self) -> QDialogButtonBox:
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.setObjectName("templateButtons")
        buttons.setAccessibleName("Dialog buttons")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        return buttons

    def _compute_next(self) -> None:
        """Build, analyse and draw one template per timer tick."""
        if not self._pending:
            self._timer.stop()
            return
        index = self._pending.pop(0)
        self.compute(index)

    def compute(self, index: int) -> None:
        """Fill in the parameter count and thumbnail of entry ``index``."""
        entry = self.entries[index]
        try:
            document = entry.document_now()
        except Exception as error:  # a broken template must not break the dialog
            entry.description += f" (cannot be built: {error})"
            return
        item = self.list.item(index)
        item.setIcon(QIcon(render_thumbnail(document)))
        facts = card_facts(document)
        item.setData(ROLE_FACTS, facts)
        item.setText(f"{entry.title}\n{facts}")
        if self.list.currentRow() == index:
            self._show_details(index)

    def _show_details(self, index: int) -> None:
        if not 0 <= index < len(self.entries):
            self.details.setText("")
            return
        entry = self.entries[index]
        facts = "computing…" if entry.params is None else (
            f"{grouped(entry.params)} parameters<br>{compact(entry.macs or 0)} mult-adds "
            "per sample")
        self.details.setText(f"<h3>{escape(entry.title)}</h3><p>{_prose(entry.description)}"
                             f"</p><p style='color: gray'>{facts}</p>")

    def chosen(self) -> TemplateEntry | None:
        """The entry selected when the dialog was accepted."""
        row = self.list.currentRow()
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def wait_until_computed(self) -> None:
        """Compute every remaining entry now (for tests and screenshots)."""
        while self._pending:
            self._compute_next()


def _prose(text: str) -> str:
    """A docstring sentence as HTML, its reStructuredText code (in double backquotes)
    set as code."""
    parts = escape(text).split("``")
    return "".join(f"<code>{part}</code>" if k % 2 else part for k, part in enumerate(parts))


def render_placeholder() -> QPixmap:
    """A blank thumbnail shown while the real one is computed."""
    pixmap = QPixmap(THUMB)
    pixmap.fill(QColor(128, 128, 128, 24))  # a faint tile: the card keeps its shape
    return pixmap


class ErrorListDialog(QDialog):
    """Every error and warning of the graph; choosing one selects its node.

    Signals:
        nodeChosen(str): the user chose an issue attached to this node.
    """

    nodeChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorListDialog")
        self.setAccessibleName("Errors and warnings")
        self.setWindowTitle("Errors and Warnings")
        self.list = QListWidget(self)
        self.list.setObjectName("errorList")
        self.list.setAccessibleName("Errors and warnings")
        self.list.setToolTip("Choose an error to select the node that causes it")
        self.list.setStatusTip("Choose an error to select the node that causes it")
        self.list.setWordWrap(True)
        self.list.currentItemChanged.connect(self._chosen)
        self.list.itemActivated.connect(self._chosen)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.setObjectName("errorListButtons")
        buttons.setAccessibleName("Dialog buttons")
        buttons.rejected.connect(self.close)
        layout_ = QVBoxLayout(self)
        layout_.addWidget(self.list)
        layout_.addWidget(buttons)
        self.resize(560, 320)

    def set_issues(self, analysis: Analysis, graph: Graph) -> None:
        """Show the issues of ``analysis``."""
        self.list.blockSignals(True)
        self.list.clear()
        for issue in analysis.issues:
            self.list.addItem(self._item(issue, graph))
        if not analysis.issues:
            item = QListWidgetItem("No errors or warnings: the network can be compiled.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(item)
        self.list.blockSignals(False)

    def _item(self, issue: Issue, graph: Graph) -> QListWidgetItem:
        color = QColor("#d64545" if issue.severity == ERROR else "#c98a12")
        item = QListWidgetItem(_dot(color), issue.message)
        item.setData(Qt.ItemDataRole.UserRole, issue.node)
        where = " › ".join(_path_of(graph, issue.node)) if issue.node else "the graph"
        item.setToolTip(f"{issue.severity.capitalize()} in {where}")
        return item

    def _chosen(self, item: QListWidgetItem | None, *_args: object) -> None:
        node = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if node:
            self.nodeChosen.emit(node)


def _dot(color: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawEllipse(2, 2, 8, 8)
    painter.end()
    return QIcon(pixmap)


def _path_of(graph: Graph, node_id: str) -> list[str]:
    """Names from the root to the node (``block1 › conv2``)."""
    try:
        level, node = graph.find(node_id)
    except Exception:
        return [node_id]
    return [*level.path(), node.name]
