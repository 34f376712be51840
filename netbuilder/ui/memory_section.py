"""The inspector's Memory section: what a node (or the network) costs in a training step.

The fields choose the batch size, the precision and the optimiser (a batch of 0 cannot
be typed: the field starts at 1), and a memory budget in GB (never negative) for which
the largest batch that fits is shown. Below them, the selected node's weights, gradients,
optimiser state and saved activations with their arithmetic, and the network's peaks.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from netbuilder.core.analysis import Analysis
from netbuilder.core.graph import Graph
from netbuilder.core.memory import (
    MemoryPlan,
    MemorySettings,
    format_bytes,
    largest_batch,
    plan_memory,
)

OPTIMIZERS = (("Adam / AdamW", "adam"), ("SGD with momentum", "momentum"), ("SGD", "sgd"))
PRECISIONS = (("32-bit float", "fp32"), ("bf16 mixed", "bf16"), ("fp16 mixed", "fp16"))
MAX_BATCH = 1_000_000


def status_text(plan: MemoryPlan) -> str:
    """``training at batch 32: 1.93 GB`` (the status bar's memory figure)."""
    text = f"training at batch {plan.settings.batch}: {format_bytes(plan.training_peak)}"
    return text + " (partial)" if plan.uncosted else text


class MemorySection(QWidget):
    """Memory settings and the costs they give.

    Signals:
        settingsChanged(): the batch, precision, optimiser or budget changed.
    """

    settingsChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("memorySection")
        self.setAccessibleName("Memory")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        self.batch = QSpinBox(self)
        self.batch.setObjectName("memoryBatch")
        self.batch.setRange(1, MAX_BATCH)  # a batch of 0 is refused at the field
        self.batch.setValue(32)
        self.batch.setToolTip("Samples per training step (at least 1)")
        self.optimizer = self._combo("memoryOptimizer", OPTIMIZERS)
        self.precision = self._combo("memoryPrecision", PRECISIONS)
        self.budget = QDoubleSpinBox(self)
        self.budget.setObjectName("memoryBudget")
        self.budget.setRange(0.0, 100_000.0)  # a negative budget is refused at the field
        self.budget.setDecimals(1)
        self.budget.setSuffix(" GB")
        self.budget.setValue(8.0)
        self.budget.setToolTip("GPU memory to fit the training step in")
        for text, field in (("Batch", self.batch), ("Optimiser", self.optimizer),
                            ("Precision", self.precision), ("Budget", self.budget)):
            form.addRow(text, field)
        layout.addLayout(form)
        self.totals = QLabel(self)
        self.totals.setObjectName("memoryTotals")
        self.totals.setWordWrap(True)
        layout.addWidget(self.totals)
        self.formulas = QPlainTextEdit(self)
        self.formulas.setObjectName("memoryFormulas")
        self.formulas.setReadOnly(True)
        self.formulas.setFixedHeight(110)
        layout.addWidget(self.formulas)
        for changed in (self.batch.valueChanged, self.budget.valueChanged,
                        self.optimizer.currentIndexChanged,
                        self.precision.currentIndexChanged):
            changed.connect(self._changed)
        self.plan: MemoryPlan | None = None

    def _changed(self, *_: object) -> None:
        self.settingsChanged.emit()

    def _combo(self, name: str, items: tuple[tuple[str, str], ...]) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        for text, key in items:
            combo.addItem(text, key)
        return combo

    @property
    def settings(self) -> MemorySettings:
        """The settings the fields show."""
        return MemorySettings(batch=self.batch.value(),
                              precision=str(self.precision.currentData()),
                              optimizer=str(self.optimizer.currentData()))

    def show_node(self, graph: Graph, analysis: Analysis, node_id: str | None) -> None:
        """Show the plan's figures for ``node_id`` (None: the whole network)."""
        plan = plan_memory(graph, analysis, self.settings)
        self.plan = plan
        training = status_text(plan)
        lines = [training[0].upper() + training[1:],
                 f"inference: {format_bytes(plan.inference_peak)}"]
        fits = largest_batch(graph, analysis, self.budget.value() * 1e9, self.settings)
        lines.append(f"largest batch that fits in {self.budget.value():g} GB: {fits}"
                     if fits else f"not even a batch of 1 fits in {self.budget.value():g} GB")
        if plan.uncosted:
            names = ", ".join(graph.find(n)[1].name for n in plan.uncosted[:6])
            lines.append(f"not costed (no shapes): {names}")
        memory = plan.nodes.get(node_id) if node_id else None
        if memory is not None:
            lines.insert(0, f"<b>This node</b>: saved {format_bytes(memory.saved)}, weights "
                            f"+ gradients + optimiser "
                            f"{format_bytes(memory.weights + memory.gradients + memory.optimizer)}")
        self.totals.setText("<br>".join(line if line.startswith("<b>") else escape(line)
                                        for line in lines))
        formulas = memory.formulas if memory is not None else plan.formulas()
        self.formulas.setPlainText("\n".join(formulas))
