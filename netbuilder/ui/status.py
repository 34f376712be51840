"""The status bar's permanent summary: parameters, multiply-adds, model size, errors."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from netbuilder.core.analysis import Analysis
from netbuilder.ui.numbers import compact, grouped, megabytes

ERROR_COLOR, OK_COLOR, WARN_COLOR = "#d64545", "#3f9a5a", "#c98a12"
#: Appended to totals that leave out the nodes an error keeps from being analysed.
PARTIAL = " (partial)"
_PARTIAL_TIP = ("Totals of the part of the network whose shapes are known: the nodes an "
                "error leaves without a shape are not counted until it is fixed")


def is_partial(analysis: Analysis) -> bool:
    """Whether an error leaves nodes without a shape, so the totals leave them out."""
    return bool(analysis.errors) and any(not info.outputs
                                         for info in analysis.nodes.values())


def _separator() -> QFrame:
    line = QFrame()
    line.setObjectName("statusSeparator")
    line.setAccessibleName("separator")
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


class StatusSummary(QWidget):
    """Totals of the graph, and a button that lists its errors.

    Signals:
        errorsClicked(): the user asked for the list of errors.
    """

    errorsClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusSummary")
        self.setAccessibleName("Network summary")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(2)
        self.level = self._label("statusLevel", "The graph level the canvas shows")
        self.level.hide()
        self.params = self._label("statusParams", "Learnable parameters of the whole network")
        self.macs = self._label("statusMacs", "Multiply-accumulate operations per sample")
        self.size = self._label("statusSize", "Weights and buffers at 32-bit floats")
        self.memory = self._label("statusMemory", "Peak memory of a training step at the "
                                                  "batch, precision and optimiser chosen in "
                                                  "the inspector's Memory section")
        self.memory.hide()
        self._tips = {label: label.toolTip() for label in (self.params, self.macs, self.size)}
        self.partial = False
        self.errors = QToolButton(self)
        self.errors.setObjectName("statusErrors")
        self.errors.setAccessibleName("Errors")
        self.errors.setAutoRaise(True)
        self.errors.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.errors.setToolTip("Click to list the errors and warnings; choose one to select "
                               "the node that causes it")
        self.errors.setStatusTip("List the errors and warnings of the network")
        self.errors.clicked.connect(self.errorsClicked.emit)
        self.level_separator = _separator()
        self.level_separator.hide()
        for widget in (self.level, self.level_separator, self.params, _separator(),
                       self.macs, _separator(), self.size, _separator(), self.memory,
                       self.errors):
            layout.addWidget(widget)
        self.error_count = 0
        self.warning_count = 0
        self._color = ""

    def _label(self, name: str, tip: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setAccessibleName(tip)
        label.setToolTip(tip)
        label.setStatusTip(tip)
        return label

    def show_level(self, names: list[str]) -> None:
        """Show which group the canvas has open (``Network › layer1 › block0``)."""
        self.level.setText(" › ".join(["Network", *names]))
        self.level.setVisible(bool(names))
        self.level_separator.setVisible(bool(names))

    def update_from(self, analysis: Analysis) -> None:
        """Show the totals and issue counts of ``analysis``.

        While an error leaves part of the network without shapes, the totals are those of
        the rest, marked "(partial)".
        """
        self.partial = is_partial(analysis)
        mark = PARTIAL if self.partial else ""
        self.params.setText(f"Params {grouped(analysis.total_params)}{mark}")
        self.macs.setText(f"MACs {compact(analysis.total_macs)}{mark}")
        self.size.setText(megabytes(analysis.model_size_mb) + mark)
        for label, tip in self._tips.items():
            label.setToolTip(f"{tip}.\n{_PARTIAL_TIP}." if self.partial else tip)
        self.error_count = len(analysis.errors)
        self.warning_count = len(analysis.warnings)
        self.errors.setText(self._issue_text())
        color = (ERROR_COLOR if self.error_count else WARN_COLOR if self.warning_count
                 else OK_COLOR)
        if color != self._color:  # a style sheet re-polishes: set it only on a change
            self._color = color
            self.errors.setStyleSheet(f"QToolButton {{ color: {color}; font-weight: 600; }}")

    def show_memory(self, text: str) -> None:
        """Show the training-step memory figure (``training at batch 32: 1.93 GB``)."""
        self.memory.setText(text)
        self.memory.setVisible(bool(text))

    def _issue_text(self) -> str:
        errors, warnings = self.error_count, self.warning_count
        if not errors and not warnings:
            return "✓ No errors"
        if not errors:
            return f"▲ {warnings} warning{'s' if warnings != 1 else ''}"
        text = f"● {errors} error{'s' if errors != 1 else ''}"
        if warnings:
            text += f", {warnings} warning{'s' if warnings != 1 else ''}"
        return text
