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


class Split(nn.Module):
    """One input cut along ``dim`` (counted with the batch) into several outputs.

    Into ``chunks`` parts as ``torch.chunk`` cuts (each ⌈n/chunks⌉ long, the last one
    shorter when they do not divide evenly), or, when ``sizes`` is given, into parts of
    those lengths as ``torch.split`` cuts. Returns a tuple of tensors (views of the input).
    """

    def __init__(self, chunks: int = 2, sizes: tuple[int, ...] | None = None,
                 dim: int = 1) -> None:
        super().__init__()
        self.chunks = chunks
        self.sizes = None if sizes is None else tuple(sizes)
        self.dim = dim

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """``torch.split(x, sizes, dim)`` or ``torch.chunk(x, chunks, dim)``."""
        if self.sizes is not None:
            return torch.split(x, list(self.sizes), dim=self.dim)
        return torch.chunk(x, self.chunks, dim=self.dim)

    def extra_repr(self) -> str:
        """Shown by ``print(model)``."""
        parts = f"sizes={self.sizes}" if self.sizes is not None else f"chunks={self.chunks}"
        return f"{parts}, dim={self.dim}"


class Reshape(nn.Module):
    """Each sample reshaped to ``shape`` (the batch kept first; one size may be -1)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> Tensor:
        """``x.reshape(x.shape[0], *shape)``."""
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        """Shown by ``print(model)``."""
        return f"shape={self.shape}"
