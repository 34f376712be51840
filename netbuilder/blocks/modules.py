"""``torch.nn`` modules for the blocks torch has no module for.

This is the only file of :mod:`netbuilder.blocks` that imports torch at module level;
the block specs import it lazily, from ``build()``. Multi-input modules take their inputs
as positional arguments, in edge order: ``module(x1, x2, x3)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Add(nn.Module):
    """Element-wise sum of any number of inputs (with torch broadcasting)."""

    def forward(self, *inputs: Tensor) -> Tensor:
        """``x1 + x2 + …``."""
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Multiply(nn.Module):
    """Element-wise product of any number of inputs (with torch broadcasting).

    Multiplying ``C×H×W`` features by ``C×1×1`` weights is the rescaling step of a
    squeeze-and-excitation block.
    """

    def forward(self, *inputs: Tensor) -> Tensor:
        """``x1 · x2 · …``."""
        out = inputs[0]
        for x in inputs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Concatenation of any number of inputs along ``dim`` (counted with the batch)."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *inputs: Tensor) -> Tensor:
        """``torch.cat(inputs, dim)``."""
        return torch.cat(inputs, dim=self.dim)

    def extra_repr(self) -> str:
        """Shown by ``print(model)``."""
        return f"dim={self.dim}"


class ChannelPad(nn.Module):
    """Parameter-free ResNet shortcut, "option A" of He et al. (2015), §4.2.

    Subsamples the spatial axes by ``stride`` and zero-pads the channels up to
    ``out_channels``, the padding split as evenly as possible before and after the input
    channels (before gets the smaller half), as the common CIFAR ResNet implementation
    ``F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))`` does.
    """

    def __init__(self, out_channels: int, stride: int = 2) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        """Subsample, then pad channels (the third dimension from the end)."""
        x = x[..., :: self.stride, :: self.stride]
        extra = self.out_channels - x.shape[-3]
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))

    def extra_repr(self) -> str:
        """Shown by ``print(model)``."""
        return f"out_channels={self.out_channels}, stride={self.stride}"
