"""One editor widget per parameter kind, picked from a kind → factory mapping.

As in napari's type → widget table, :data:`EDITOR_FACTORIES` maps each
:data:`~netbuilder.core.spec.PARAM_KINDS` entry to a factory; a plug-in may add kinds by
adding entries. Every editor is a :class:`ParamEditor`: it shows a value, emits
``edited(value)`` as the user types a value it can parse, and ``invalid(message)`` for
text it cannot parse. Range and cross-parameter checks are the model's: the inspector
tries the edit and shows the model's error inline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from netbuilder.core.shapes import parse_shape
from netbuilder.core.spec import ParamSpec

INT_MIN, INT_MAX = -(2**31) + 1, 2**31 - 1
_SPLIT = re.compile(r"[\s,×x*()\[\]]+")


class ParamEditor(QWidget):
    """Base class: a value editor for one :class:`ParamSpec`.

    Signals:
        edited(object): the user entered a parseable value.
        invalid(str): the user's text is not a value of this kind.
        left(): the keyboard focus left the editor.
    """

    edited = Signal(object)
    invalid = Signal(str)
    left = Signal()

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.setObjectName(f"param_{spec.name}")
        self.setAccessibleName(spec.name)

    def _adopt(self, widget: QWidget) -> None:
        """Make ``widget`` the visible control, with the parameter's help."""
        widget.setObjectName(f"param_{self.spec.name}_field")
        widget.setAccessibleName(self.spec.name.replace("_", " "))
        widget.setAccessibleDescription(self.spec.help)
        tip = describe(self.spec)
        widget.setToolTip(tip)
        widget.setStatusTip(f"{self.spec.name}: {self.spec.help}" if self.spec.help
                            else self.spec.name)
        self.setToolTip(tip)
        self._layout.addWidget(widget)
        self.setFocusProxy(widget)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Emit ``left`` when the control loses the keyboard focus."""
        if event.type() == QEvent.Type.FocusOut and watched is self.focusProxy():
            self.left.emit()
        return super().eventFilter(watched, event)

    @property
    def field(self) -> QWidget:
        """The control the user types into or clicks."""
        return self.focusProxy()

    def value(self) -> Any:
        """The value shown."""
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        """Show ``value`` without emitting ``edited``."""
        raise NotImplementedError


def describe(spec: ParamSpec) -> str:
    """Tooltip text: help, allowed range or choices, default."""
    parts = [f"<b>{spec.name}</b>"]
    if spec.help:
        parts.append(spec.help)
    if spec.minimum is not None or spec.maximum is not None:
        low = "−∞" if spec.minimum is None else _number(spec.minimum)
        high = "∞" if spec.maximum is None else _number(spec.maximum)
        parts.append(f"range {low} … {high}")
    if spec.choices:
        parts.append("one of " + ", ".join(spec.choices))
    parts.append(f"default {format_value(spec.default) or 'empty'}")
    return "<br>".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def format_value(value: Any) -> str:
    """A parameter value as the user would type it: ``3``, ``3, 5``, ``same``, ``1e-05``."""
    if value is None:
        return ""
    if isinstance(value, (tuple, list)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_ints(text: str) -> int | tuple[int, ...]:
    """``"3"`` → 3; ``"3, 5"`` / ``"3×5"`` / ``"(3, 5)"`` → (3, 5).

    Raises:
        ValueError: when the text holds something other than integers.
    """
    parts = [p for p in _SPLIT.split(text.strip()) if p]
    if not parts:
        raise ValueError("enter a number")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ValueError("enter whole numbers separated by commas") from None
    return numbers[0] if len(numbers) == 1 else tuple(numbers)


# -- editors -----------------------------------------------------------------------------
class IntEditor(ParamEditor):
    """A spin box bounded by the parameter's range."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.box = QSpinBox(self)
        self.box.setRange(int(spec.minimum) if spec.minimum is not None else INT_MIN,
                          int(spec.maximum) if spec.maximum is not None else INT_MAX)
        self.box.setKeyboardTracking(True)
        self.box.setAccelerated(True)
        self.box.valueChanged.connect(self.edited.emit)
        self._adopt(self.box)

    def value(self) -> int:
        """The number shown."""
        return self.box.value()

    def set_value(self, value: Any) -> None:
        """Show ``value`` quietly."""
        self.box.blockSignals(True)
        self.box.setValue(int(value))
        self.box.blockSignals(False)


class ScientificSpinBox(QDoubleSpinBox):
    """A double spin box that shows and accepts ``1e-05`` as well as ``0.1``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)

    def textFromValue(self, value: float) -> str:
        """Six significant digits, scientific when small."""
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        """Parse any float notation."""
        try:
            return float(text.strip() or 0.0)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        """Acceptable when the text is a float in range; intermediate while typing."""
        try:
            number = float(text.strip())
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        if not math.isfinite(number) or not self.minimum() <= number <= self.maximum():
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Acceptable, text, pos


class FloatEditor(ParamEditor):
    """A spin box for real numbers, in scientific notation where useful."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.box = ScientificSpinBox(self)
        low = spec.minimum if spec.minimum is not None else -1e12
        high = spec.maximum if spec.maximum is not None else 1e12
        self.box.setRange(low, high)
        self.box.setSingleStep(0.05 if high - low <= 1 else 0.1)
        self.box.valueChanged.connect(self.edited.emit)
        self._adopt(self.box)

    def value(self) -> float:
        """The number shown."""
        return self.box.value()

    def set_value(self, value: Any) -> None:
        """Show ``value`` quietly."""
        self.box.blockSignals(True)
        self.box.setValue(float(value))
        self.box.blockSignals(False)


class BoolEditor(ParamEditor):
    """A check box."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.box = QCheckBox(self)
        self.box.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.box.toggled.connect(self.edited.emit)
        self._adopt(self.box)
        self._layout.addStretch(1)

    def value(self) -> bool:
        """Whether it is ticked."""
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        """Tick or untick quietly."""
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)


class ChoiceEditor(ParamEditor):
    """A combo box of the parameter's choices."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.box = QComboBox(self)
        self.box.addItems(list(spec.choices))
        self.box.currentTextChanged.connect(self.edited.emit)
        self._adopt(self.box)

    def value(self) -> str:
        """The chosen text."""
        return self.box.currentText()

    def set_value(self, value: Any) -> None:
        """Choose ``value`` quietly."""
        self.box.blockSignals(True)
        self.box.setCurrentText(str(value))
        self.box.blockSignals(False)


class TextEditor(ParamEditor):
    """A line edit whose text is parsed on every keystroke (ints, shapes, text)."""

    def __init__(self, spec: ParamSpec, parser: Callable[[str], Any],
                 parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(spec, parent)
        self.parser = parser
        self.line = QLineEdit(self)
        self.line.setPlaceholderText(placeholder or ("auto" if spec.nullable else ""))
        self.line.textEdited.connect(self._typed)
        self._adopt(self.line)

    def _typed(self, text: str) -> None:
        try:
            value = self.parse(text)
        except ValueError as error:
            self.invalid.emit(str(error))
            return
        self.edited.emit(value)

    def parse(self, text: str) -> Any:
        """The value of ``text`` (empty means None for nullable parameters).

        Raises:
            ValueError: when the text is not a value of this kind.
        """
        if not text.strip() and self.spec.nullable:
            return None
        return self.parser(text)

    def value(self) -> Any:
        """The value of the text shown."""
        return self.parse(self.line.text())

    def set_value(self, value: Any) -> None:
        """Show ``value`` unless the text already means it (keeps the cursor)."""
        try:
            if self.parse(self.line.text()) == value:
                return
        except ValueError:
            pass
        self.line.setText(format_value(value))


class PaddingEditor(ParamEditor):
    """An editable combo box: ``same``, ``valid`` or integers."""

    WORDS = ("same", "valid")

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.box = QComboBox(self)
        self.box.setEditable(True)
        self.box.addItems([*self.WORDS, "0", "1", "2"])
        self.box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        line = self.box.lineEdit()
        line.setObjectName(f"param_{spec.name}_text")
        line.setAccessibleName(spec.name.replace("_", " "))
        line.setPlaceholderText("0, 1, 2… or same / valid")
        line.textEdited.connect(self._typed)
        self.box.activated.connect(lambda _i: self._typed(self.box.currentText()))
        self._adopt(self.box)

    def _typed(self, text: str) -> None:
        try:
            value = self.parse(text)
        except ValueError as error:
            self.invalid.emit(str(error))
            return
        self.edited.emit(value)

    def parse(self, text: str) -> int | str | tuple[int, ...]:
        """``same``/``valid`` or integers.

        Raises:
            ValueError: for anything else.
        """
        word = text.strip().lower()
        if word in self.WORDS:
            return word
        try:
            return parse_ints(text)
        except ValueError:
            raise ValueError('enter numbers, "same" or "valid"') from None

    def value(self) -> Any:
        """The padding shown."""
        return self.parse(self.box.currentText())

    def set_value(self, value: Any) -> None:
        """Show ``value`` unless the text already means it."""
        try:
            if self.parse(self.box.currentText()) == value:
                return
        except ValueError:
            pass
        self.box.blockSignals(True)
        self.box.setEditText(format_value(value))
        self.box.blockSignals(False)


def _int_or_text(spec: ParamSpec, parent: QWidget | None) -> ParamEditor:
    if spec.nullable:
        return TextEditor(spec, _parse_int, parent)
    return IntEditor(spec, parent)


def _float_or_text(spec: ParamSpec, parent: QWidget | None) -> ParamEditor:
    if spec.nullable:
        return TextEditor(spec, _parse_float, parent)
    return FloatEditor(spec, parent)


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("enter a whole number") from None


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("enter a number") from None


EditorFactory = Callable[[ParamSpec, QWidget | None], ParamEditor]

#: Parameter kind → editor factory.
EDITOR_FACTORIES: dict[str, EditorFactory] = {
    "int": _int_or_text,
    "float": _float_or_text,
    "bool": BoolEditor,
    "choice": ChoiceEditor,
    "ints": lambda spec, parent: TextEditor(spec, parse_ints, parent),
    "padding": PaddingEditor,
    "shape": lambda spec, parent: TextEditor(spec, parse_shape, parent, "C, H, W"),
    "str": lambda spec, parent: TextEditor(spec, str, parent),
}


def make_editor(spec: ParamSpec, parent: QWidget | None = None) -> ParamEditor:
    """The editor for ``spec`` (a text field for kinds without a factory)."""
    factory = EDITOR_FACTORIES.get(spec.kind)
    if factory is None:
        return TextEditor(spec, str, parent)
    return factory(spec, parent)
