"""Graphs for the compiler tests: a small ResNet-like network and random DAGs.

:func:`random_graphs` is a hypothesis strategy growing a valid graph one block at a time
(chains, branches, adds, multiplies, concats, composite blocks), each new block checked by
the analysis, then grouping contiguous runs of blocks — in creation order, which keeps
every run convex — into groups, possibly nested.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from hypothesis import strategies as st
from torch import nn

from netbuilder.compiler import GraphModule
from netbuilder.core import commands as cmd
from netbuilder.core.analysis import Analysis, analyze
from netbuilder.core.errors import GraphError
from netbuilder.core.graph import Graph, Node

Shape = tuple[int, ...]
Draw = Callable[[st.SearchStrategy[Any]], Any]


def small_resnet(classes: int = 10) -> Graph:
    """Stem, two stages of basic blocks (the second strided, with a projection), head."""
    graph = Graph()
    x = graph.add("input", "x", shape=(3, 16, 16))
    stem = graph.chain(("conv2d", "conv1", dict(out_channels=8, padding=1, bias=False)),
                       ("batchnorm2d", "bn1", {}), ("relu", "relu", {}), after=x)
    layer1 = graph.chain(("basic_block", "0", dict(out_channels=8)),
                         ("basic_block", "1", dict(out_channels=8)), after=stem)
    layer2 = graph.chain(("basic_block", "0_", dict(out_channels=16, stride=2,
                                                    shortcut="projection")),
                         ("basic_block", "1_", dict(out_channels=16)), after=layer1)
    head = graph.chain(("global_avgpool", "avgpool", {}), ("flatten", "flatten", {}),
                       ("linear", "fc", dict(out_features=classes)), after=layer2)
    graph.add("output", "out", after=head)
    group(graph, ["0", "1"], "layer1")
    group(graph, ["0_", "1_"], "layer2")
    layer2_body = graph.by_name("layer2").body
    assert layer2_body is not None
    for old, new in (("0_", "0"), ("1_", "1")):
        cmd.Rename(layer2_body, layer2_body.by_name(old).id, new).redo()
    return graph


def group(graph: Graph, names: list[str], name: str) -> Node:
    """Group the nodes called ``names`` into a group ``name``; return the group."""
    macro = cmd.group_nodes(graph, [graph.by_name(n).id for n in names], name)
    macro.redo()
    return macro.group  # type: ignore[attr-defined,no-any-return]


def example_inputs(module: GraphModule, batch: int = 2, seed: int = 0) -> list[torch.Tensor]:
    """One random batch per input of ``module``."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *shape, generator=generator) for shape in module.input_shapes]


def hooked_outputs(module: GraphModule, inputs: list[torch.Tensor]) -> dict[str, list[Any]]:
    """Run ``module`` with a forward hook on every node's module; outputs seen, by node id."""
    seen: dict[str, list[Any]] = {}

    def record(node_id: str, _module: nn.Module, _args: Any, output: Any) -> None:
        seen.setdefault(node_id, []).append(output)

    handles = [module.get_submodule(name).register_forward_hook(partial(record, node_id))
               for node_id, name in module.node_modules().items()]
    try:
        module(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return seen


# -- random graphs ---------------------------------------------------------------------------
class _Grower:
    """Grows a graph block by block, keeping only blocks the analysis accepts."""

    def __init__(self, draw: Draw, shape: Shape) -> None:
        self.draw = draw
        self.graph = Graph()
        self.order: list[str] = [self.graph.add("input", "x", shape=shape).id]
        self.analysis: Analysis = analyze(self.graph)

    def shape(self, node_id: str) -> Shape:
        shape = self.analysis.nodes[node_id].shape
        assert shape is not None
        return shape

    def images(self) -> list[str]:
        return [n for n in self.order if len(self.shape(n)) == 3]

    def add(self, block_type: str, sources: list[str], **params: Any) -> str | None:
        try:
            node = self.graph.add(block_type, **params)
        except GraphError:
            return None
        for source in sources:
            self.graph.connect(source, node.id)
        analysis = analyze(self.graph)
        if any(issue.node is not None for issue in analysis.errors):
            # Errors on nodes only: until finish() adds the output node, the graph as a
            # whole always lacks one.
            cmd.remove_nodes(self.graph, [node.id]).redo()
            return None
        self.analysis = analysis
        self.order.append(node.id)
        return node.id

    def step(self) -> None:
        images = self.images()
        if not images:
            return
        source = self.draw(st.sampled_from(images))
        kind = self.draw(st.sampled_from(("unary", "unary", "composite", "merge", "concat")))
        if kind == "unary":
            block, params = self._unary(self.shape(source))
            self.add(block, [source], **params)
        elif kind == "composite":
            block, params = self._composite(self.shape(source))
            self.add(block, [source], **params)
        elif kind == "merge":
            self._merge(source, lambda s: s == self.shape(source),
                        self.draw(st.sampled_from(("add", "multiply"))))
        else:
            self._merge(source, lambda s: len(s) == 3 and s[1:] == self.shape(source)[1:],
                        "concat")

    def _unary(self, shape: Shape) -> tuple[str, dict[str, Any]]:
        choice = self.draw(st.sampled_from(("conv2d", "maxpool2d", "avgpool2d", "batchnorm2d",
                                            "relu", "gelu", "sigmoid", "identity", "dropout",
                                            "groupnorm", "lrn", "channel_pad")))
        params: dict[str, Any] = {}
        if choice == "conv2d":
            params = dict(out_channels=self.draw(st.integers(1, 6)),
                          kernel_size=self.draw(st.sampled_from((1, 3))),
                          stride=self.draw(st.sampled_from((1, 2))),
                          padding=self.draw(st.sampled_from((0, 1))))
        elif choice == "groupnorm":
            params = dict(num_groups=1)
        elif choice == "lrn":
            params = dict(size=3)
        elif choice == "channel_pad":
            params = dict(out_channels=shape[0] + 2, stride=self.draw(st.sampled_from((1, 2))))
        return choice, params

    def _composite(self, shape: Shape) -> tuple[str, dict[str, Any]]:
        choice = self.draw(st.sampled_from(("conv_bn_relu", "basic_block", "basic_block_proj",
                                            "bottleneck", "dense_block", "transition",
                                            "se_block", "inception")))
        small = st.integers(1, 4)
        options: dict[str, tuple[str, dict[str, Any]]] = {
            "conv_bn_relu": ("conv_bn_relu", dict(out_channels=self.draw(small))),
            "basic_block": ("basic_block", dict(out_channels=shape[0])),
            "basic_block_proj": ("basic_block", dict(
                out_channels=self.draw(small), stride=self.draw(st.sampled_from((1, 2))),
                shortcut="projection")),
            "bottleneck": ("bottleneck", dict(planes=self.draw(small), shortcut="projection")),
            "dense_block": ("dense_block", dict(num_layers=2, growth_rate=2, bn_size=2)),
            "transition": ("transition", dict(out_channels=self.draw(small))),
            "se_block": ("se_block", dict(channels=shape[0], squeeze_channels=1)),
            "inception": ("inception", dict(ch1x1=1, ch3x3red=2, ch3x3=2, ch5x5red=1,
                                            ch5x5=1, pool_proj=1)),
        }
        return options[choice]

    def _merge(self, source: str, fits: Callable[[Shape], bool], block: str) -> None:
        partners = [n for n in self.order if n != source and fits(self.shape(n))]
        if not partners:
            return
        chosen = self.draw(st.lists(st.sampled_from(partners), min_size=1, max_size=2,
                                    unique=True))
        order = self.draw(st.permutations([source, *chosen]))
        self.add(block, list(order), **({"dim": 1} if block == "concat" else {}))

    def finish(self) -> None:
        last = self.order[-1]
        if self.draw(st.booleans()) and len(self.shape(last)) == 3:
            head = self.add("global_avgpool", [last])
            head = head and self.add("flatten", [head])
            last = (head and self.add("linear", [head], out_features=3)) or last
        self.graph.add("output", "out", after=last)
        if self.draw(st.integers(0, 3)) == 0:
            self.graph.add("output", "out2", after=self.draw(st.sampled_from(self.order)))

    def regroup(self) -> None:
        for _ in range(self.draw(st.integers(0, 3))):
            blocks = self.order[1:]
            if not blocks:
                return
            start = self.draw(st.integers(0, len(blocks) - 1))
            stop = self.draw(st.integers(start + 1, min(len(blocks), start + 4)))
            window = blocks[start:stop]
            try:
                macro = cmd.group_nodes(self.graph, window)
            except GraphError:
                continue
            macro.redo()
            at = self.order.index(window[0])
            self.order[at:at + len(window)] = [macro.group.id]  # type: ignore[attr-defined]


@st.composite
def random_graphs(draw: Draw, max_steps: int = 8) -> Graph:
    """A valid graph on a small image input, with branches, merges and nested groups."""
    channels = draw(st.sampled_from((1, 3)))
    grower = _Grower(draw, (channels, draw(st.integers(6, 16)), draw(st.integers(6, 16))))
    for _ in range(draw(st.integers(1, max_steps))):
        grower.step()
    grower.finish()
    grower.regroup()
    return grower.graph
