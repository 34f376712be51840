"""A graph the analysis calls valid and trainable trains: one step on random data (issue 13).

Random graphs are grown block by block (as in :mod:`tests.compiler.graphs`), with the
blocks that used to pass the analysis and fail in training: in-place activations and
dropout after blocks whose backward needs their output (sigmoid, tanh, softmax, ReLU),
frozen layers, parameter-free networks. A block is kept only when the analysis accepts
it; then, when the analysis says the graph trains, it must compile and run forward, a
loss and backward with no exception, and every trainable parameter that takes part gets
a gradient.

CI runs a bounded number of graphs. A longer run::

    NETBUILDER_FUZZ_GRAPHS=2000 .venv/bin/python -m pytest -q tests/compiler/test_random_train.py
"""

from __future__ import annotations

import os
from typing import Any

import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from netbuilder.compiler import compile_graph
from netbuilder.core import commands, serialize
from netbuilder.core.analysis import UNTRAINABLE, analyze
from netbuilder.core.graph import Graph
from tests.compiler.graphs import Draw, Shape, _Grower, example_inputs

GRAPHS = int(os.environ.get("NETBUILDER_FUZZ_GRAPHS", "60"))

#: Activations and regularisers, each with its in-place variant where it has one.
RISKY = ("sigmoid", "tanh", "softmax", "log_softmax", "relu", "leaky_relu", "elu", "silu",
         "hardswish", "dropout", "dropout2d", "identity", "flatten")


class _RiskyGrower(_Grower):
    """A grower that also draws in-place and output-saving blocks and frozen layers."""

    def _unary(self, shape: Shape) -> tuple[str, dict[str, Any]]:
        if not self.draw(st.booleans()):
            return super()._unary(shape)
        choice = self.draw(st.sampled_from(RISKY))
        spec = self.graph.registry.get(choice)
        params: dict[str, Any] = {}
        if any(p.name == "inplace" for p in spec.params):
            params["inplace"] = self.draw(st.booleans())
        if choice.startswith("dropout"):
            params["p"] = self.draw(st.sampled_from((0.0, 0.5)))
        return choice, params

    def freeze_some(self) -> None:
        nodes = [n for _, n in self.graph.walk() if n.type not in ("input", "output")]
        for node in self.draw(st.lists(st.sampled_from(nodes), max_size=3)) if nodes else []:
            level, _ = self.graph.find(node.id)
            commands.SetAttribute(level, node.id, "frozen", True).redo()


@st.composite
def risky_graphs(draw: Draw, max_steps: int = 8) -> Graph:
    """A graph the analysis accepts, grown from risky blocks, maybe with frozen layers."""
    channels = draw(st.sampled_from((1, 3)))
    grower = _RiskyGrower(draw, (channels, draw(st.integers(6, 12)), draw(st.integers(6, 12))))
    for _ in range(draw(st.integers(1, max_steps))):
        grower.step()
    grower.finish()
    grower.regroup()
    if draw(st.integers(0, 3)) == 0:
        grower.freeze_some()
    return grower.graph


@settings(max_examples=GRAPHS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(risky_graphs())
def test_a_graph_the_analysis_accepts_trains_one_step(graph: Graph) -> None:
    analysis = analyze(graph)
    assume(analysis.ok)  # a second output added at the end may read an overwritten value
    torch.manual_seed(0)
    module = compile_graph(graph, analysis=analysis).train()
    outputs = module(*example_inputs(module))
    items = outputs if isinstance(outputs, tuple) else (outputs,)
    loss = sum(item.float().pow(2).mean() for item in items)
    assert isinstance(loss, torch.Tensor)
    untrained = {i.node for i in analysis.warnings if i.kind == UNTRAINABLE}
    if untrained:
        outputs_count = sum(1 for n in graph.nodes.values() if n.type == "output")
        if len(untrained) == outputs_count:
            assert not loss.requires_grad, (
                "flagged as untrainable, yet torch has a gradient:\n"
                + serialize.dumps(serialize.Project(graph)))
        return
    loss.backward()
    trained = [p for p in module.parameters() if p.requires_grad]
    assert trained and any(p.grad is not None for p in trained)
