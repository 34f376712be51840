"""Plain-torch twins of the templates torchvision does not have, written from the papers.

They are the independent reference for those templates' parameter counts and output
shapes: each is written here with ``torch.nn`` layers from the paper's (or the course's)
description, never from the template's code, and ``Lazy*`` layers let torch, not our shape
arithmetic, work out every input width.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

Shape = tuple[int, ...]


def _lenet5(classes: int) -> nn.Module:
    """d2l §7.6: LeNet with sigmoids, average pools and a padded first convolution."""
    return nn.Sequential(
        nn.LazyConv2d(6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.LazyConv2d(16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.LazyLinear(120), nn.Sigmoid(), nn.LazyLinear(84), nn.Sigmoid(),
        nn.LazyLinear(classes))


def _lenet5_classic(classes: int) -> nn.Module:
    """LeNet-5, Fig. 2 of the paper: C1, S2, C3 (fully connected), S4, C5, F6, output."""
    return nn.Sequential(
        nn.LazyConv2d(6, 5), nn.Tanh(), nn.AvgPool2d(2, 2),
        nn.LazyConv2d(16, 5), nn.Tanh(), nn.AvgPool2d(2, 2),
        nn.LazyConv2d(120, 5), nn.Tanh(), nn.Flatten(),
        nn.LazyLinear(84), nn.Tanh(), nn.LazyLinear(classes))


def _caffe_classifier(classes: int) -> list[nn.Module]:
    """fc6, fc7 (4096, ReLU, dropout) and fc8."""
    return [nn.Flatten(), nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(),
            nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(), nn.LazyLinear(classes)]


def _alexnet_paper(classes: int) -> nn.Module:
    """Krizhevsky et al. 2012: 96/256/384/384/256 filters; conv2, 4, 5 split over 2 GPUs."""
    return nn.Sequential(
        nn.LazyConv2d(96, 11, stride=4), nn.ReLU(), nn.LocalResponseNorm(5),
        nn.MaxPool2d(3, 2),
        nn.LazyConv2d(256, 5, padding=2, groups=2), nn.ReLU(), nn.LocalResponseNorm(5),
        nn.MaxPool2d(3, 2),
        nn.LazyConv2d(384, 3, padding=1), nn.ReLU(),
        nn.LazyConv2d(384, 3, padding=1, groups=2), nn.ReLU(),
        nn.LazyConv2d(256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        *_caffe_classifier(classes))


def _zfnet(classes: int) -> nn.Module:
    """Zeiler & Fergus 2014, Fig. 3: 7×7/2 first layer, 5×5/2 second, pools rounding up."""
    return nn.Sequential(
        nn.LazyConv2d(96, 7, stride=2, padding=1), nn.ReLU(),
        nn.MaxPool2d(3, 2, ceil_mode=True), nn.LocalResponseNorm(5),
        nn.LazyConv2d(256, 5, stride=2), nn.ReLU(),
        nn.MaxPool2d(3, 2, ceil_mode=True), nn.LocalResponseNorm(5),
        nn.LazyConv2d(384, 3, padding=1), nn.ReLU(),
        nn.LazyConv2d(384, 3, padding=1), nn.ReLU(),
        nn.LazyConv2d(256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
        *_caffe_classifier(classes))


def _nin_block(out_channels: int, kernel: int, stride: int, padding: int) -> nn.Module:
    return nn.Sequential(
        nn.LazyConv2d(out_channels, kernel, stride, padding), nn.ReLU(),
        nn.LazyConv2d(out_channels, 1), nn.ReLU(), nn.LazyConv2d(out_channels, 1), nn.ReLU())


def _nin(classes: int) -> nn.Module:
    """d2l §8.3: three NiN blocks with max pools, dropout, a block per class, global pool."""
    return nn.Sequential(
        _nin_block(96, 11, 4, 0), nn.MaxPool2d(3, 2),
        _nin_block(256, 5, 1, 2), nn.MaxPool2d(3, 2),
        _nin_block(384, 3, 1, 1), nn.MaxPool2d(3, 2), nn.Dropout(),
        _nin_block(classes, 3, 1, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())


class _BasicBlock(nn.Module):
    """He et al. 2016: two 3×3 convolutions with batch norm, plus the shortcut.

    Where the shape changes, option A (``pad``) subsamples and pads the identity with zero
    channels; otherwise a 1×1 convolution and a batch norm project it.
    """

    def __init__(self, planes: int, stride: int, changes: bool, pad: bool) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            nn.LazyConv2d(planes, 3, stride, 1, bias=False), nn.LazyBatchNorm2d(), nn.ReLU(),
            nn.LazyConv2d(planes, 3, 1, 1, bias=False), nn.LazyBatchNorm2d())
        self.planes, self.stride, self.pad = planes, stride, pad and changes
        self.project = (nn.Sequential(nn.LazyConv2d(planes, 1, stride, bias=False),
                                      nn.LazyBatchNorm2d())
                        if changes and not pad else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        if self.pad:
            short = x[:, :, ::self.stride, ::self.stride]
            missing = self.planes - short.shape[1]
            short = nn.functional.pad(short, (0, 0, 0, 0, missing // 2, missing - missing // 2))
        else:
            short = self.project(x)
        return torch.relu(self.branch(x) + short)


def _cifar_resnet(blocks: tuple[int, ...], widths: tuple[int, ...], pad: bool,
                  classes: int) -> nn.Module:
    """A 3×3 stem and stages of basic blocks (the first of each later stage strides 2)."""
    layers: list[nn.Module] = [nn.LazyConv2d(widths[0], 3, padding=1, bias=False),
                               nn.LazyBatchNorm2d(), nn.ReLU()]
    channels = widths[0]
    for stage, (count, planes) in enumerate(zip(blocks, widths)):
        for i in range(count):
            stride = 2 if stage > 0 and i == 0 else 1
            layers.append(_BasicBlock(planes, stride, stride != 1 or channels != planes, pad))
            channels = planes
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LazyLinear(classes))


TWINS: dict[str, Callable[[int], nn.Module]] = {
    "lenet5": _lenet5,
    "lenet5-classic": _lenet5_classic,
    "alexnet-paper": _alexnet_paper,
    "zfnet": _zfnet,
    "nin": _nin,
    "resnet20": lambda classes: _cifar_resnet((3, 3, 3), (16, 32, 64), True, classes),
    "resnet56": lambda classes: _cifar_resnet((9, 9, 9), (16, 32, 64), True, classes),
    "resnet18-cifar": lambda classes: _cifar_resnet((2, 2, 2, 2), (64, 128, 256, 512),
                                                    False, classes),
}


def twin(name: str, input_shape: Shape, classes: int) -> tuple[nn.Module, Shape]:
    """The twin of template ``name`` materialised for ``input_shape``, and its output shape.

    One forward pass of a single sample fixes the sizes of the lazy layers; it runs on the
    meta device, so a network of 60 M parameters costs no memory and no time.
    """
    with torch.device("meta"):
        model = TWINS[name](classes).eval()
        out = model(torch.zeros(1, *input_shape))
    return model, tuple(out.shape[1:])


def parameter_count(model: nn.Module) -> int:
    """``sum(p.numel())`` over the model's parameters."""
    return sum(p.numel() for p in model.parameters())
