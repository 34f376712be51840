"""Network in Network (Lin, Chen & Yan 2014) in the form of Dive into Deep Learning (§8.3).

Not in torchvision. Each NiN block (a convolution and two 1×1 "cccp" convolutions, all
with ReLU) is a ``nin_block`` group.
"""

from __future__ import annotations

from netbuilder.core.builder import Step, chain
from netbuilder.core.graph import Graph
from netbuilder.templates._api import Shape, register_template
from netbuilder.templates._build import finish, start

PAPER = "Lin, Chen & Yan (2014). Network in network. ICLR"

#: ``(out_channels, kernel_size, stride, padding)`` of the first three NiN blocks.
BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (96, 11, 4, 0),
    (256, 5, 1, 2),
    (384, 3, 1, 1),
)


def _block(name: str, out_channels: int, kernel: int, stride: int, padding: int) -> Step:
    return ("nin_block", name, dict(out_channels=out_channels, kernel_size=kernel,
                                    stride=stride, padding=padding))


def layers(num_classes: int, dropout: float = 0.5) -> list[Step]:
    """d2l's NiN: three blocks with 3×3 max pools, dropout, a block per class, global pool."""
    steps: list[Step] = []
    for i, block in enumerate(BLOCKS, start=1):
        steps += [_block(f"block{i}", *block),
                  ("maxpool2d", f"pool{i}", dict(kernel_size=3, stride=2))]
    return [*steps, ("dropout", "dropout", dict(p=dropout)),
            _block("block4", num_classes, 3, 1, 1),
            ("adaptive_avgpool2d", "avgpool", dict(output_size=1)),
            ("flatten", "flatten", {})]


@register_template(
    name="nin", title="Network in Network (d2l)", family="NiN", input_shape=(1, 224, 224),
    num_classes=10, paper=PAPER,
    training=dict(optimizer="sgd", lr=0.05, batch_size=128, epochs=10))
def nin(*, input_shape: Shape, num_classes: int, dropout: float = 0.5) -> Graph:
    """NiN as in d2l: AlexNet-like NiN blocks and no fully connected layer at all.

    Blocks of 96 (11×11, stride 4), 256 (5×5) and 384 (3×3) channels, each followed by a
    3×3 stride-2 max pool, dropout, and a last block with one channel per class whose maps
    are averaged globally into the class scores. The paper's networks (for CIFAR-10 and
    ImageNet) differ in widths and kernel sizes; this is the course's ImageNet-like variant
    for 224×224 Fashion-MNIST images.
    """
    graph, x = start(input_shape)
    return finish(graph, chain(graph, x, layers(num_classes, dropout)), expanded=("block*",))
