"""Block specifications: what a block declares, torch-free.

A :class:`BlockSpec` declares a block's parameters (named as in ``torch.nn``), its ports,
and analytic inference of its output shape, parameter count, multiply-adds and receptive
field. Only :meth:`BlockSpec.build` touches torch, and it imports torch lazily, so that the
editor can analyse graphs without loading torch.

Shapes never include the batch dimension: an image is ``(C, H, W)``, a vector ``(F,)``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netbuilder.core.errors import ParameterValueError, UnknownParameterError
from netbuilder.core.shapes import MAX_RANK

if TYPE_CHECKING:
    from netbuilder.core.graph import Graph

Shape = tuple[int, ...]
Params = Mapping[str, Any]

#: Structural block keys the core knows about.
INPUT = "input"
OUTPUT = "output"
GROUP = "group"
GROUP_INPUT = "group_input"
GROUP_OUTPUT = "group_output"

PARAM_KINDS = ("int", "float", "bool", "choice", "ints", "padding", "shape", "str")


class ShapeError(Exception):
    """Raised by :meth:`BlockSpec.infer` when the inputs cannot go through the block.

    The message is shown on the node, so it says what is wrong in the user's terms,
    e.g. ``"kernel 9×9 is larger than the padded input 5×5"``. ``inputs`` lists the
    positions of the inputs at fault (e.g. the two inputs of an add whose channels
    differ), so the analysis can name the nodes that produce them.
    """

    def __init__(self, message: str, inputs: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.inputs = inputs


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a block.

    Attributes:
        name: Name as in ``torch.nn`` (``out_channels``, ``kernel_size``...).
        kind: One of :data:`PARAM_KINDS`. ``ints`` is an int or a tuple of ints (one per
            spatial dimension); ``padding`` is ``ints`` or ``"same"``/``"valid"``;
            ``shape`` is a tuple of positive ints of any length.
        default: Value used when a node does not set the parameter.
        minimum: Smallest allowed value (for ``ints``/``padding``, of each element).
        maximum: Largest allowed value.
        choices: Allowed values of a ``choice`` parameter.
        help: One line shown as a tooltip in the inspector.
        nullable: Whether ``None`` is allowed (meaning "not set", e.g. ``stride`` of a
            pool defaults to its kernel size).
    """

    name: str
    kind: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")

    def validate(self, value: Any, node: str = "") -> Any:
        """Return ``value`` normalised (lists become tuples), or raise.

        Raises:
            ParameterValueError: when the value has the wrong type or is out of range.
        """
        if value is None:
            if self.nullable:
                return None
            raise self._error(value, "a value is required", node)
        checker = getattr(self, f"_check_{self.kind}")
        return checker(value, node)

    def _error(self, value: Any, why: str, node: str) -> ParameterValueError:
        where = f"{node}: " if node else ""
        return ParameterValueError(f"{where}{self.name}={value!r}: {why}",
                                   (node,) if node else (), param=self.name, reason=why)

    def _in_range(self, value: float, node: str, shown: Any = None) -> None:
        shown = value if shown is None else shown
        if self.minimum is not None and value < self.minimum:
            raise self._error(shown, f"must be at least {_fmt(self.minimum)}", node)
        if self.maximum is not None and value > self.maximum:
            raise self._error(shown, f"must be at most {_fmt(self.maximum)}", node)

    def _check_int(self, value: Any, node: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self._error(value, "must be an integer", node)
        self._in_range(value, node)
        return int(value)

    def _check_float(self, value: Any, node: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._error(value, "must be a number", node)
        if isinstance(value, int) and abs(value) > sys.float_info.max:
            raise self._error(value, "is too large", node)
        if not math.isfinite(value):
            raise self._error(value, "must be finite", node)
        self._in_range(float(value), node)
        return float(value)

    def _check_bool(self, value: Any, node: str) -> bool:
        if not isinstance(value, bool):
            raise self._error(value, "must be true or false", node)
        return value

    def _check_str(self, value: Any, node: str) -> str:
        if not isinstance(value, str):
            raise self._error(value, "must be text", node)
        return value

    def _check_choice(self, value: Any, node: str) -> str:
        if value not in self.choices:
            raise self._error(value, f"must be one of {', '.join(self.choices)}", node)
        return value

    def _check_ints(self, value: Any, node: str) -> int | tuple[int, ...]:
        if isinstance(value, (list, tuple)):
            if not value or len(value) > 3:
                raise self._error(value, "must be an integer or 1 to 3 integers", node)
            return tuple(self._check_int(v, node) for v in value)
        return self._check_int(value, node)

    def _check_padding(self, value: Any, node: str) -> int | str | tuple[int, ...]:
        if isinstance(value, str):
            if value not in ("same", "valid"):
                raise self._error(value, 'must be an integer, "same" or "valid"', node)
            return value
        return self._check_ints(value, node)

    def _check_shape(self, value: Any, node: str) -> tuple[int, ...]:
        why = f"must be a list of 1 to {MAX_RANK} positive integers"
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_RANK:
            raise self._error(value, why, node)
        out = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise self._error(value, why, node)
            out.append(v)
        self._in_range(max(out), node, shown=value)
        return tuple(out)


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


@dataclass(frozen=True)
class PortSpec:
    """An input port. A ``multi`` port takes any number of edges, in edge order."""

    name: str = "in"
    multi: bool = False


@dataclass(frozen=True)
class Inference:
    """What a block computes for given inputs, per sample (no batch dimension).

    Attributes:
        shape: Output shape.
        params: Number of learnable parameters (those ``model.parameters()`` yields).
        macs: Multiply-accumulate operations per sample.
        kernel: Spatial extent of the window each output looks at (1 for pointwise
            blocks), for receptive-field arithmetic.
        stride: Spatial step between neighbouring outputs, in input positions.
        formulas: The arithmetic behind the numbers with values filled in, for the
            editor, e.g. ``("H: ⌊(32 − 5 + 2·2)/1⌋ + 1 = 32", "params: 5·5·3·6 + 6 = 456")``.
        buffers: Number of non-learnable stored values (e.g. batch-norm running stats).
        warnings: Legal but suspicious uses (an ``add`` that broadcasts 1 channel to
            16), reported as warnings on the node.
        outputs: One shape per output port, in port order, for a block whose ports have
            different shapes (a split); empty means every port has ``shape``.
    """

    shape: Shape
    params: int = 0
    macs: int = 0
    kernel: int = 1
    stride: int = 1
    formulas: tuple[str, ...] = ()
    buffers: int = 0
    warnings: tuple[str, ...] = ()
    outputs: tuple[Shape, ...] = ()

    def port_shapes(self, ports: Sequence[str]) -> dict[str, Shape]:
        """The shape of each of ``ports`` (the block's output ports, in order)."""
        if self.outputs:
            return dict(zip(ports, self.outputs))
        return {port: self.shape for port in ports}


@dataclass(frozen=True)
class BlockSpec:
    """Declaration of a block type. Subclass and override the inference hooks.

    Attributes:
        key: Registry key, lower case with underscores (``conv2d``, ``batchnorm2d``).
        title: Name shown in the palette (``Conv 2D``).
        family: Palette group (``Convolution``, ``Pooling``, ``Normalization``...).
        params: Declared parameters, in the order the inspector shows them.
        inputs: Input ports.
        outputs: Output port names (a block whose ports depend on its parameters
            overrides :meth:`output_ports`).
        help: One-line description.
        default_name: Prefix of automatically chosen node names (``conv`` → ``conv1``).
    """

    key: str
    title: str
    family: str
    params: tuple[ParamSpec, ...] = ()
    inputs: tuple[PortSpec, ...] = (PortSpec(),)
    outputs: tuple[str, ...] = ("out",)
    help: str = ""
    default_name: str = ""
    _by_name: dict[str, ParamSpec] = field(default_factory=dict, init=False, repr=False,
                                           compare=False, hash=False)

    def __post_init__(self) -> None:
        self._by_name.update({p.name: p for p in self.params})

    # -- parameters ---------------------------------------------------------------
    def param(self, name: str) -> ParamSpec:
        """The spec of parameter ``name``.

        Raises:
            UnknownParameterError: when the block has no such parameter.
        """
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name) or "none"
            raise UnknownParameterError(
                f"{self.key} has no parameter {name!r} (it has: {known})") from None

    def defaults(self) -> dict[str, Any]:
        """Every parameter at its default value."""
        return {p.name: p.default for p in self.params}

    def resolve(self, params: Params, node: str = "") -> dict[str, Any]:
        """Defaults overlaid with ``params``, every value validated and normalised."""
        full = self.defaults()
        for name, value in params.items():
            full[name] = self.param(name).validate(value, node)
        self.check(full, node)
        return full

    def check(self, params: Params, node: str = "") -> None:
        """Cross-parameter validation hook (e.g. channels divisible by groups).

        Raises:
            ParameterValueError: when parameters are inconsistent with each other.
        """

    # -- structure ----------------------------------------------------------------
    def output_ports(self, params: Params) -> tuple[str, ...]:
        """Output port names of a node with (resolved) ``params``: :attr:`outputs` unless
        the block's ports follow its parameters (a split into ``chunks`` parts)."""
        return self.outputs

    @property
    def is_composite(self) -> bool:
        """Whether nodes of this block are groups whose body :meth:`body` generates."""
        return False

    def body(self, params: Params) -> Graph:
        """The subgraph of a composite block for ``params`` (composites only)."""
        raise NotImplementedError(f"{self.key} is not a composite block")

    # -- inference ----------------------------------------------------------------
    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Output shape and costs for input shapes ``inputs`` (one per incoming edge).

        Raises:
            ShapeError: when the inputs cannot go through the block.
        """
        raise NotImplementedError

    def label(self, params: Params) -> str:
        """Key parameters in a few characters, shown on the node (``5×5, 16, s1 p2``)."""
        return ""

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """A fresh ``torch.nn.Module`` computing the block for these input shapes."""
        raise NotImplementedError(f"{self.key} has no module")
