"""Frozen nodes keep their weights: no gradient, not handed to the optimiser."""

from __future__ import annotations

import torch

from netbuilder.compiler import compile_graph, trainable_parameters
from netbuilder.core import commands as cmd
from netbuilder.core.graph import Graph
from tests.compiler.graphs import example_inputs, small_resnet


def freeze(graph: Graph, name: str) -> None:
    cmd.SetAttribute(graph, graph.by_name(name).id, "frozen", True).redo()


def test_frozen_nodes_get_no_gradient_and_are_not_trainable() -> None:
    graph = small_resnet()
    freeze(graph, "conv1")
    freeze(graph, "layer1")
    module = compile_graph(graph, seed=0)
    frozen = {id(p) for p in module.conv1.parameters()} | {
        id(p) for p in module.layer1.parameters()}
    trainable = trainable_parameters(module)
    assert frozen and not frozen & {id(p) for p in trainable}
    assert len(trainable) + len(frozen) == len(list(module.parameters()))
    module(*example_inputs(module)).sum().backward()
    for name, param in module.named_parameters():
        is_frozen = name.startswith(("conv1.", "layer1."))
        assert (param.grad is None) == is_frozen, name
        assert param.requires_grad != is_frozen, name


def test_frozen_modules_are_listed_for_the_trainer() -> None:
    graph = small_resnet()
    freeze(graph, "layer1")
    layer2 = graph.by_name("layer2").body
    assert layer2 is not None
    freeze(layer2, "1")
    module = compile_graph(graph)
    assert list(module.frozen_modules()) == ["layer1", "layer2.1"]


def test_batch_norm_in_a_frozen_node_still_tracks_statistics_in_train_mode() -> None:
    """Documented behaviour: freezing stops gradients, not running-statistic updates."""
    graph = small_resnet()
    freeze(graph, "bn1")
    module = compile_graph(graph, seed=0).train()
    before = module.bn1.running_mean.clone()
    module(*example_inputs(module))
    assert not torch.equal(module.bn1.running_mean, before)
    for frozen in module.frozen_modules().values():
        frozen.eval()
    before = module.bn1.running_mean.clone()
    module(*example_inputs(module, seed=1))
    assert torch.equal(module.bn1.running_mean, before)
