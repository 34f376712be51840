"""Composite blocks: every body is well formed, and compiles to torchvision's module.

The first half is torch-free: for every composite block in the registry and a few
parameter variations, the generated body has the ports ``x``/``out``, legal unique names,
every node on a path from input to output, a top-to-bottom layout, and the node names
torchvision uses. The second half builds the matching torchvision module and checks the
analysis (shape, parameter count) against it and, once :mod:`netbuilder.compiler` exists,
that the compiled block has the same ``state_dict`` keys and computes the same function.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import pytest

from netbuilder.blocks import composite
from netbuilder.core import commands as cmd
from netbuilder.core.analysis import analyze
from netbuilder.core.errors import ParameterValueError
from netbuilder.core.graph import Graph, Node
from netbuilder.core.registry import default_registry
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT

REGISTRY = default_registry()
#: The composite blocks of :mod:`netbuilder.blocks.composite`; composites of other modules
#: are tested beside them (``tests/blocks/test_mobile.py``...) with these helpers.
COMPOSITES = sorted(spec.key for spec in composite.SPECS)

#: Parameter variations per composite block; the first is the defaults.
CASES: dict[str, list[dict[str, Any]]] = {
    "conv_bn_relu": [{}, {"kernel_size": 1, "padding": 0},
                     {"kernel_size": (1, 7), "padding": (0, 3), "stride": 2, "groups": 2,
                      "bias": True, "eps": 1e-5}],
    "basic_block": [{}, {"out_channels": 128, "stride": 2, "shortcut": "projection"},
                    {"out_channels": 32, "stride": 2, "shortcut": "pad"},
                    {"stochastic_depth_prob": 0.2}],
    "bottleneck": [{}, {"shortcut": "projection"},
                   {"groups": 32, "base_width": 4, "stride": 2, "shortcut": "projection"},
                   {"base_width": 128, "shortcut": "pad", "stochastic_depth_prob": 0.1},
                   {"expansion": 1}],
    "inception": [{}, {"kernel_5x5": 5, "eps": 1e-5},
                  {"ch1x1": 384, "ch3x3red": 192, "ch3x3": 384, "ch5x5red": 48,
                   "ch5x5": 128, "pool_proj": 128}],
    "dense_layer": [{}, {"growth_rate": 12, "bn_size": 2, "drop_rate": 0.2}],
    "dense_block": [{}, {"num_layers": 1}, {"num_layers": 3, "drop_rate": 0.1}],
    "transition": [{}, {"out_channels": 8}],
    "vgg_block": [{}, {"num_convs": 1}, {"num_convs": 3, "batch_norm": True}],
    "nin_block": [{}, {"out_channels": 192, "kernel_size": 5, "stride": 1, "padding": 2}],
    "se_block": [{}, {"channels": 32, "squeeze_channels": 8}],
}

#: Node names of the body (in node order) for one case per block, and of nested groups.
NAMES: dict[str, tuple[dict[str, Any], list[str], dict[str, list[str]]]] = {
    "conv_bn_relu": ({}, ["x", "conv", "bn", "relu", "out"], {}),
    "basic_block": (
        {"shortcut": "projection", "stochastic_depth_prob": 0.1},
        ["x", "conv1", "bn1", "relu1", "conv2", "bn2", "downsample", "sd", "add", "relu2", "out"],
        {"downsample": ["x", "0", "1", "out"]}),
    "bottleneck": (
        {"shortcut": "pad"},
        ["x", "conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3", "shortcut",
         "add", "relu3", "out"], {}),
    "inception": (
        {}, ["x", "branch1", "branch2", "branch3", "branch4", "concat", "out"],
        {"branch1": ["x", "conv", "bn", "relu", "out"], "branch2": ["x", "0", "1", "out"],
         "branch3": ["x", "0", "1", "out"], "branch4": ["x", "0", "1", "out"]}),
    "dense_layer": (
        {"drop_rate": 0.5},
        ["x", "norm1", "relu1", "conv1", "norm2", "relu2", "conv2", "dropout", "out"], {}),
    "dense_block": (
        {"num_layers": 3},
        ["x", "denselayer1", "cat1", "denselayer2", "cat2", "denselayer3", "cat3", "out"], {}),
    "transition": ({}, ["x", "norm", "relu", "conv", "pool", "out"], {}),
    "vgg_block": (
        {"num_convs": 2, "batch_norm": True},
        ["x", "conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "pool", "out"], {}),
    "nin_block": ({}, ["x", "conv", "relu1", "cccp1", "relu2", "cccp2", "relu3", "out"], {}),
    "se_block": ({}, ["x", "avgpool", "fc1", "activation", "fc2", "scale_activation",
                      "multiply", "out"], {}),
}

#: Parameters each block's ``check`` must refuse.
INVALID: list[tuple[str, dict[str, Any]]] = [
    ("conv_bn_relu", {"out_channels": 10, "groups": 4}),
    ("basic_block", {"groups": 2}),
    ("basic_block", {"base_width": 32}),
    ("bottleneck", {"planes": 1, "base_width": 4}),
    ("bottleneck", {"shortcut": "dense"}),
    ("inception", {"kernel_5x5": 4}),
    ("dense_block", {"num_layers": 0}),
    ("dense_layer", {"drop_rate": 1.0}),
    ("basic_block", {"stochastic_depth_prob": 1.5}),
]

_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def cases() -> list[Any]:
    return [pytest.param(key, params, id=f"{key}-{i}")
            for key in COMPOSITES for i, params in enumerate(CASES.get(key, []))]


def body_of(key: str, params: dict[str, Any]) -> Graph:
    spec = REGISTRY.get(key)
    return spec.body(spec.resolve(params))


def levels(graph: Graph) -> list[Graph]:
    """``graph`` and every group body nested in it."""
    return [graph] + [n.body for _, n in graph.walk() if n.body is not None]


def names(graph: Graph) -> list[str]:
    return [n.name for n in graph.nodes.values()]


def sources(graph: Graph, node: Node) -> list[str]:
    return [graph.nodes[e.source].name for e in graph.in_edges(node.id)]


# -- every composite is covered ---------------------------------------------------------------
def test_every_composite_has_test_data() -> None:
    assert COMPOSITES, "no composite block is registered"
    for table in (CASES, NAMES, REFERENCE_KEYS):
        missing = set(COMPOSITES) - set(table)
        assert not missing, f"composite blocks without test data: {sorted(missing)}"


def test_specs_describe_themselves() -> None:
    for key in COMPOSITES:
        spec = REGISTRY.get(key)
        assert spec.family == "Composite" and spec.title
        assert re.search(r"(19|20)\d\d", spec.help), f"{key}: help should cite the paper"
        assert _NAME.match(spec.default_name)
        with pytest.raises(NotImplementedError):
            spec.infer(spec.defaults(), [(3, 32, 32)])


# -- body structure (torch-free) ----------------------------------------------------------
@pytest.mark.parametrize(("key", "params"), cases())
def test_body_has_exactly_the_ports_x_and_out(key: str, params: dict[str, Any]) -> None:
    body = body_of(key, params)
    assert [n.name for n in body.nodes.values() if n.type == GROUP_INPUT] == ["x"]
    assert [n.name for n in body.nodes.values() if n.type == GROUP_OUTPUT] == ["out"]
    graph = Graph()
    node = graph.add(key, "block", **params)
    assert [p.name for p in graph.input_ports(node)] == ["x"]
    assert graph.output_ports(node) == ("out",)
    for level in levels(body)[1:]:
        assert [p.name for p in level.parent.input_ports(level.owner)] == ["x"]
        assert level.parent.output_ports(level.owner) == ("out",)


@pytest.mark.parametrize(("key", "params"), cases())
def test_body_names_are_unique_module_names(key: str, params: dict[str, Any]) -> None:
    for level in levels(body_of(key, params)):
        found = names(level)
        assert len(found) == len(set(found)), found
        assert all(_NAME.match(name) for name in found), found
        assert len({n.id for _, n in level.walk()}) == sum(1 for _ in level.walk())


@pytest.mark.parametrize(("key", "params"), cases())
def test_every_body_node_lies_between_input_and_output(key: str,
                                                       params: dict[str, Any]) -> None:
    for level in levels(body_of(key, params)):
        x, out = level.by_name("x"), level.by_name("out")
        assert not level.cycle_nodes()
        for node in level.nodes.values():
            assert level.reaches(x.id, node.id) and level.reaches(node.id, out.id), node.name


@pytest.mark.parametrize(("key", "params"), cases())
def test_body_is_laid_out_top_to_bottom(key: str, params: dict[str, Any]) -> None:
    for level in levels(body_of(key, params)):
        ys = [n.pos[1] for n in level.nodes.values()]
        assert level.by_name("x").pos[1] == min(ys) and level.by_name("out").pos[1] == max(ys)
        for edge in level.edges:
            step = level.nodes[edge.target].pos[1] - level.nodes[edge.source].pos[1]
            assert step >= 100 and step % 100 == 0
        spots = [n.pos for n in level.nodes.values()]
        assert len(spots) == len(set(spots)), "two nodes drawn on top of each other"


@pytest.mark.parametrize(("key", "params"), cases())
def test_body_is_fresh_and_labelled(key: str, params: dict[str, Any]) -> None:
    spec = REGISTRY.get(key)
    first, second = body_of(key, params), body_of(key, params)
    assert first is not second and not set(first.nodes.values()) & set(second.nodes.values())
    assert spec.label(spec.resolve(params))


@pytest.mark.parametrize("key", sorted(NAMES))
def test_body_names_follow_torchvision(key: str) -> None:
    params, top, nested = NAMES[key]
    body = body_of(key, params)
    assert names(body) == top
    for group, inner in nested.items():
        assert names(body.by_name(group).body) == inner


def test_merges_take_their_inputs_in_torchvision_order() -> None:
    block = body_of("basic_block", {"shortcut": "projection"})
    assert sources(block, block.by_name("add")) == ["bn2", "downsample"]
    identity = body_of("bottleneck", {"stochastic_depth_prob": 0.3})
    assert sources(identity, identity.by_name("add")) == ["sd", "x"]
    inception = body_of("inception", {})
    assert sources(inception, inception.by_name("concat")) == [f"branch{i}" for i in (1, 2, 3, 4)]
    dense = body_of("dense_block", {"num_layers": 2})
    assert sources(dense, dense.by_name("cat1")) == ["x", "denselayer1"]
    assert sources(dense, dense.by_name("cat2")) == ["cat1", "denselayer2"]
    assert sources(dense, dense.by_name("denselayer2")) == ["cat1"]
    se = body_of("se_block", {})
    assert sources(se, se.by_name("multiply")) == ["scale_activation", "x"]


def test_derived_parameters_reach_the_layers() -> None:
    resnext = body_of("bottleneck", {"planes": 128, "groups": 32, "base_width": 4,
                                     "stride": 2, "shortcut": "projection"})
    conv2 = resnext.by_name("conv2").resolved
    assert (conv2["out_channels"], conv2["groups"], conv2["stride"]) == (256, 32, 2)
    assert resnext.by_name("conv3").resolved["out_channels"] == 512
    projection = resnext.by_name("downsample").body.by_name("0").resolved
    assert (projection["out_channels"], projection["stride"], projection["bias"]) == (512, 2, False)
    paper = body_of("inception", {"kernel_5x5": 5}).by_name("branch3").body.by_name("1")
    assert (paper.resolved["kernel_size"], paper.resolved["padding"]) == (5, 2)
    assert body_of("conv_bn_relu", {}).by_name("bn").resolved["eps"] == pytest.approx(1e-3)
    layer = body_of("dense_layer", {"growth_rate": 12, "bn_size": 4}).by_name("conv1")
    assert layer.resolved["out_channels"] == 48


@pytest.mark.parametrize(("key", "params"), INVALID)
def test_inconsistent_parameters_are_refused(key: str, params: dict[str, Any]) -> None:
    with pytest.raises(ParameterValueError):
        REGISTRY.get(key).resolve(params, "block")


def test_setting_a_parameter_regenerates_the_body_and_undoes() -> None:
    graph = Graph()
    block = graph.add("dense_block", "denseblock1", num_layers=2)
    before = names(block.body)
    command = cmd.set_param(graph, block.id, "num_layers", 4)
    command.redo()
    assert names(block.body)[-3:] == ["denselayer4", "cat4", "out"]
    command.undo()
    assert names(block.body) == before


# -- against torchvision ------------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    """A composite case, its input shape and the torchvision module it must equal."""

    key: str
    params: dict[str, Any]
    shape: tuple[int, int, int]
    factory: Callable[[], Any]

    @property
    def id(self) -> str:
        return f"{self.key}-" + "-".join(f"{k}={v}" for k, v in self.params.items())


def _projection(inplanes: int, planes: int, stride: int = 1) -> Any:
    from torch import nn

    return nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                         nn.BatchNorm2d(planes))


def _option_a(planes: int) -> Any:
    """The CIFAR ResNets' option-A shortcut: subsample by 2, zero-pad planes/2 channels."""
    import torch.nn.functional as F
    from torch import nn

    class LambdaLayer(nn.Module):
        def forward(self, x: Any) -> Any:
            return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))

    return LambdaLayer()


def _named(*layers: tuple[str, Any]) -> Any:
    from torch import nn

    return nn.Sequential(OrderedDict(layers))


def _vgg() -> Any:
    from torch import nn

    return _named(("conv1", nn.Conv2d(3, 8, 3, padding=1)), ("bn1", nn.BatchNorm2d(8)),
                  ("relu1", nn.ReLU()), ("conv2", nn.Conv2d(8, 8, 3, padding=1)),
                  ("bn2", nn.BatchNorm2d(8)), ("relu2", nn.ReLU()),
                  ("pool", nn.MaxPool2d(2, 2)))


def _nin() -> Any:
    from torch import nn

    return _named(("conv", nn.Conv2d(3, 8, 3, stride=2, padding=1)), ("relu1", nn.ReLU()),
                  ("cccp1", nn.Conv2d(8, 8, 1)), ("relu2", nn.ReLU()),
                  ("cccp2", nn.Conv2d(8, 8, 1)), ("relu3", nn.ReLU()))


def _references() -> list[Reference]:
    from torchvision.ops import SqueezeExcitation

    # ``torchvision.models.googlenet`` is also a function that shadows its module.
    densenet, googlenet, resnet = (import_module(f"torchvision.models.{name}")
                                   for name in ("densenet", "googlenet", "resnet"))

    return [
        Reference("conv_bn_relu", {"out_channels": 16}, (8, 10, 10),
                  lambda: googlenet.BasicConv2d(8, 16, kernel_size=3, padding=1)),
        Reference("conv_bn_relu", {"out_channels": 6, "kernel_size": (1, 7),
                                   "padding": (0, 3), "stride": 2}, (8, 9, 9),
                  lambda: googlenet.BasicConv2d(8, 6, kernel_size=(1, 7), padding=(0, 3),
                                                stride=2)),
        Reference("basic_block", {"out_channels": 8}, (8, 8, 8),
                  lambda: resnet.BasicBlock(8, 8)),
        Reference("basic_block", {"out_channels": 16, "stride": 2, "shortcut": "projection",
                                  "stochastic_depth_prob": 0.3}, (8, 8, 8),
                  lambda: resnet.BasicBlock(8, 16, 2, _projection(8, 16, 2))),
        Reference("basic_block", {"out_channels": 16, "stride": 2, "shortcut": "pad"},
                  (8, 8, 8), lambda: resnet.BasicBlock(8, 16, 2, _option_a(16))),
        Reference("bottleneck", {"planes": 4}, (16, 6, 6), lambda: resnet.Bottleneck(16, 4)),
        Reference("bottleneck", {"planes": 8, "groups": 4, "base_width": 8, "stride": 2,
                                 "shortcut": "projection"}, (16, 8, 8),
                  lambda: resnet.Bottleneck(16, 8, 2, _projection(16, 32, 2), groups=4,
                                            base_width=8)),
        Reference("bottleneck", {"planes": 4, "base_width": 128, "shortcut": "projection"},
                  (8, 6, 6),
                  lambda: resnet.Bottleneck(8, 4, 1, _projection(8, 16), base_width=128)),
        Reference("inception", {"ch1x1": 4, "ch3x3red": 4, "ch3x3": 8, "ch5x5red": 2,
                                "ch5x5": 4, "pool_proj": 4}, (8, 7, 7),
                  lambda: googlenet.Inception(8, 4, 4, 8, 2, 4, 4)),
        Reference("dense_layer", {"growth_rate": 4, "bn_size": 2, "drop_rate": 0.2},
                  (8, 6, 6), lambda: densenet._DenseLayer(8, 4, 2, 0.2, False)),
        Reference("dense_block", {"num_layers": 3, "growth_rate": 4, "bn_size": 2},
                  (8, 6, 6), lambda: densenet._DenseBlock(3, 8, 2, 4, 0.0)),
        Reference("transition", {"out_channels": 4}, (8, 6, 6),
                  lambda: densenet._Transition(8, 4)),
        Reference("se_block", {"channels": 8, "squeeze_channels": 2}, (8, 5, 5),
                  lambda: SqueezeExcitation(8, 2)),
        Reference("vgg_block", {"num_convs": 2, "out_channels": 8, "batch_norm": True},
                  (3, 8, 8), _vgg),
        Reference("nin_block", {"out_channels": 8, "kernel_size": 3, "stride": 2,
                                "padding": 1}, (3, 9, 9), _nin),
    ]


REFERENCE_KEYS = {
    "conv_bn_relu", "basic_block", "bottleneck", "inception", "dense_layer", "dense_block",
    "transition", "se_block", "vgg_block", "nin_block",
}


def references() -> list[Any]:
    return [pytest.param(ref, id=ref.id) for ref in _references()]


def wrapped(ref: Reference) -> tuple[Graph, Node]:
    """A graph ``input → block → output`` around the composite of ``ref``."""
    graph = Graph()
    source = graph.add("input", "input", shape=ref.shape)
    block = graph.add(ref.key, "block", after=source, **ref.params)
    graph.add("output", "output", after=block)
    return graph, block


def randomised(module: Any) -> Any:
    """``module`` in eval mode with random weights and batch-norm statistics."""
    import torch

    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)
    return module.eval()


def test_reference_table_covers_every_composite() -> None:
    assert {ref.key for ref in _references()} == REFERENCE_KEYS


@pytest.mark.parametrize("ref", references())
def test_analysis_matches_torchvision(ref: Reference) -> None:
    import torch

    graph, block = wrapped(ref)
    module = ref.factory().eval()
    expected = module(torch.zeros(1, *ref.shape)).shape[1:]
    info = analyze(graph).info(block.id)
    assert info.shape == tuple(expected)
    assert info.params == sum(p.numel() for p in module.parameters())


def compiled_block(ref: Reference) -> tuple[Any, Any]:
    """The compiled graph of ``ref`` and its submodule for the composite node."""
    from netbuilder.compiler import compile_graph

    graph, block = wrapped(ref)
    model = compile_graph(graph)
    return model, model.get_submodule(block.name)


@pytest.mark.parametrize("ref", references())
def test_compiled_state_dict_matches_torchvision(ref: Reference) -> None:
    _, block = compiled_block(ref)
    ours = {k: tuple(v.shape) for k, v in block.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in ref.factory().state_dict().items()}
    assert ours == theirs


@pytest.mark.parametrize("ref", references())
def test_compiled_block_computes_torchvision_function(ref: Reference) -> None:
    import torch

    model, block = compiled_block(ref)
    module = randomised(ref.factory())
    block.load_state_dict(module.state_dict())
    model.eval()
    x = torch.randn(2, *ref.shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (model(x) - module(x)).abs().max().item() < 1e-5
