"""An opaque node (an imported call no block reproduces) is drawn and described as such."""

from __future__ import annotations

import json

from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.ui.canvas.looks import describe


def test_an_opaque_node_says_what_it_calls_and_that_its_macs_are_measured() -> None:
    graph = Graph()
    source = graph.add("input", "x", shape=(4,))
    node = graph.add("opaque", "call", target="torch.nn.functional:linear", call=json.dumps(
        {"function": "torch.nn.functional:linear", "args": [{"input": 0}, {"tensor": "w"}]}),
        tensors=json.dumps({"w": {"shape": [3, 4]}}))
    graph.connect(source.id, node.id)
    look = describe(graph, node, analyze(graph))
    assert look.opaque and look.label == "linear" and look.shape == "3"
    assert "(measured)" in look.macs and "torch.nn.functional.linear" in look.tooltip
    plain = describe(graph, source, analyze(graph))
    assert not plain.opaque and not plain.note
