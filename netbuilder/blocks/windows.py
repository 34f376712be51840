"""Sliding-window arithmetic of convolutions and pools: output sizes, formulas, fit checks.

Receptive field: ``kernel`` and ``stride`` are measured along the first spatial axis (``L``
of a sequence, ``H`` of an image, ``D`` of a volume). Pointwise blocks report 1 and 1;
blocks that look at the whole extent (global pooling, flatten) report that extent for
both (:func:`whole_extent`).
"""

from __future__ import annotations

from dataclasses import dataclass

from netbuilder.blocks.formatting import times
from netbuilder.core.spec import Shape, ShapeError

#: Names of the spatial axes of an N-d block, by N.
SPATIAL_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


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
