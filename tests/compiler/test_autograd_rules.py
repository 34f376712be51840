"""The analysis's in-place and trainability rules agree with torch's autograd (issue 13.2).

For every registered single-input block ``P`` (in place and not, where it can be), a
network ``input → conv → P → relu(inplace) → flatten → linear → output`` either analyses
with an in-place error on the ReLU or trains one step: the analysis flags it exactly when
torch's backward fails. A new block without a sample here is skipped, saying so.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from netbuilder.compiler import GraphModule, compile_graph
from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.core.registry import default_registry
from netbuilder.core.spec import GROUP, GROUP_INPUT, GROUP_OUTPUT, INPUT, OUTPUT

#: Parameters a block needs to run in the sample network, where its defaults do not fit.
SAMPLE_PARAMS: dict[str, dict[str, Any]] = {
    "channel_pad": {"out_channels": 8, "stride": 1},
    "groupnorm": {"num_groups": 2},
    "lrn": {"size": 3}, "patch_embedding": {"patch_size": 2},
    "maxpool1d": {"kernel_size": 1}, "avgpool1d": {"kernel_size": 1},
    "maxpool3d": {"kernel_size": 1}, "avgpool3d": {"kernel_size": 1},
}
STRUCTURE = {INPUT, OUTPUT, GROUP, GROUP_INPUT, GROUP_OUTPUT}


def _cases() -> list[tuple[str, bool]]:
    cases = []
    for spec in default_registry():
        if spec.key in STRUCTURE or spec.is_composite or len(spec.inputs) != 1 \
                or spec.inputs[0].multi or len(spec.outputs) != 1:
            continue
        cases.append((spec.key, False))
        if any(p.name == "inplace" for p in spec.params):
            cases.append((spec.key, True))
    return cases


def _sample(key: str, inplace: bool) -> tuple[Graph, str]:
    """The sample network around ``key``; returns it and the in-place ReLU's id."""
    dims = 1 if key.endswith("1d") else 3 if key.endswith("3d") else 2
    shape = {1: (4, 8), 2: (4, 8, 8), 3: (4, 4, 6, 6)}[dims]
    graph = Graph()
    x = graph.add("input", shape=shape)
    conv = graph.add(f"conv{dims}d", after=x, out_channels=4, padding=1)
    params = dict(SAMPLE_PARAMS.get(key, {}), **({"inplace": True} if inplace else {}))
    block = graph.add(key, "block", after=conv, **params)
    relu = graph.add("relu", "act", after=block, inplace=True)
    graph.chain("flatten", ("linear", "fc", {"out_features": 3}), "output", after=relu)
    return graph, relu.id


@pytest.mark.parametrize(("key", "inplace"), _cases())
def test_inplace_after_each_block_is_flagged_exactly_when_backward_fails(
        key: str, inplace: bool) -> None:
    graph, relu = _sample(key, inplace)
    analysis = analyze(graph)
    others = [i.message for i in analysis.errors if i.node != relu]
    if others:
        pytest.skip(f"no sample network for {key}: add its parameters to SAMPLE_PARAMS "
                    f"({others[0]})")
    flagged = [i.message for i in analysis.errors if i.node == relu]
    torch.manual_seed(0)
    module = (_compile_anyway(graph) if flagged else compile_graph(graph)).train()
    batch = torch.randn(2, *module.input_shapes[0])
    if not flagged:
        module(batch).sum().backward()
        return
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        module(batch).sum().backward()


def _compile_anyway(graph: Graph) -> GraphModule:
    """Compile a graph the analysis refuses only for its in-place ReLU (to ask torch)."""
    analysis = analyze(graph)
    analysis.issues[:] = [i for i in analysis.issues if "in-place" not in i.message]
    for info in analysis.nodes.values():
        info.issues[:] = [i for i in info.issues if "in-place" not in i.message]
    return compile_graph(graph, analysis=analysis)


def test_a_graph_that_analyses_as_untrainable_has_no_gradient() -> None:
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8))
    graph.chain("maxpool2d", "flatten", "output", after=x)
    assert analyze(graph).ok and not analyze(graph).trainable
    module = compile_graph(graph).train()
    with pytest.raises(RuntimeError, match="does not require grad"):
        module(torch.randn(2, 4, 8, 8)).sum().backward()
