"""GoogLeNet (Inception v1) as torchvision's ``googlenet(aux_logits=False)``.

Node names are torchvision's attribute names (``conv1``, ``maxpool1``, ``inception3a``
…), and ``conv_bn_relu`` and ``inception`` groups name their children as torchvision's
``BasicConv2d`` and ``Inception``, so the ``state_dict`` maps with the identity.
"""

from __future__ import annotations

from typing import Any

from netbuilder.core.builder import Step, chain
from netbuilder.core.graph import Graph
from netbuilder.templates._api import Shape, register_template
from netbuilder.templates._build import finish, start

PAPER = ("Szegedy et al. (2015). Going deeper with convolutions. CVPR")

#: Inception modules: name → (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj), as in
#: Table 1 of the paper; ``None`` entries are the max pools between stages.
INCEPTIONS: tuple[tuple[str, tuple[int, ...] | None], ...] = (
    ("inception3a", (64, 96, 128, 16, 32, 32)),
    ("inception3b", (128, 128, 192, 32, 96, 64)),
    ("maxpool3", None),
    ("inception4a", (192, 96, 208, 16, 48, 64)),
    ("inception4b", (160, 112, 224, 24, 64, 64)),
    ("inception4c", (128, 128, 256, 24, 64, 64)),
    ("inception4d", (112, 144, 288, 32, 64, 64)),
    ("inception4e", (256, 160, 320, 32, 128, 128)),
    ("maxpool4", None),
    ("inception5a", (256, 160, 320, 32, 128, 128)),
    ("inception5b", (384, 192, 384, 48, 128, 128)),
)
_CHANNELS = ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")


def _cbr(name: str, out_channels: int, kernel: int, stride: int = 1) -> Step:
    return ("conv_bn_relu", name, dict(out_channels=out_channels, kernel_size=kernel,
                                       stride=stride, padding=kernel // 2))


def _maxpool(name: str, kernel: int = 3) -> Step:
    return ("maxpool2d", name, dict(kernel_size=kernel, stride=2, ceil_mode=True))


def stem() -> list[Step]:
    """conv1 7×7/2, max pool, conv2 1×1, conv3 3×3, max pool (all pools round up)."""
    return [_cbr("conv1", 64, 7, stride=2), _maxpool("maxpool1"),
            _cbr("conv2", 64, 1), _cbr("conv3", 192, 3), _maxpool("maxpool2")]


def inceptions(kernel_5x5: int) -> list[Step]:
    """The nine inception modules and the max pools between stages."""
    steps: list[Step] = []
    for name, channels in INCEPTIONS:
        if channels is None:
            steps.append(_maxpool(name, 2 if name == "maxpool4" else 3))
        else:
            params: dict[str, Any] = dict(zip(_CHANNELS, channels), kernel_5x5=kernel_5x5)
            steps.append(("inception", name, params))
    return steps


@register_template(
    name="googlenet", title="GoogLeNet", family="GoogLeNet", input_shape=(3, 224, 224),
    num_classes=1000, paper=PAPER, torchvision="googlenet",
    training=dict(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=2e-4, batch_size=128,
                  epochs=90))
def googlenet(*, input_shape: Shape, num_classes: int, kernel_5x5: int = 3,
              dropout: float = 0.2) -> Graph:
    """GoogLeNet (Inception v1) as torchvision's, without auxiliary heads: 6,624,904 params.

    Departures from the paper, all torchvision's: batch norm after every convolution
    (``conv_bn_relu``, ε 1e-3) and no local response normalisation; the "5×5" branch of
    every inception module uses a 3×3 kernel (set ``kernel_5x5=5`` for the paper's);
    dropout 0.2 instead of 0.4; an adaptive average pool instead of the 7×7 one; no
    auxiliary classifiers; and no input transform (``transform_input=False``). torchvision's
    pretrained weights expect ``transform_input=True``, which re-normalises ImageNet-
    normalised inputs to [-1, 1] before ``conv1``.
    """
    graph, x = start(input_shape)
    last = chain(graph, x, [
        *stem(), *inceptions(kernel_5x5),
        ("adaptive_avgpool2d", "avgpool", dict(output_size=1)),
        ("flatten", "flatten", {}),
        ("dropout", "dropout", dict(p=dropout)),
        ("linear", "fc", dict(out_features=num_classes)),
    ])
    return finish(graph, last)
