"""Text of block labels, formulas and messages: numbers, products and shapes in words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netbuilder.blocks.params import expand
from netbuilder.core.spec import Shape

#: Layout of a batch-less shape, by rank.
LAYOUTS = {1: "C", 2: "C×L", 3: "C×H×W", 4: "C×D×H×W"}
#: What a batch-less tensor of each rank usually is, for messages.
_NOUNS = {2: "sequence", 3: "image", 4: "volume"}


def fmt_int(value: int) -> str:
    """An integer with thousands separators: ``460,800``."""
    return f"{value:,}"


def fmt_num(value: float) -> str:
    """A number in its shortest form: ``0.5``, ``1e-05``, ``2``."""
    return f"{value:g}"


def fmt_ints(value: int | Sequence[int] | str | None) -> str:
    """A stride/padding value for a node label: ``2``, ``2×1``, ``same``."""
    if isinstance(value, (tuple, list)):
        return times(value) if len(set(value)) > 1 else str(value[0])
    return str(value)


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


def kernel_text(kernel: int | tuple[int, ...]) -> str:
    """A 2-d kernel for a node label: ``3`` → ``3×3``; ``(1, 7)`` → ``1×7``."""
    sizes = expand(kernel, 2)
    return times(sizes * 2 if len(sizes) == 1 else sizes)
