"""Parameter declarations and checks shared by several blocks.

Factories for the parameters many blocks declare alike (``kernel_size``, ``stride``,
``bias``, ``eps``...), and the helpers blocks check cross-parameter rules with.
"""

from __future__ import annotations

from collections.abc import Sequence

from netbuilder.core.errors import ParameterValueError
from netbuilder.core.spec import Params, ParamSpec


# -- checks ------------------------------------------------------------------------------
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


# -- declarations ------------------------------------------------------------------------
def int_param(name: str, default: int, help: str, minimum: int = 1,
              maximum: int | None = None) -> ParamSpec:
    """An integer parameter, at least ``minimum`` (default 1)."""
    return ParamSpec(name, "int", default, minimum=minimum, maximum=maximum, help=help)


def float_param(name: str, default: float, help: str, maximum: float = 1.0) -> ParamSpec:
    """A non-negative real parameter, at most ``maximum`` (probabilities by default)."""
    return ParamSpec(name, "float", default, minimum=0.0, maximum=maximum, help=help)


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
