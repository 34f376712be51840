"""Initialisation schemes give their documented statistics; a node's own init wins."""

from __future__ import annotations

import math

import pytest
import torch

from netbuilder.compiler import InitError, compile_graph, parse_init
from netbuilder.core import commands as cmd
from netbuilder.core.graph import Graph
from tests.compiler.graphs import group, small_resnet


def wide_graph() -> Graph:
    """conv (64→64, 3×3) → bn → global pool → flatten → linear (64→512)."""
    graph = Graph()
    x = graph.add("input", "x", shape=(64, 8, 8))
    last = graph.chain(("conv2d", "conv", dict(out_channels=64, padding=1)),
                       ("batchnorm2d", "bn", {}), ("global_avgpool", "pool", {}),
                       ("flatten", "flatten", {}), ("linear", "fc", dict(out_features=512)),
                       after=x)
    graph.add("output", "out", after=last)
    return graph


def set_init(graph: Graph, name: str, init: dict[str, object] | None) -> None:
    cmd.SetAttribute(graph, graph.by_name(name).id, "init", init).redo()


def test_normal_scheme_draws_n_0_std_and_zero_bias() -> None:
    module = compile_graph(wide_graph(), init={"scheme": "normal", "std": 0.01}, seed=0)
    for weight in (module.conv.weight, module.fc.weight):
        assert abs(weight.mean().item()) < 1e-3
        assert weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.count_nonzero(module.conv.bias) == 0 and torch.count_nonzero(module.fc.bias) == 0
    assert torch.all(module.bn.weight == 1) and torch.all(module.bn.bias == 0)


def test_kaiming_scheme_uses_fan_out_relu_gain() -> None:
    module = compile_graph(wide_graph(), init="kaiming", seed=0)
    expected = math.sqrt(2.0 / (64 * 3 * 3))
    assert module.conv.weight.std().item() == pytest.approx(expected, rel=0.05)
    assert module.fc.weight.std().item() == pytest.approx(math.sqrt(2.0 / 512), rel=0.05)
    assert torch.count_nonzero(module.conv.bias) == 0


def test_xavier_scheme_is_uniform_within_the_glorot_bound() -> None:
    module = compile_graph(wide_graph(), init="xavier", seed=0)
    bound = math.sqrt(6.0 / (64 * 9 + 64 * 9))
    weight = module.conv.weight
    assert weight.abs().max().item() <= bound
    assert weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_default_scheme_keeps_pytorch_initialisation() -> None:
    module = compile_graph(wide_graph(), seed=0)
    bound = 1 / math.sqrt(64 * 9)
    assert module.conv.weight.abs().max().item() <= bound
    assert torch.count_nonzero(module.conv.bias) > 0


def test_node_init_overrides_the_graph_scheme_and_groups_pass_theirs_on() -> None:
    graph = wide_graph()
    set_init(graph, "fc", {"scheme": "normal", "std": 0.5, "bias": 1.0})
    module = compile_graph(graph, init="kaiming", seed=0)
    assert module.fc.weight.std().item() == pytest.approx(0.5, rel=0.05)
    assert torch.all(module.fc.bias == 1.0)
    assert module.conv.weight.std().item() == pytest.approx(math.sqrt(2 / 576), rel=0.05)

    resnet = small_resnet()
    set_init(resnet, "layer1", {"scheme": "normal", "std": 0.02})
    layer1 = resnet.by_name("layer1")
    assert layer1.body is not None
    inner = layer1.body.by_name("1").body
    assert inner is not None
    set_init(inner, "conv2", {"scheme": "default"})
    module = compile_graph(resnet, init="kaiming", seed=0)
    assert module.get_submodule("layer1.0.conv1").weight.std().item() == pytest.approx(
        0.02, rel=0.1)
    assert module.get_submodule("layer1.1.conv2").weight.abs().max().item() <= 1 / math.sqrt(72)
    assert module.get_submodule("layer2.0.conv1").weight.std().item() == pytest.approx(
        math.sqrt(2 / (16 * 9)), rel=0.15)


def test_seeded_compilations_are_reproducible_and_leave_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = compile_graph(small_resnet(), init="kaiming", seed=7).state_dict()
    assert torch.equal(torch.random.get_rng_state(), before)
    second = compile_graph(small_resnet(), init="kaiming", seed=7).state_dict()
    third = compile_graph(small_resnet(), init="kaiming", seed=8).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(first["conv1.weight"], third["conv1.weight"])
    torch.manual_seed(5)
    a = compile_graph(small_resnet()).state_dict()
    torch.manual_seed(5)
    b = compile_graph(small_resnet()).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(("init", "message"), [
    ({"scheme": "gaussian"}, "unknown init scheme 'gaussian'"),
    ({"std": 0.1}, "unknown init scheme None"),
    ({"scheme": "normal", "sigma": 0.1}, "has no option 'sigma'"),
    ({"scheme": "normal", "std": -1}, "std=-1 must be positive"),
    ({"scheme": "normal", "std": "big"}, "must be a finite number"),
    ({"scheme": "kaiming", "mode": "fan_up"}, "mode='fan_up' must be one of"),
    (["normal"], "must be a scheme name or a dict"),
])
def test_bad_node_init_is_refused_naming_the_node(init: object, message: str) -> None:
    graph = wide_graph()
    set_init(graph, "fc", init)  # type: ignore[arg-type]
    with pytest.raises(InitError, match=rf"^fc: .*{message}"):
        compile_graph(graph)


def test_bad_init_inside_a_group_names_its_path() -> None:
    graph = wide_graph()
    group(graph, ["conv", "bn"], "stem")
    body = graph.by_name("stem").body
    assert body is not None
    set_init(body, "conv", {"scheme": "uniform"})
    with pytest.raises(InitError, match=r"^stem\.conv: unknown init scheme"):
        compile_graph(graph)


def test_parse_init_fills_defaults() -> None:
    assert parse_init("normal").as_dict() == {"scheme": "normal", "std": 0.01, "mean": 0.0,
                                              "bias": 0.0}
    assert parse_init(None).scheme == "default"
    with pytest.raises(InitError, match=r"^the graph: unknown"):
        compile_graph(wide_graph(), init="he")
