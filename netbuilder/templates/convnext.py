"""ConvNeXt (Liu et al. 2022): a ResNet modernised step by step toward a vision Transformer.

The network is a *patchify* stem (``stem``: a 4×4 convolution of stride 4 and a layer norm
over the channels), four stages of ``convnext_block`` groups (``stage1`` … ``stage4``,
blocks ``0``, ``1`` …) with a downsampling layer between them (``downsample1`` …
``downsample3``: a layer norm and a 2×2 convolution of stride 2), and a head
(``avgpool``, ``norm``, ``flatten``, ``fc``). torchvision numbers the same modules
inside ``features`` and ``classifier`` (``features.0`` the stem, ``features.1`` the first
stage, ``features.2`` the first downsampling …); :data:`TORCHVISION_PATHS` is that
renaming, which :mod:`netbuilder.templates.mapping` applies to the ``state_dict`` keys.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from netbuilder.blocks.convnext import CONVNEXT_EPS
from netbuilder.core.builder import Step, chain, group, group_of
from netbuilder.core.graph import Graph, Node
from netbuilder.templates._api import Shape, register_template
from netbuilder.templates._build import finish, start

CONVNEXT_PAPER = ("Liu, Mao, Wu, Feichtenhofer, Darrell & Xie (2022). A ConvNet for the "
                  "2020s. CVPR")
#: The paper's recipe (AdamW, lr 4e-3 at batch 4096, weight decay 0.05, 300 epochs) with the
#: learning rate scaled linearly to a batch of 256; torchvision's initialisation draws
#: convolution and linear weights from N(0, 0.02²) truncated at ±2 (100 σ: a plain normal).
_ADAMW = dict(optimizer="adamw", lr=2.5e-4, weight_decay=0.05, batch_size=256, epochs=300,
              init={"scheme": "normal", "std": 0.02})


@dataclass(frozen=True)
class ConvNeXtSpec:
    """The shape of a ConvNeXt.

    Attributes:
        depths: ConvNeXt blocks per stage.
        widths: Channels per stage.
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]

    @property
    def total_blocks(self) -> int:
        """Blocks in all stages."""
        return sum(self.depths)


TINY = ConvNeXtSpec((3, 3, 9, 3), (96, 192, 384, 768))


def torchvision_paths(spec: ConvNeXtSpec) -> dict[str, str]:
    """Template module path → torchvision's, for the modules whose paths differ."""
    paths = {"stem.conv": "features.0.0", "stem.norm": "features.0.1",
             "norm": "classifier.0", "fc": "classifier.2"}
    for index in range(1, len(spec.depths) + 1):
        paths[f"stage{index}"] = f"features.{2 * index - 1}"
        if index < len(spec.depths):
            paths[f"downsample{index}.norm"] = f"features.{2 * index}.0"
            paths[f"downsample{index}.conv"] = f"features.{2 * index}.1"
    return paths


#: Module paths renamed between each ConvNeXt template and torchvision.
TORCHVISION_PATHS: dict[str, dict[str, str]] = {"convnext_tiny": torchvision_paths(TINY)}


def _norm() -> Step:
    return ("layernorm2d", "norm", dict(eps=CONVNEXT_EPS))


def stage(body: Graph, x: Node, spec: ConvNeXtSpec, index: int, first_block: int,
          stochastic_depth_prob: float) -> Node:
    """Blocks ``0`` … ``n-1`` of stage ``index``, their drop probability rising with depth.

    Block ``k`` of the network (counted from 0 over all stages) drops its branch with
    probability ``stochastic_depth_prob · k / (blocks − 1)``, as torchvision.
    """
    last = x
    for i in range(spec.depths[index]):
        block = first_block + i
        drop = stochastic_depth_prob * block / (spec.total_blocks - 1.0)
        last = body.add("convnext_block", str(i), after=last, channels=spec.widths[index],
                        stochastic_depth_prob=drop)
    return last


def convnext(spec: ConvNeXtSpec, *, input_shape: Shape, num_classes: int,
             stochastic_depth_prob: float = 0.1) -> Graph:
    """The graph of ``spec``.

    Args:
        spec: The network's shape.
        input_shape: Input C×H×W.
        num_classes: Outputs of ``fc``.
        stochastic_depth_prob: Drop probability of the last block's branch in training
            (0.1 for ConvNeXt-T; the earlier blocks' rise linearly from 0).
    """
    graph, x = start(input_shape)
    last = group_of(graph, x, "stem", [
        ("conv2d", "conv", dict(out_channels=spec.widths[0], kernel_size=4, stride=4)),
        _norm()])
    first_block = 0
    for index in range(len(spec.widths)):
        fill = functools.partial(stage, spec=spec, index=index, first_block=first_block,
                                 stochastic_depth_prob=stochastic_depth_prob)
        last = group(graph, last, f"stage{index + 1}", fill)
        first_block += spec.depths[index]
        if index + 1 < len(spec.widths):
            last = group_of(graph, last, f"downsample{index + 1}", [
                _norm(), ("conv2d", "conv", dict(out_channels=spec.widths[index + 1],
                                                 kernel_size=2, stride=2))])
    last = chain(graph, last, [
        ("adaptive_avgpool2d", "avgpool", dict(output_size=1)), _norm(),
        ("flatten", "flatten", {}), ("linear", "fc", dict(out_features=num_classes))])
    return finish(graph, last, expanded=("stage*",))


@register_template(name="convnext_tiny", title="ConvNeXt-Tiny", family="ConvNeXt",
                   input_shape=(3, 224, 224), num_classes=1000, paper=CONVNEXT_PAPER,
                   torchvision="convnext_tiny", training=_ADAMW)
def convnext_tiny(*, input_shape: Shape, num_classes: int,
                  stochastic_depth_prob: float = 0.1) -> Graph:
    """ConvNeXt-T: a 4×4 patchify stem, then [3, 3, 9, 3] ConvNeXt blocks (depthwise 7×7
    convolution, layer norm, a 4× MLP with GELU) of 96, 192, 384 and 768 channels,
    28,589,128 parameters at 1000 classes.

    The paper's ResNet-50 made modern one design choice at a time: stage ratios 1:1:3:1,
    non-overlapping patches as the stem, depthwise convolutions, inverted bottlenecks,
    large kernels, GELU, fewer activations and norms, layer norm instead of batch norm and
    separate downsampling layers. As torchvision, blocks' residual branches are dropped
    with probability rising linearly to 0.1 (stochastic depth) and scaled by a learnt γ
    started at 1e-6 (layer scale).
    """
    return convnext(TINY, input_shape=input_shape, num_classes=num_classes,
                    stochastic_depth_prob=stochastic_depth_prob)
