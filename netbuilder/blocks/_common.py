"""Helpers shared by the primitive blocks: shape checks, window arithmetic, formulas.

Conventions every block follows:

* **Shapes** exclude the batch dimension. A block accepts exactly the batch-less ranks
  its ``torch.nn`` module accepts once the batch dimension is added (``conv2d`` takes
  ``C×H×W``, ``batchnorm1d`` takes ``C`` or ``C×L``), or fewer where the module would
  silently do something else.
* **Dimension indices** given as parameters (``dim`` of ``concat``, ``start_dim`` of
  ``flatten``) count the batch dimension, as in torch: ``dim=1`` is the channels.
* **MACs** count the multiply-accumulates of convolutions, transposed convolutions and
  linear layers only; bias additions are not counted, and every other block (pooling,
  normalisation, activations, merges) reports 0, as most published model tables do.
* **Parameters** are what ``module.parameters()`` yields. **Buffers** are the values of
  ``module.buffers()`` except batch norm's ``num_batches_tracked`` counter, which is
  bookkeeping rather than a stored statistic.
* **Receptive field**: ``kernel`` and ``stride`` are measured along the first spatial
  axis (``L`` of a sequence, ``H`` of an image, ``D`` of a volume). Pointwise blocks
  report 1 and 1; blocks that look at the whole extent (global pooling, flatten) report
  that extent for both.

Nothing here imports torch at module level: :func:`torch_nn` and :func:`block_modules`
import it when a block is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from netbuilder.core.errors import ParameterValueError
from netbuilder.core.spec import Params, ParamSpec, Shape, ShapeError

#: Layout of a batch-less shape, by rank.
LAYOUTS = {1: "C", 2: "C×L", 3: "C×H×W", 4: "C×D×H×W"}
#: Names of the spatial axes of an N-d block, by N.
SPATIAL_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
#: What a batch-less tensor of each rank usually is, for messages.
_NOUNS = {2: "sequence", 3: "image", 4: "volume"}


# -- lazy imports ---------------------------------------------------------------------
def torch_nn() -> ModuleType:
    """``torch.nn``, imported on first use so that analysis never loads torch."""
    import torch.nn

    return torch.nn


def block_modules() -> ModuleType:
    """:mod:`netbuilder.blocks.modules`, the modules torch lacks (imports torch)."""
    from netbuilder.blocks import modules

    return modules


# -- formatting -----------------------------------------------------------------------
def fmt_int(value: int) -> str:
    """An integer with thousands separators: ``460,800``."""
    return f"{value:,}"


def fmt_num(value: float) -> str:
    """A number in its shortest form: ``0.5``, ``1e-05``, ``2``."""
    return f"{value:g}"


def times(values: Sequence[Any]) -> str:
    """Values joined by ``×``: ``3×32×32``."""
    return "×".join(str(v) for v in values)


def dot(values: Sequence[Any]) -> str:
    """Values joined by ``·`` (a product written out): ``5·5·3·6``."""
    return "·".join(str(v) for v in values)


def describe(shape: Shape) -> str:
    """A shape in words: ``a vector of 120 features``, ``a 3×32×32 (C×H×W) image``."""
    if len(shape) == 1:
        return f"a vector of {shape[0]} features"
    layout = LAYOUTS.get(len(shape), f"{len(shape)}-d")
    noun = _NOUNS.get(len(shape), "tensor")
    return f"a {times(shape)} ({layout}) {noun}"


def layouts(ranks: Sequence[int]) -> str:
    """Accepted layouts in words: ``C×H×W``, ``C or C×L``."""
    return " or ".join(LAYOUTS[r] for r in ranks)


# -- inputs ---------------------------------------------------------------------------
def single_input(key: str, inputs: Sequence[Shape], ranks: Sequence[int] = ()) -> Shape:
    """The one input shape of a single-input block, checked against ``ranks``.

    Raises:
        ShapeError: when there is not exactly one input, or its rank is not allowed.
    """
    if len(inputs) != 1:
        raise ShapeError(f"{key} takes one input, got {len(inputs)}")
    shape = tuple(inputs[0])
    if ranks and len(shape) not in ranks:
        raise ShapeError(f"{key} expects a {layouts(ranks)} input, got {describe(shape)}",
                         (0,))
    return shape


def min_rank(key: str, shape: Shape, rank: int) -> None:
    """Raise unless ``shape`` has at least ``rank`` dimensions.

    Raises:
        ShapeError: naming what the block needs.
    """
    if len(shape) < rank:
        raise ShapeError(f"{key} expects an input with at least {rank} dimensions "
                         f"({LAYOUTS[rank]}), got {describe(shape)}", (0,))


def batch_dim(dim: int, rank: int, what: str = "dim") -> int:
    """Index ``dim`` (counting the batch) of a batch-less shape of ``rank``, as 0-based.

    Raises:
        ShapeError: when ``dim`` is out of range or names the batch dimension.
    """
    full = dim + rank + 1 if dim < 0 else dim
    if not 0 <= full <= rank:
        raise ShapeError(f"{what}={dim} is out of range for an input with "
                         f"{rank} dimensions plus the batch", (0,))
    if full == 0:
        raise ShapeError(f"{what}={dim} is the batch dimension", (0,))
    return full - 1


# -- parameters -----------------------------------------------------------------------
def param_error(node: str, message: str) -> ParameterValueError:
    """A :class:`ParameterValueError` prefixed by the node name, as ParamSpec does."""
    where = f"{node}: " if node else ""
    return ParameterValueError(f"{where}{message}", (node,) if node else ())


def expand(value: int | Sequence[int], n: int) -> tuple[int, ...]:
    """An int repeated ``n`` times, or a tuple as it is."""
    if isinstance(value, int):
        return (value,) * n
    return tuple(value)


def check_lengths(params: Params, names: Sequence[str], n: int, node: str) -> None:
    """Raise unless every tuple-valued parameter among ``names`` has ``n`` values.

    Raises:
        ParameterValueError: naming the parameter and the expected count.
    """
    for name in names:
        value = params.get(name)
        if isinstance(value, tuple) and len(value) != n:
            count = "one number" if n == 1 else f"one number or {n} numbers"
            raise param_error(node, f"{name}={value!r}: must be {count}")


def fmt_ints(value: int | Sequence[int] | str | None) -> str:
    """A stride/padding value for a node label: ``2``, ``2×1``, ``same``."""
    if isinstance(value, (tuple, list)):
        return times(value) if len(set(value)) > 1 else str(value[0])
    return str(value)


# -- sliding windows ------------------------------------------------------------------
def effective_kernel(kernel: int, dilation: int) -> int:
    """Extent covered by a dilated kernel: ``dilation·(kernel − 1) + 1``."""
    return dilation * (kernel - 1) + 1


def window_out(size: int, kernel: int, stride: int, pad: int, dilation: int = 1,
               ceil_mode: bool = False) -> int:
    """Output length of a sliding window, exactly as torch computes it (may be < 1).

    In ceil mode, a last window that would start in the right padding is dropped.
    """
    span = size + 2 * pad - effective_kernel(kernel, dilation)
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def window_formula(axis: str, size: int, kernel: int, stride: int, pad: int,
                   dilation: int = 1, ceil_mode: bool = False) -> str:
    """The output-size arithmetic of one axis: ``H: ⌊(32 − 5 + 2·2)/1⌋ + 1 = 32``."""
    kern = str(kernel) if dilation == 1 else f"({dilation}·({kernel} − 1) + 1)"
    left, right = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    text = f"{axis}: {left}({size} − {kern} + 2·{pad})/{stride}{right} + 1"
    out = window_out(size, kernel, stride, pad, dilation, ceil_mode)
    span = size + 2 * pad - effective_kernel(kernel, dilation)
    if ceil_mode and out != -(-span // stride) + 1:
        text += " − 1 (the last window would start in the padding)"
    return f"{text} = {out}"


def whole_extent(shape: Shape) -> tuple[int, int]:
    """``(kernel, stride)`` of a block seeing the whole first spatial axis at once."""
    return (shape[1], shape[1]) if len(shape) >= 2 else (1, 1)


@dataclass(frozen=True)
class Windows:
    """Sliding-window geometry along every spatial axis of an N-d convolution or pool.

    Attributes:
        kernel: Kernel size per axis.
        stride: Step per axis.
        padding: Zeros added on each side, per axis (ignored when ``same``).
        dilation: Spacing of kernel taps per axis.
        ceil_mode: Round the output size up, as pooling's ``ceil_mode``.
        same: Convolution padding ``"same"``: the output keeps the input size.
    """

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    ceil_mode: bool = False
    same: bool = False

    @property
    def effective(self) -> tuple[int, ...]:
        """Extent of the (dilated) kernel per axis."""
        return tuple(effective_kernel(k, d) for k, d in zip(self.kernel, self.dilation))

    def padded(self, sizes: Shape) -> tuple[int, ...]:
        """Input sizes with the padding added."""
        if self.same:
            return tuple(n + e - 1 for n, e in zip(sizes, self.effective))
        return tuple(n + 2 * p for n, p in zip(sizes, self.padding))

    def outputs(self, sizes: Shape) -> tuple[int, ...]:
        """Output size per axis, as torch computes it (possibly < 1)."""
        if self.same:
            return tuple(sizes)
        return tuple(window_out(*axis, self.ceil_mode) for axis in self._axes(sizes))

    def formulas(self, sizes: Shape) -> tuple[str, ...]:
        """The output-size arithmetic of every axis, numbers filled in."""
        names = SPATIAL_AXES[len(sizes)]
        if self.same:
            return tuple(f'{name}: {n} (padding "same" adds {e - 1} zeros)'
                         for name, n, e in zip(names, sizes, self.effective))
        return tuple(window_formula(name, *axis, self.ceil_mode)
                     for name, axis in zip(names, self._axes(sizes)))

    def receptive(self) -> tuple[int, int]:
        """``(kernel, stride)`` along the first spatial axis."""
        return self.effective[0], self.stride[0]

    def kernel_text(self) -> str:
        """The kernel in words: ``kernel 5×5`` or ``kernel 3×3 dilated to 5×5``."""
        text = f"kernel {times(self.kernel)}"
        if self.effective != self.kernel:
            text += f" dilated to {times(self.effective)}"
        return text

    def check_fits(self, sizes: Shape) -> None:
        """Raise unless the kernel fits in the padded input (torch's convolution rule).

        Raises:
            ShapeError: naming the kernel and the padded input.
        """
        padded = self.padded(sizes)
        if any(p < e for p, e in zip(padded, self.effective)):
            raise ShapeError(
                f"{self.kernel_text()} is larger than the padded input {times(padded)}", (0,))

    def check_outputs(self, sizes: Shape) -> tuple[int, ...]:
        """The output sizes, raising when one is below 1 (torch's pooling rule).

        Raises:
            ShapeError: naming the window, the padded input and the output.
        """
        out = self.outputs(sizes)
        if min(out) < 1:
            raise ShapeError(
                f"the {self.kernel_text()} with stride {times(self.stride)} does not fit the "
                f"padded input {times(self.padded(sizes))}: the output would be {times(out)}",
                (0,))
        return out

    def _axes(self, sizes: Shape) -> zip[tuple[int, int, int, int, int]]:
        return zip(sizes, self.kernel, self.stride, self.padding, self.dilation)


# -- parameter declarations shared by several blocks ------------------------------------
def kernel_param(default: int) -> ParamSpec:
    """``kernel_size``: an int or one int per spatial axis."""
    return ParamSpec("kernel_size", "ints", default, 1, 64,
                     help="Window size: one number, or one per spatial axis")


def stride_param(default: int | None, nullable: bool = False) -> ParamSpec:
    """``stride``; a nullable one defaults to the kernel size, as pooling does."""
    extra = " (empty: the kernel size)" if nullable else ""
    return ParamSpec("stride", "ints", default, 1, 64, nullable=nullable,
                     help=f"Step between neighbouring windows{extra}")


def dilation_param() -> ParamSpec:
    """``dilation``: spacing between kernel taps."""
    return ParamSpec("dilation", "ints", 1, 1, 32,
                     help="Spacing between kernel taps (1: a plain, dense kernel)")


def bias_param() -> ParamSpec:
    """``bias``: whether a learnable bias is added."""
    return ParamSpec("bias", "bool", True, help="Add a learnable bias per output")


def inplace_param() -> ParamSpec:
    """``inplace``: overwrite the input to save memory."""
    return ParamSpec("inplace", "bool", False,
                     help="Overwrite the input tensor to save memory")


def eps_param() -> ParamSpec:
    """``eps``: added to the variance for numerical stability."""
    return ParamSpec("eps", "float", 1e-5, 1e-12, 1.0,
                     help="Added to the variance to avoid dividing by zero")


def probability_param(default: float, what: str) -> ParamSpec:
    """``p``: a probability between 0 and 1."""
    return ParamSpec("p", "float", default, 0.0, 1.0, help=what)
