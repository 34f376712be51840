"""Checks of a block's input shapes: how many inputs, which ranks, which dimension.

Shapes exclude the batch dimension. A block accepts exactly the batch-less ranks its
``torch.nn`` module accepts once the batch dimension is added (``conv2d`` takes ``C×H×W``,
``batchnorm1d`` takes ``C`` or ``C×L``), or fewer where the module would silently do
something else. Dimension indices given as parameters (``dim`` of ``concat``,
``start_dim`` of ``flatten``) count the batch dimension, as in torch: ``dim=1`` is the
channels.
"""

from __future__ import annotations

from collections.abc import Sequence

from netbuilder.blocks.formatting import LAYOUTS, describe, layouts
from netbuilder.core.spec import Shape, ShapeError


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
