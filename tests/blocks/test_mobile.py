"""The mobile composite blocks: bodies well formed and named as torchvision names its modules,
analysis equal to the compiled module, and with torchvision's weights the same function.

``mbconv`` must reproduce three torchvision modules exactly — MobileNetV2's and
MobileNetV3's ``InvertedResidual`` and EfficientNet's ``MBConv`` — and ``fused_mbconv``
EfficientNetV2's ``FusedMBConv``, ``state_dict`` keys included, so that the templates map
torchvision's weights with the identity. The helpers are those of ``test_composite``.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Any

import pytest
import torch
from torch import nn
from torchvision.models import efficientnet, mobilenetv2, mobilenetv3
from torchvision.ops import Conv2dNormActivation, SqueezeExcitation

from netbuilder.blocks import mobile
from netbuilder.compiler import compile_graph
from netbuilder.core.analysis import analyze
from netbuilder.core.errors import ParameterValueError
from netbuilder.core.registry import default_registry
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT
from tests.blocks.test_composite import (
    _NAME,
    Reference,
    body_of,
    levels,
    names,
    randomised,
    sources,
    wrapped,
)

REGISTRY = default_registry()
MOBILE = sorted(spec.key for spec in mobile.SPECS)
#: MobileNetV3's batch norm.
V3_NORM = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)

#: Parameter variations per block; the first is the defaults.
CASES: dict[str, list[dict[str, Any]]] = {
    "conv_bn_act": [{}, {"activation": "none", "kernel_size": 1},
                    {"kernel_size": 5, "stride": 2, "groups": 32, "activation": "hardswish"}],
    "depthwise_separable": [{}, {"stride": 2, "kernel_size": 5, "activation": "relu6"}],
    "mbconv": [{}, {"in_channels": 24, "out_channels": 24, "stochastic_depth_prob": 0.1},
               {"expand_ratio": 1, "layout": "conv", "squeeze_channels": 4},
               {"in_channels": 40, "out_channels": 40, "squeeze_channels": 10,
                "activation": "silu", "se_activation": "silu", "stochastic_depth_prob": 0.2}],
    "fused_mbconv": [{}, {"expand_ratio": 1, "stochastic_depth_prob": 0.1},
                     {"out_channels": 24, "stride": 1, "stochastic_depth_prob": 0.1}],
}

#: Node names of the body for one case per block, and of its nested groups (by path).
NAMES: dict[str, tuple[dict[str, Any], list[str], dict[str, list[str]]]] = {
    "conv_bn_act": ({}, ["x", "0", "1", "2", "out"], {}),
    "depthwise_separable": (
        {}, ["x", "conv_dw", "bn1", "act1", "conv_pw", "bn2", "act2", "out"], {}),
    "mbconv": (
        {"in_channels": 40, "out_channels": 40, "squeeze_channels": 10,
         "stochastic_depth_prob": 0.2},
        ["x", "block", "stochastic_depth", "add", "out"],
        {"block": ["x", "0", "1", "2", "3", "out"], "block.0": ["x", "0", "1", "2", "out"],
         "block.2": ["x", "avgpool", "fc1", "activation", "fc2", "scale_activation",
                     "multiply", "out"],
         "block.3": ["x", "0", "1", "out"]}),
    "fused_mbconv": (
        {"in_channels": 24, "out_channels": 24, "stride": 1, "stochastic_depth_prob": 0.1},
        ["x", "block", "stochastic_depth", "add", "out"],
        {"block": ["x", "0", "1", "out"], "block.1": ["x", "0", "1", "out"]}),
}

#: Parameters each block's ``check`` must refuse.
INVALID: list[tuple[str, dict[str, Any]]] = [
    ("conv_bn_act", {"out_channels": 10, "groups": 4}),
    ("conv_bn_act", {"kernel_size": 4}),
    ("depthwise_separable", {"kernel_size": 2}),
    ("mbconv", {"in_channels": 1, "expand_ratio": 0.1}),
    ("mbconv", {"layout": "sequential"}),
    ("fused_mbconv", {"kernel_size": 4}),
    ("fused_mbconv", {"stochastic_depth_prob": 1.5}),
]


def cases() -> list[Any]:
    return [pytest.param(key, params, id=f"{key}-{i}")
            for key in MOBILE for i, params in enumerate(CASES[key])]


def nested(body: Any, path: str) -> Any:
    """The body of the group at dotted ``path`` below ``body``."""
    for name in path.split("."):
        body = body.by_name(name).body
    return body


# -- bodies (torch-free) ----------------------------------------------------------------------
def test_every_mobile_block_has_test_data_and_cites_its_paper() -> None:
    assert set(CASES) == set(NAMES) == set(MOBILE)
    assert {ref.key for ref in _references()} == set(MOBILE) | {"se_block"}
    for key in MOBILE:
        spec = REGISTRY.get(key)
        assert spec.is_composite and spec.family == "Composite" and spec.title
        assert any(year in spec.help for year in ("2017", "2018", "2019", "2021")), key


@pytest.mark.parametrize(("key", "params"), cases())
def test_body_is_well_formed(key: str, params: dict[str, Any]) -> None:
    body = body_of(key, params)
    for level in levels(body):
        assert [n.name for n in level.nodes.values() if n.type == GROUP_INPUT] == ["x"]
        assert [n.name for n in level.nodes.values() if n.type == GROUP_OUTPUT] == ["out"]
        found = names(level)
        assert len(found) == len(set(found)) and all(_NAME.match(n) for n in found), found
        x, out = level.by_name("x"), level.by_name("out")
        for node in level.nodes.values():
            assert level.reaches(x.id, node.id) and level.reaches(node.id, out.id), node.name
        ys = [n.pos[1] for n in level.nodes.values()]
        assert x.pos[1] == min(ys) and out.pos[1] == max(ys)
        spots = [n.pos for n in level.nodes.values()]
        assert len(spots) == len(set(spots)), "two nodes drawn on top of each other"
    spec = REGISTRY.get(key)
    assert spec.label(spec.resolve(params))


@pytest.mark.parametrize("key", sorted(NAMES))
def test_body_names_follow_torchvision(key: str) -> None:
    params, top, inner = NAMES[key]
    body = body_of(key, params)
    assert names(body) == top
    for path, expected in inner.items():
        assert names(nested(body, path)) == expected, path


def test_the_residual_sum_exists_only_where_torchvision_adds_the_input() -> None:
    residual = body_of("mbconv", {"in_channels": 24, "out_channels": 24})
    assert sources(residual, residual.by_name("add")) == ["block", "x"]
    assert "stochastic_depth" not in names(residual)  # probability 0: nothing to drop
    for params in ({"in_channels": 24, "out_channels": 24, "stride": 2,
                    "stochastic_depth_prob": 0.2},
                   {"in_channels": 16, "out_channels": 24, "stochastic_depth_prob": 0.2}):
        assert names(body_of("mbconv", params)) == ["x", "block", "out"]


def test_derived_widths_reach_the_layers() -> None:
    body = body_of("mbconv", {"in_channels": 80, "out_channels": 80, "expand_ratio": 2.3,
                              "kernel_size": 5, "stride": 1, "squeeze_channels": 48,
                              "se_gate": "hardsigmoid", "eps": 1e-3})
    expand, depthwise = (nested(body, f"block.{i}") for i in (0, 1))
    assert expand.by_name("0").resolved["out_channels"] == 184
    conv = depthwise.by_name("0").resolved
    assert (conv["groups"], conv["kernel_size"], conv["padding"]) == (184, 5, 2)
    assert depthwise.by_name("1").resolved["eps"] == pytest.approx(1e-3)
    se = nested(body, "block.2")
    assert se.by_name("scale_activation").type == "hardsigmoid"
    v2 = body_of("mbconv", {"expand_ratio": 1, "layout": "conv"})
    assert [n.type for n in nested(v2, "conv").nodes.values()][1:-1] == [
        "conv_bn_act", "conv2d", "batchnorm2d"]


@pytest.mark.parametrize(("key", "params"), INVALID)
def test_inconsistent_parameters_are_refused(key: str, params: dict[str, Any]) -> None:
    with pytest.raises(ParameterValueError):
        REGISTRY.get(key).resolve(params, "block")


# -- against torchvision ------------------------------------------------------------------
def _depthwise_separable() -> nn.Module:
    return nn.Sequential(OrderedDict([
        ("conv_dw", nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False)),
        ("bn1", nn.BatchNorm2d(8)), ("act1", nn.ReLU()),
        ("conv_pw", nn.Conv2d(8, 16, 1, bias=False)), ("bn2", nn.BatchNorm2d(16)),
        ("act2", nn.ReLU())]))


def _v3(*args: Any) -> nn.Module:
    config = mobilenetv3.InvertedResidualConfig(*args, width_mult=1.0)
    return mobilenetv3.InvertedResidual(config, V3_NORM)


def _mbconv(*args: Any, drop: float = 0.0) -> nn.Module:
    return efficientnet.MBConv(efficientnet.MBConvConfig(*args), drop, nn.BatchNorm2d)


def _fused(*args: Any, drop: float = 0.0) -> nn.Module:
    return efficientnet.FusedMBConv(efficientnet.FusedMBConvConfig(*args), drop,
                                    nn.BatchNorm2d)


_V3_HS = dict(activation="hardswish", se_gate="hardsigmoid", eps=1e-3, momentum=0.01)
_EFFICIENT = dict(activation="silu", se_activation="silu")


def _references() -> list[Reference]:
    return [
        Reference("conv_bn_act", {"out_channels": 16, "stride": 2}, (8, 9, 9),
                  lambda: Conv2dNormActivation(8, 16, stride=2, activation_layer=nn.ReLU6)),
        Reference("conv_bn_act", {"out_channels": 8, "kernel_size": 5, "groups": 8,
                                  "activation": "hardswish"}, (8, 7, 7),
                  lambda: Conv2dNormActivation(8, 8, 5, groups=8,
                                               activation_layer=nn.Hardswish)),
        Reference("conv_bn_act", {"out_channels": 12, "kernel_size": 1, "activation": "none"},
                  (8, 5, 5), lambda: Conv2dNormActivation(8, 12, 1, activation_layer=None)),
        Reference("depthwise_separable", {"in_channels": 8, "out_channels": 16, "stride": 2},
                  (8, 9, 9), _depthwise_separable),
        Reference("se_block", {"channels": 16, "squeeze_channels": 8, "gate": "hardsigmoid"},
                  (16, 5, 5), lambda: SqueezeExcitation(16, 8,
                                                        scale_activation=nn.Hardsigmoid)),
        Reference("se_block", {"channels": 16, "squeeze_channels": 4, "activation": "silu"},
                  (16, 5, 5), lambda: SqueezeExcitation(16, 4, activation=nn.SiLU)),
        # MobileNetV2: expansion 6 with stride 2; expansion 1 with the residual sum.
        Reference("mbconv", {"in_channels": 16, "out_channels": 24, "stride": 2,
                             "layout": "conv"}, (16, 9, 9),
                  lambda: mobilenetv2.InvertedResidual(16, 24, 2, 6)),
        Reference("mbconv", {"in_channels": 16, "out_channels": 16, "expand_ratio": 1,
                             "layout": "conv"}, (16, 6, 6),
                  lambda: mobilenetv2.InvertedResidual(16, 16, 1, 1)),
        # MobileNetV3-Large: SE with a hard-sigmoid gate, hardswish, no expansion.
        Reference("mbconv", {"in_channels": 40, "out_channels": 40, "expand_ratio": 3,
                             "kernel_size": 5, "squeeze_channels": 32, "activation": "relu",
                             "se_gate": "hardsigmoid", "eps": 1e-3, "momentum": 0.01},
                  (40, 6, 6), lambda: _v3(40, 5, 120, 40, True, "RE", 1, 1)),
        Reference("mbconv", {"in_channels": 80, "out_channels": 80, "expand_ratio": 2.3,
                             **_V3_HS}, (80, 5, 5),
                  lambda: _v3(80, 3, 184, 80, False, "HS", 1, 1)),
        Reference("mbconv", {"in_channels": 16, "out_channels": 16, "expand_ratio": 1,
                             "activation": "relu", "eps": 1e-3, "momentum": 0.01},
                  (16, 6, 6), lambda: _v3(16, 3, 16, 16, False, "RE", 1, 1)),
        # EfficientNet: SiLU everywhere, SE squeezing to in_channels / 4, stochastic depth.
        Reference("mbconv", {"in_channels": 40, "out_channels": 40, "kernel_size": 5,
                             "squeeze_channels": 10, "stochastic_depth_prob": 0.1,
                             **_EFFICIENT}, (40, 6, 6),
                  lambda: _mbconv(6, 5, 1, 40, 40, 1, drop=0.1)),
        Reference("mbconv", {"in_channels": 32, "out_channels": 16, "expand_ratio": 1,
                             "squeeze_channels": 8, **_EFFICIENT}, (32, 6, 6),
                  lambda: _mbconv(1, 3, 1, 32, 16, 1)),
        Reference("fused_mbconv", {"in_channels": 24, "out_channels": 48, "stride": 2},
                  (24, 9, 9), lambda: _fused(4, 3, 2, 24, 48, 1)),
        Reference("fused_mbconv", {"in_channels": 24, "out_channels": 24, "expand_ratio": 1,
                                   "stride": 1, "stochastic_depth_prob": 0.2}, (24, 6, 6),
                  lambda: _fused(1, 3, 1, 24, 24, 1, drop=0.2)),
        Reference("fused_mbconv", {"in_channels": 24, "out_channels": 24, "stride": 1,
                                   "stochastic_depth_prob": 0.2}, (24, 6, 6),
                  lambda: _fused(4, 3, 1, 24, 24, 1, drop=0.2)),
    ]


def references() -> list[Any]:
    return [pytest.param(ref, id=ref.id) for ref in _references()]


@pytest.mark.parametrize("ref", references())
def test_analysis_equals_the_compiled_block_and_torchvision(ref: Reference) -> None:
    graph, block = wrapped(ref)
    info = analyze(graph).info(block.id)
    model = compile_graph(graph)
    compiled = model.get_submodule(block.name)
    reference = ref.factory().eval()
    with torch.no_grad():
        expected = tuple(reference(torch.zeros(1, *ref.shape)).shape[1:])
        assert tuple(model.eval()(torch.zeros(1, *ref.shape)).shape[1:]) == expected
    assert info.shape == expected
    assert info.params == sum(p.numel() for p in compiled.parameters())
    assert info.params == sum(p.numel() for p in reference.parameters())


@pytest.mark.parametrize("ref", references())
def test_with_torchvisions_weights_the_block_computes_torchvisions_function(
        ref: Reference) -> None:
    graph, block = wrapped(ref)
    model = compile_graph(graph)
    compiled = model.get_submodule(block.name)
    reference = randomised(ref.factory())
    ours = {k: tuple(v.shape) for k, v in compiled.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    compiled.load_state_dict(reference.state_dict())
    x = torch.randn(2, *ref.shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (model.eval()(x) - reference(x)).abs().max().item() < 1e-5


def test_stochastic_depth_drops_whole_samples_of_the_branch_in_training() -> None:
    ref = Reference("mbconv", {"in_channels": 8, "out_channels": 8, "expand_ratio": 2,
                               "stochastic_depth_prob": 0.5}, (8, 4, 4), lambda: None)
    graph, _block = wrapped(ref)
    model = compile_graph(graph, seed=0).train()
    x = torch.randn(64, 8, 4, 4, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(3)
    with torch.no_grad():
        out = model(x)
    kept = [not torch.equal(out[i], x[i]) for i in range(len(x))]
    assert 0 < sum(kept) < len(x)  # some samples pass only their input through
