"""``torch.nn`` module of the ``layer_scale`` block (:mod:`netbuilder.blocks.convnext`).

Imports torch at module level, so the block spec imports this file lazily, from
``build()``. The module keeps its constructor arguments as attributes of the same names,
so that Python source export can write the constructor call back.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LayerScale(nn.Module):
    """A learnable scale per feature along one dimension: ``x · γ`` (Touvron et al. 2021).

    ``gamma`` has shape ``(num_features, 1, …, 1)`` with ``trailing_dims`` ones, so that
    it broadcasts along the dimension ``trailing_dims`` places before the last:
    ``LayerScale(96, 2)`` scales the channels of an N×96×H×W tensor exactly as
    torchvision's ConvNeXt block does with its ``layer_scale`` parameter of shape
    96×1×1; ``LayerScale(96)`` scales the last dimension of a channels-last tensor.
    """

    def __init__(self, num_features: int, trailing_dims: int = 0,
                 init_value: float = 1e-6) -> None:
        super().__init__()
        self.num_features = num_features
        self.trailing_dims = trailing_dims
        self.init_value = init_value
        shape = (num_features, *(1,) * trailing_dims)
        self.gamma = nn.Parameter(torch.full(shape, float(init_value)))

    def forward(self, x: Tensor) -> Tensor:
        """``x · γ``, broadcast over every other dimension."""
        return x * self.gamma

    def extra_repr(self) -> str:
        """Shown by ``print(model)``."""
        return (f"{self.num_features}, trailing_dims={self.trailing_dims}, "
                f"init_value={self.init_value:g}")
