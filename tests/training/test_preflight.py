"""Pre-flight check: overfit one batch, findings in plain words at the node (issue 17.4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from netbuilder.compiler import compile_graph
from netbuilder.core.graph import Graph
from netbuilder.core.inits import checkpoint_init
from netbuilder.training.preflight import PreflightError, preflight


def small_net() -> Graph:
    graph = Graph()
    x = graph.add("input", shape=(3, 8, 8))
    graph.chain(("conv2d", "conv", {"out_channels": 8, "padding": 1}), ("relu", "act", {}),
                "flatten", ("linear", "fc", {"out_features": 10}), "output", after=x)
    return graph


def test_a_healthy_network_memorises_one_batch_and_has_no_findings() -> None:
    report = preflight(small_net())
    assert report.drop >= 0.9
    assert report.healthy, report.messages()
    conv = small_net().by_name("conv").id
    assert report.nodes[conv].grad_norm is not None and report.nodes[conv].grad_norm > 0


def test_a_dead_relu_is_named_at_its_node(tmp_path: Path) -> None:
    graph = small_net()
    state = compile_graph(graph, seed=0).state_dict()
    state["conv.bias"] = torch.full_like(state["conv.bias"], -100.0)
    torch.save(state, tmp_path / "dead.pt")
    graph.by_name("conv").init = checkpoint_init(tmp_path / "dead.pt", "conv")
    report = preflight(graph)
    messages = report.messages()
    assert not report.healthy
    assert any(m.startswith("act: 100% of outputs are 0 after 50 steps: the learning rate "
                            "may be too high") for m in messages), messages
    assert any(m.startswith("conv: gradient norm") for m in messages), messages
    assert any("the loss fell" in m for m in messages)


def test_a_graph_with_errors_is_refused() -> None:
    graph = small_net()
    graph.add("conv2d", "bad", after=graph.by_name("flatten1"), out_channels=2)
    with pytest.raises(PreflightError, match="cannot train"):
        preflight(graph)
