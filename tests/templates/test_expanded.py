"""Templates open at the level the lecture draws: VGG's convolutions and pools, AlexNet's
five convolutions, ResNet's stages holding their blocks, DenseNet's dense blocks, laid out
with every expanded group at the size of its frame, so that nothing overlaps.
"""

from __future__ import annotations

import re

import pytest

from netbuilder.core.graph import Graph, Node
from netbuilder.core.layout import estimate_size, overlapping_pairs
from netbuilder.templates import build_template, template_names
from netbuilder.templates._expanded import expand, extent, frame_size


def shown(graph: Graph) -> list[tuple[Graph, Node]]:
    """Nodes drawn when the template opens: every level reached through expanded groups."""
    nodes = []
    for node in graph.nodes.values():
        nodes.append((graph, node))
        if node.body is not None and not node.collapsed:
            nodes += shown(node.body)
    return nodes


def expanded_names(graph: Graph) -> set[str]:
    return {node.name for _level, node in shown(graph)
            if node.body is not None and not node.collapsed}


def count(graph: Graph, block_type: str) -> int:
    return sum(node.type == block_type for _level, node in shown(graph))


@pytest.mark.parametrize(("name", "expanded", "visible"), [
    ("vgg16", {"features", "block1", "block2", "block3", "block4", "block5", "classifier"},
     {"conv2d": 13, "maxpool2d": 5, "linear": 3}),
    ("vgg11_bn", {"features", "block1", "block2", "block3", "block4", "block5", "classifier"},
     {"conv2d": 8, "batchnorm2d": 8}),
    ("alexnet", {"features", "classifier"}, {"conv2d": 5, "maxpool2d": 3, "linear": 3}),
    ("alexnet-paper", {"features", "classifier"}, {"conv2d": 5, "lrn": 2}),
    ("resnet50", {"layer1", "layer2", "layer3", "layer4"}, {"bottleneck": 16, "conv2d": 1}),
    ("resnet20", {"layer1", "layer2", "layer3"}, {"basic_block": 9}),
    ("googlenet", set(), {"inception": 9, "conv_bn_relu": 3}),
    ("densenet121", {"features"}, {"dense_block": 4, "transition": 3}),
    ("mobilenet_v2", {"features", "classifier"}, {"mbconv": 17, "conv_bn_act": 2, "linear": 1}),
    ("mobilenet_v3_large", {"features", "classifier"},
     {"mbconv": 15, "conv_bn_act": 2, "linear": 2, "hardswish": 1}),
    ("efficientnet_b0", {"features", "1", "2", "3", "4", "5", "6", "7", "classifier"},
     {"mbconv": 16, "conv_bn_act": 2, "linear": 1}),
    ("convnext_tiny", {"stage1", "stage2", "stage3", "stage4"},
     {"convnext_block": 18, "layernorm2d": 1, "linear": 1}),
    ("nin", {"block1", "block2", "block3", "block4"}, {"conv2d": 12}),
    ("lenet5", set(), {"conv2d": 2, "linear": 3}),
])
def test_templates_open_at_the_lecture_level(name: str, expanded: set[str],
                                             visible: dict[str, int]) -> None:
    graph = build_template(name)
    assert expanded_names(graph) == expanded
    assert {key: count(graph, key) for key in visible} == visible


def boxes(level: Graph) -> dict[str, tuple[float, float, float, float]]:
    """The boxes of a level as the canvas draws them: frames around expanded bodies."""
    out = {}
    for node in level.nodes.values():
        if node.body is not None and not node.collapsed:
            inner = boxes(node.body)
            size = frame_size(extent(node.body, {k: (w, h) for k, (_x, _y, w, h)
                                                 in inner.items()}))
        else:
            size = estimate_size(level, node)
        out[node.id] = (*node.pos, *size)
    return out


@pytest.mark.parametrize("name", template_names())
def test_no_box_or_frame_overlaps_another(name: str) -> None:
    graph = build_template(name)
    levels = [graph] + [node.body for _level, node in shown(graph)
                        if node.body is not None and not node.collapsed]
    for level in levels:
        assert overlapping_pairs(boxes(level)) == [], (name, level.path())


def test_an_expand_pattern_that_names_no_group_is_an_error() -> None:
    graph = build_template("vgg11")
    with pytest.raises(ValueError, match=re.escape("no group matches 'features.stage*'")):
        expand(graph, "features.stage*")
    assert [n.name for n in expand(graph, "features.block[12]")] == ["block1", "block2"]
