"""The inspector: edit the selected node, see the arithmetic behind its numbers.

For one selected node it shows the name (renaming pushes a ``Rename`` command), the block
type, one editor per parameter (picked by :func:`~netbuilder.ui.param_editors.make_editor`),
training options (frozen, weight initialisation), and the node's analysis: input and
output shapes, parameters, multiply-adds, receptive field, the formulas with the numbers
filled in, and its issues. With nothing selected it summarises the whole graph.

Every edit goes through ``document.push``; a value the model refuses is shown in red under
its editor and the model is left as it was. The panel mirrors the model's events, so undo,
redo and edits made elsewhere show up at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from netbuilder.blocks.opaque import OPAQUE
from netbuilder.core import commands
from netbuilder.core.analysis import ERROR, Analysis, NodeInfo, format_shape
from netbuilder.core.document import Document
from netbuilder.core.errors import GraphError, UnknownNodeError
from netbuilder.core.events import Event
from netbuilder.core.graph import Graph, Node
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT, INPUT, OUTPUT
from netbuilder.ui.memory_section import MemorySection
from netbuilder.ui.numbers import compact, grouped, megabytes
from netbuilder.ui.param_editors import ParamEditor, make_editor
from netbuilder.ui.status import PARTIAL, is_partial

INIT_SCHEMES = (
    ("default", "PyTorch default"),
    ("kaiming", "Kaiming normal (He)"),
    ("xavier", "Xavier uniform (Glorot)"),
    ("normal", "Normal N(0, σ)"),
)
_NO_TRAINING = (INPUT, OUTPUT, GROUP_INPUT, GROUP_OUTPUT)


def _named(widget: QWidget, name: str, accessible: str, tip: str = "") -> QWidget:
    widget.setObjectName(name)
    widget.setAccessibleName(accessible)
    if tip:
        widget.setToolTip(tip)
        widget.setStatusTip(tip)
    return widget


def _label(text: str = "", role: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if role:
        label.setProperty("role", role)
    if name:
        _named(label, name, name)
    return label


def _heading(text: str) -> QLabel:
    label = _label(text, "heading", f"heading_{text.lower().replace(' ', '_')}")
    label.setAccessibleName(text)
    return label


LABEL_WIDTH = 96


def _stacked(*widgets: QWidget) -> QWidget:
    """Widgets one above the other (a field and the error shown under it)."""
    box = QWidget()
    box.setObjectName("fieldBox")
    box.setAccessibleName(widgets[0].accessibleName())
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def _row(form: QFormLayout, text: str, field: QWidget) -> None:
    """Add a row whose label column has the same width in every section."""
    label = QLabel(text)
    label.setMinimumWidth(LABEL_WIDTH)
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    label.setObjectName(f"label_{text or 'blank'}")
    label.setAccessibleName(text or "blank")
    label.setBuddy(field)
    form.addRow(label, field)


def _form() -> QFormLayout:
    form = QFormLayout()
    form.setContentsMargins(0, 0, 0, 0)
    form.setHorizontalSpacing(10)
    form.setVerticalSpacing(5)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return form


class ParamRow:
    """An editor and its inline error label."""

    def __init__(self, editor: ParamEditor, error: QLabel) -> None:
        self.editor, self.error = editor, error

    def show_error(self, message: str) -> None:
        """Show ``message`` in red under the editor."""
        self.error.setText(message)
        self.error.setVisible(bool(message))


class InspectorPanel(QScrollArea):
    """The side panel that edits the selection.

    Signals:
        openGroupRequested(str): the user asked to open a group node in the canvas.
        statusMessage(str): a short message for the status bar.
    """

    openGroupRequested = Signal(str)
    statusMessage = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _named(self, "inspector", "Inspector")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.document = document
        self.node_id: str | None = None
        self.selection: list[str] = []
        self.rows: dict[str, ParamRow] = {}
        self._stack = QStackedWidget()
        _named(self._stack, "inspectorPages", "Inspector pages")
        self.summary = _label(name="graphSummary")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self._stack.addWidget(self._summary_page())
        self._stack.addWidget(self._node_page())
        self.setWidget(self._stack)
        document.graph.events.connect(self._on_events)
        self.show_nodes([])

    # -- pages -----------------------------------------------------------------------
    def _summary_page(self) -> QWidget:
        page = QWidget()
        _named(page, "summaryPage", "Network summary")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        return page

    def _node_page(self) -> QWidget:
        page = QWidget()
        _named(page, "nodePage", "Selected node")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        layout.addLayout(self._header())
        self.params_heading = _heading("Parameters")
        layout.addWidget(self.params_heading)
        self.params_host = QWidget()
        _named(self.params_host, "paramsHost", "Parameters")
        self.params_form = _form()
        self.params_host.setLayout(self.params_form)
        layout.addWidget(self.params_host)
        self.training_box = self._training_box()
        layout.addWidget(self.training_box)
        layout.addWidget(_heading("Analysis"))
        layout.addLayout(self._analysis_form())
        layout.addWidget(self._formulas_box())
        layout.addWidget(_heading("Memory"))
        self.memory = MemorySection()
        self.memory.settingsChanged.connect(self.refresh)
        layout.addWidget(self.memory)
        self.issues = _label(name="nodeIssues")
        self.issues.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.issues)
        layout.addStretch(1)
        return page

    def _header(self) -> QFormLayout:
        form = _form()
        self.name_edit = QLineEdit()
        _named(self.name_edit, "nodeName", "Node name",
               "The node's name, also its PyTorch module name (Enter renames)")
        self.name_edit.editingFinished.connect(self._rename)
        self.name_edit.textEdited.connect(self._check_name)
        self.name_error = _label(role="error", name="nodeNameError")
        self.name_error.hide()
        self.type_label = _label(name="nodeType")
        self.type_label.setToolTip("The block type of this node")
        self.open_group = QPushButton("Open Group")
        _named(self.open_group, "openGroupButton", "Open group",
               "Show this group's body in the canvas")
        self.open_group.clicked.connect(lambda: self.openGroupRequested.emit(self.node_id))
        _row(form, "Name", _stacked(self.name_edit, self.name_error))
        _row(form, "Type", _stacked(self.type_label, self.open_group))
        return form

    def _training_box(self) -> QWidget:
        box = QWidget()
        _named(box, "trainingOptions", "Training options")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_heading("Training"))
        form = _form()
        self.frozen = QCheckBox("Frozen (not trained)")
        _named(self.frozen, "nodeFrozen", "Frozen",
               "Keep this node's weights fixed during training (transfer learning)")
        self.frozen.toggled.connect(self._set_frozen)
        self.init_combo = QComboBox()
        _named(self.init_combo, "nodeInit", "Weight initialisation",
               "How this node's weights are initialised before training")
        for key, text in INIT_SCHEMES:
            self.init_combo.addItem(text, key)
        self.init_combo.currentIndexChanged.connect(lambda _i: self._set_init())
        self.init_std = QDoubleSpinBox()
        _named(self.init_std, "nodeInitStd", "Initialisation standard deviation",
               "Standard deviation σ of the normal initialisation")
        self.init_std.setDecimals(4)
        self.init_std.setRange(0.0001, 10.0)
        self.init_std.setSingleStep(0.005)
        self.init_std.setValue(0.01)
        self.init_std.editingFinished.connect(self._set_init)
        _row(form, "", self.frozen)
        _row(form, "Init", self.init_combo)
        _row(form, "σ", self.init_std)
        self.training_fields = QWidget()
        _named(self.training_fields, "trainingFields", "Frozen and initialisation")
        self.training_fields.setLayout(form)
        self.no_weights = _label(name="nodeNoWeights")
        self.no_weights.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.no_weights)
        layout.addWidget(self.training_fields)
        return box

    def _analysis_form(self) -> QFormLayout:
        form = _form()
        self.facts: dict[str, QLabel] = {}
        for key, text, tip in (
                ("inputs", "Input", "Shape of each input (channels × height × width)"),
                ("output", "Output", "Shape of the output, per sample"),
                ("params", "Parameters", "Learnable parameters"),
                ("macs", "Mult-adds", "Multiply-accumulate operations per sample"),
                ("rf", "Receptive field", "Input pixels one output sees, and the stride "
                                          "between neighbouring outputs (jump)")):
            label = _label(name=f"fact_{key}")
            label.setToolTip(tip)
            self.facts[key] = label
            _row(form, text, label)
        return form

    def _formulas_box(self) -> QPlainTextEdit:
        self.formulas = QPlainTextEdit()
        _named(self.formulas, "nodeFormulas", "Formulas",
               "The arithmetic behind the shape, parameter count and cost")
        self.formulas.setReadOnly(True)
        self.formulas.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.formulas.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.formulas.setFrameShape(QFrame.Shape.StyledPanel)
        return self.formulas

    # -- model access ----------------------------------------------------------------------
    def set_document(self, document: Document) -> None:
        """Inspect another document (after New or Open)."""
        self.document.graph.events.disconnect(self._on_events)
        self.document = document
        document.graph.events.connect(self._on_events)
        self.show_nodes([])

    def _locate(self) -> tuple[Graph, Node] | None:
        if self.node_id is None:
            return None
        try:
            return self.document.graph.find(self.node_id)
        except UnknownNodeError:
            return None

    @property
    def analysis(self) -> Analysis:
        """The document's current analysis."""
        return self.document.analysis

    # -- selection ---------------------------------------------------------------------------
    def show_nodes(self, ids: Sequence[str]) -> None:
        """Inspect one node, or summarise a multiple (or empty) selection."""
        self.selection = list(ids)
        node_id = ids[0] if len(ids) == 1 else None
        if node_id != self.node_id or node_id is None:
            self.node_id = node_id
            self._build()
        self.refresh()

    def _build(self) -> None:
        found = self._locate()
        if found is None:
            self.node_id = None
            self._stack.setCurrentIndex(0)
            return
        graph, node = found
        self._build_params(graph, node)
        self._stack.setCurrentIndex(1)
        self.name_error.hide()

    def _build_params(self, graph: Graph, node: Node) -> None:
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self.rows = {}
        for spec in graph.spec(node).params:
            editor = make_editor(spec)
            error = _label(role="error", name=f"param_{spec.name}_error")
            error.hide()
            self.rows[spec.name] = ParamRow(editor, error)
            editor.edited.connect(self._param_slot(spec.name))
            editor.invalid.connect(self.rows[spec.name].show_error)
            self._seal_on_finish(editor)
            _row(self.params_form, spec.name, _stacked(editor, error))
        self.params_host.setVisible(bool(self.rows))
        self.params_heading.setVisible(bool(self.rows))

    def _param_slot(self, name: str) -> Callable[[Any], None]:
        return lambda value: self.set_param(name, value)

    def _seal_on_finish(self, editor: ParamEditor) -> None:
        finished = getattr(editor.field, "editingFinished", None)
        if finished is not None:
            finished.connect(lambda: self.document.history.seal())
        editor.left.connect(lambda e=editor: self._leave_editor(e))

    def editor(self, name: str) -> ParamEditor:
        """The editor of parameter ``name`` of the inspected node."""
        return self.rows[name].editor

    def focus_name(self) -> None:
        """Put the cursor in the name field with the name selected (Rename, F2)."""
        if self.node_id is None:
            return
        self.name_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.name_edit.selectAll()

    # -- edits -------------------------------------------------------------------------------
    def set_param(self, name: str, value: Any) -> bool:
        """Push a parameter edit; show the model's refusal inline. Return success."""
        found = self._locate()
        if found is None:
            return False
        graph, node = found
        try:
            unchanged = _same_value(graph, node, name, value)
            command = None if unchanged else commands.set_param(graph, node.id, name, value)
        except GraphError as error:
            self.rows[name].show_error(_strip_node(error.message, node.name))
            return False
        self.rows[name].show_error("")
        if command is not None:  # the value it already has is no undo step
            self.document.push(command)
        return True

    def _leave_editor(self, editor: ParamEditor) -> None:
        """The user left a field: seal the undo step and drop rejected text."""
        self.document.history.seal()
        row = self.rows.get(editor.spec.name)
        found = self._locate()
        if row is not None and found is not None and not row.error.isHidden():
            editor.set_value(found[1].resolved.get(editor.spec.name))
            row.show_error("")

    def _check_name(self, text: str) -> None:
        found = self._locate()
        if found is None:
            return
        try:
            found[0].check_name(text, found[1].id)
        except GraphError as error:
            self.name_error.setText(error.message)
            self.name_error.show()
        else:
            self.name_error.hide()

    def _rename(self) -> None:
        found = self._locate()
        if found is None:
            return
        graph, node = found
        text = self.name_edit.text().strip()
        if text == node.name:
            self.name_error.hide()
            return
        try:
            command = commands.Rename(graph, node.id, text)
        except GraphError as error:
            self.name_error.setText(error.message)
            self.name_error.show()
            self.name_edit.setText(node.name)
            return
        self.name_error.hide()
        self.document.push(command)

    def _set_attribute(self, attr: str, value: Any) -> None:
        found = self._locate()
        if found is None or getattr(found[1], attr) == value:
            return
        self.document.push(commands.SetAttribute(found[0], found[1].id, attr, value))

    def _set_frozen(self, frozen: bool) -> None:
        self._set_attribute("frozen", frozen)

    def _set_init(self) -> None:
        scheme = self.init_combo.currentData()
        self.init_std.setEnabled(scheme == "normal")
        value: dict[str, Any] | None = None
        if scheme == "normal":
            value = {"scheme": "normal", "std": round(self.init_std.value(), 6)}
        elif scheme != "default":
            value = {"scheme": scheme}
        self._set_attribute("init", value)

    # -- mirroring the model ---------------------------------------------------------------
    def _on_events(self, events: Sequence[Event]) -> None:
        if all(e.kind == "node_moved" for e in events):
            return
        if self.node_id is not None and self._locate() is None:
            self.show_nodes([])
            return
        self.refresh()

    def refresh(self) -> None:
        """Update every shown value from the model and its analysis."""
        found = self._locate()
        if found is None:
            self.summary.setText(self._summary_html())
            return
        graph, node = found
        self._refresh_header(graph, node)
        self._refresh_values(node)
        info = self.analysis.nodes.get(node.id)
        self._refresh_training(graph, node, info)
        self._refresh_analysis(info)
        self.memory.show_node(self.document.graph, self.analysis, node.id)

    def _refresh_header(self, graph: Graph, node: Node) -> None:
        if not self.name_edit.hasFocus():
            self.name_edit.setText(node.name)
        spec = graph.spec(node)
        text = f"{spec.title} <span style='color: gray'>({escape(spec.key)})</span>"
        if node.body is not None:
            count = sum(1 for n in node.body.nodes.values()
                        if n.type not in (GROUP_INPUT, GROUP_OUTPUT))
            text += f" · {count} node{'s' if count != 1 else ''} inside"
        if node.type == OPAQUE:  # say what the imported call is
            target = escape(str(node.params.get("target", "")).replace(":", "."))
            text += (f"<br><code>{target}</code>: an imported call no block reproduces, kept "
                     "as it is (shape from a meta-device run, MACs measured)")
        self.type_label.setText(text)
        self.type_label.setToolTip(spec.help or spec.title)
        self.open_group.setVisible(node.body is not None)

    def _refresh_values(self, node: Node) -> None:
        for name, row in self.rows.items():
            if name in node.resolved:
                row.editor.set_value(node.resolved[name])

    def _refresh_training(self, graph: Graph, node: Node, info: NodeInfo | None) -> None:
        self.training_box.setVisible(node.type not in _NO_TRAINING)
        # A block without weights has nothing to freeze or initialise; fields already set
        # (a file written by hand) stay shown, so that they can be cleared.
        editable = has_weights(node, info) or node.frozen or node.init is not None
        self.training_fields.setVisible(editable)
        self.no_weights.setVisible(not editable)
        self.no_weights.setText(f"<span style='color: gray'>{escape(graph.spec(node).title)} "
                                "has no weights: nothing to freeze or initialise.</span>")
        self.frozen.blockSignals(True)
        self.frozen.setChecked(node.frozen)
        self.frozen.blockSignals(False)
        init = node.init or {}
        scheme = init.get("scheme", "default")
        self.init_combo.blockSignals(True)
        self.init_combo.setCurrentIndex(max(0, self.init_combo.findData(scheme)))
        self.init_combo.blockSignals(False)
        if "std" in init:
            self.init_std.setValue(float(init["std"]))
        self.init_std.setEnabled(scheme == "normal")

    def _refresh_analysis(self, info: NodeInfo | None) -> None:
        info = info or NodeInfo(self.node_id or "")
        inputs = ", ".join(format_shape(s) for s in info.inputs) or "—"
        outputs = [f"{port}: {format_shape(s)}" if len(info.outputs) > 1 else format_shape(s)
                   for port, s in info.outputs.items()]
        self.facts["inputs"].setText(inputs)
        self.facts["output"].setText(", ".join(outputs) or "?")
        params = grouped(info.params)
        if info.buffers:
            params += f" (+ {grouped(info.buffers)} buffers)"
        self.facts["params"].setText(params)
        self.facts["macs"].setText(f"{compact(info.macs)} ({grouped(info.macs)})"
                                   if info.macs >= 1000 else grouped(info.macs))
        self.facts["rf"].setText(f"{info.rf} px, jump {info.jump}")
        self.formulas.setPlainText("\n".join(info.formulas))
        self.formulas.setVisible(bool(info.formulas))
        self._fit_formulas(len(info.formulas))
        self.issues.setText(_issues_html(info))
        self.issues.setVisible(bool(info.issues))

    def _fit_formulas(self, lines: int) -> None:
        metrics = self.formulas.fontMetrics()
        margins = self.formulas.contentsMargins()
        height = (max(lines, 1) * metrics.lineSpacing() + 2 * self.formulas.document()
                  .documentMargin() + margins.top() + margins.bottom() + 18)
        self.formulas.setFixedHeight(int(height))

    # -- summary -----------------------------------------------------------------------------
    def _summary_html(self) -> str:
        result = self.analysis
        if len(self.selection) > 1:
            return self._selection_html(result)
        graph = self.document.graph
        nodes = sum(1 for _ in graph.walk())
        mark = PARTIAL if is_partial(result) else ""
        rows = [("Nodes", grouped(nodes)), ("Parameters", grouped(result.total_params) + mark),
                ("Mult-adds", f"{compact(result.total_macs)} per sample{mark}"),
                ("Model size", megabytes(result.model_size_mb) + mark),
                ("Activations", f"{compact(result.total_activations)} values per sample{mark}")]
        html = "<h3 style='margin-bottom:4px'>Network</h3>" + _table(rows)
        html += _issue_list(result)
        html += ("<p style='color: gray'>Select a node to edit its parameters and see the "
                 "arithmetic behind its shape.</p>")
        return html

    def _selection_html(self, result: Analysis) -> str:
        infos = [result.nodes[i] for i in self.selection if i in result.nodes]
        rows = [("Parameters", grouped(sum(i.params for i in infos))),
                ("Mult-adds", compact(sum(i.macs for i in infos)))]
        return (f"<h3>{len(self.selection)} nodes selected</h3>" + _table(rows)
                + "<p style='color: gray'>Group them with Ctrl+G, or save them to the "
                  "palette as a user block.</p>")


def _same_value(graph: Graph, node: Node, name: str, value: Any) -> bool:
    """Whether ``value`` is what parameter ``name`` of ``node`` already is.

    Raises:
        GraphError: when the model refuses the value.
    """
    normalised = graph.spec(node).param(name).validate(value, node.name)
    return name in node.resolved and node.resolved[name] == normalised


def has_weights(node: Node, info: NodeInfo | None) -> bool:
    """Whether ``node`` may hold weights or statistics to freeze or initialise.

    The analysis knows for an analysed node (a ReLU has none, a convolution or a batch
    norm has some; a group has some when its body has); without a shape it cannot count
    them, and the node is assumed to have some.
    """
    if info is None or not info.outputs:
        return True
    return info.params + info.buffers > 0


def _strip_node(message: str, name: str) -> str:
    """``conv1: out_channels=0: must be…`` → ``out_channels=0: must be…``."""
    prefix = f"{name}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _table(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td style='padding-right:12px; color: gray'>{escape(k)}</td>"
                    f"<td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table cellspacing='2'>{cells}</table>"


def _issues_html(info: NodeInfo) -> str:
    items = []
    for issue in info.issues:
        color = "#d64545" if issue.severity == ERROR else "#c98a12"
        items.append(f"<div style='color:{color}'>● {escape(issue.message)}</div>")
    return "".join(items)


def _issue_list(result: Analysis, limit: int = 8) -> str:
    if not result.issues:
        return "<p style='color:#3f9a5a'>✓ No errors: the network can be compiled.</p>"
    errors, warnings = len(result.errors), len(result.warnings)
    head = (f"<p><b style='color:#d64545'>{errors} error{'s' if errors != 1 else ''}</b>"
            f", {warnings} warning{'s' if warnings != 1 else ''}</p>")
    lines = []
    for issue in result.issues[:limit]:
        color = "#d64545" if issue.severity == ERROR else "#c98a12"
        lines.append(f"<div style='color:{color}'>● {escape(issue.message)}</div>")
    more = len(result.issues) - limit
    tail = f"<div style='color: gray'>… and {more} more</div>" if more > 0 else ""
    return head + "".join(lines) + tail
