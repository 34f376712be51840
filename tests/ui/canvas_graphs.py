"""Sample graphs for the canvas tests, screenshots and benchmark (real block registry)."""

from __future__ import annotations

from netbuilder.core.graph import Graph, Node
from netbuilder.core.layout import apply_layout


def small_chain() -> Graph:
    """input → conv2d → relu → output, laid out."""
    graph = Graph()
    graph.chain(("input", "input", {"shape": (1, 28, 28)}),
                ("conv2d", "conv1", {"out_channels": 6, "kernel_size": 5, "padding": 2}),
                ("relu", "relu1", {}), ("output", "output", {}))
    apply_layout(graph)
    return graph


def lenet5() -> Graph:
    """LeNet-5 (tanh, average pooling), laid out."""
    graph = Graph()
    graph.chain(
        ("input", "input", {"shape": (1, 32, 32)}),
        ("conv2d", "c1", {"out_channels": 6, "kernel_size": 5}), ("tanh", "act1", {}),
        ("avgpool2d", "s2", {"kernel_size": 2}),
        ("conv2d", "c3", {"out_channels": 16, "kernel_size": 5}), ("tanh", "act2", {}),
        ("avgpool2d", "s4", {"kernel_size": 2}), ("flatten", "flatten", {}),
        ("linear", "f5", {"out_features": 120}), ("tanh", "act3", {}),
        ("linear", "f6", {"out_features": 84}), ("tanh", "act4", {}),
        ("linear", "f7", {"out_features": 10}), ("output", "output", {}))
    apply_layout(graph)
    return graph


def _residual(graph: Graph, after: Node, index: int, channels: int) -> Node:
    a = graph.chain(("conv2d", f"conv{index}a", {"out_channels": channels, "kernel_size": 3,
                                                  "padding": 1, "bias": False}),
                    ("batchnorm2d", f"bn{index}a", {}), ("relu", f"relu{index}a", {}),
                    ("conv2d", f"conv{index}b", {"out_channels": channels, "kernel_size": 3,
                                                  "padding": 1, "bias": False}),
                    ("batchnorm2d", f"bn{index}b", {}), after=after)
    add = graph.add("add", f"add{index}")
    graph.connect(a, add)
    graph.connect(after, add)
    return graph.add("relu", f"relu{index}", after=add)


def residual(blocks: int = 2, channels: int = 16, layout: bool = True) -> Graph:
    """A small ResNet: a stem, ``blocks`` residual blocks, a classifier head."""
    graph = Graph()
    last = graph.chain(("input", "input", {"shape": (3, 32, 32)}),
                       ("conv2d", "stem", {"out_channels": channels, "kernel_size": 3,
                                           "padding": 1, "bias": False}),
                       ("batchnorm2d", "stem_bn", {}), ("relu", "stem_relu", {}))
    for index in range(1, blocks + 1):
        last = _residual(graph, last, index, channels)
    graph.chain(("global_avgpool", "pool", {}), ("flatten", "flatten", {}),
                ("linear", "fc", {"out_features": 10}), ("output", "output", {}), after=last)
    if layout:
        apply_layout(graph)
    return graph


def inception_like() -> Graph:
    """input → stem → four parallel branches → concat → output (branches side by side)."""
    graph = Graph()
    stem = graph.chain(("input", "input", {"shape": (3, 32, 32)}),
                       ("conv2d", "stem", {"out_channels": 32, "kernel_size": 3, "padding": 1}))
    cat = graph.add("concat", "concat")
    for k, size in enumerate((1, 3, 5)):
        branch = graph.add("conv2d", f"branch{k}", after=stem, out_channels=16,
                           kernel_size=size, padding=size // 2)
        graph.connect(branch, cat)
    pool = graph.add("maxpool2d", "branch_pool", after=stem, kernel_size=3, stride=1, padding=1)
    graph.connect(pool, cat)
    graph.add("output", "output", after=cat)
    return graph
