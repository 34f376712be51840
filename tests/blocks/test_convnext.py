"""ConvNeXt's blocks: ``layer_scale`` and ``convnext_block`` against torchvision.

``convnext_block`` must be torchvision's ``CNBlock``: the same analysis (shape, parameter
count), the same ``state_dict`` keys but for the layer scale (torchvision's is a bare
parameter ``layer_scale`` of shape C×1×1, ours ``layer_scale.gamma`` of the same shape) and,
with torchvision's weights copied in, the same outputs. The helpers are those of
``test_composite`` (``layer_scale`` is also in the primitive property tests).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torchvision.models.convnext import CNBlock

from netbuilder.blocks.convnext import LAYER_SCALE_PARAM
from netbuilder.compiler import compile_graph
from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.core.registry import default_registry
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT, ShapeError
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
#: Parameter variations of ``convnext_block``; the first is the defaults.
CASES: list[dict[str, Any]] = [
    {}, {"channels": 16, "stochastic_depth_prob": 0.1},
    {"channels": 8, "layer_scale": 0.5, "stochastic_depth_prob": 0.3},
]
#: Blocks compared with ``CNBlock(channels, layer_scale, stochastic_depth_prob)``.
REFERENCES = [
    Reference("convnext_block", {"channels": 8}, (8, 9, 9),
              lambda: CNBlock(8, 1e-6, 0.0)),
    Reference("convnext_block", {"channels": 16, "layer_scale": 0.5,
                                 "stochastic_depth_prob": 0.2}, (16, 7, 5),
              lambda: CNBlock(16, 0.5, 0.2)),
]


def torchvision_key(key: str) -> str:
    """Our key of a compiled block as torchvision names it (its bare layer scale)."""
    return key.removesuffix(f".{LAYER_SCALE_PARAM}")


def scaled(shape: tuple[int, ...], **params: Any) -> tuple[Graph, Any]:
    """A graph ``input → layer_scale → output`` and the node."""
    graph = Graph()
    source = graph.add("input", "input", shape=shape)
    node = graph.add("layer_scale", "scale", after=source, **params)
    graph.add("output", "output", after=node)
    return graph, node


# -- layer scale --------------------------------------------------------------------------
def test_layer_scale_counts_one_parameter_per_channel_and_no_macs() -> None:
    graph, node = scaled((96, 7, 7))
    info = analyze(graph).info(node.id)
    assert (info.shape, info.params, info.macs) == ((96, 7, 7), 96, 0)
    assert info.formulas[0] == "params: γ of 96×1×1 = 96"
    assert REGISTRY.get("layer_scale").label(node.resolved) == "γ=1e-06"


def test_layer_scale_scales_the_dimension_it_names() -> None:
    graph, node = scaled((7, 5, 12), dim=-1, init_value=0.5)
    assert analyze(graph).info(node.id).params == 12
    module = compile_graph(graph)
    gamma = module.get_submodule("scale").gamma
    assert tuple(gamma.shape) == (12,)
    with torch.no_grad():
        gamma.copy_(torch.arange(12.0))
    x = torch.randn(2, 7, 5, 12)
    assert torch.equal(module(x), x * torch.arange(12.0))


def test_layer_scale_refuses_the_batch_dimension() -> None:
    spec = REGISTRY.get("layer_scale")
    with pytest.raises(ShapeError, match="batch dimension"):
        spec.infer(spec.resolve({"dim": 0}), [(8, 4, 4)])
    with pytest.raises(ShapeError, match="out of range"):
        spec.infer(spec.resolve({"dim": 4}), [(8, 4, 4)])


# -- the block's body ----------------------------------------------------------------------
@pytest.mark.parametrize("params", CASES)
def test_body_is_well_formed(params: dict[str, Any]) -> None:
    body = body_of("convnext_block", params)
    for level in levels(body):
        found = names(level)
        assert len(found) == len(set(found)) and all(_NAME.match(n) for n in found)
        assert [n.name for n in level.nodes.values() if n.type == GROUP_INPUT] == ["x"]
        assert [n.name for n in level.nodes.values() if n.type == GROUP_OUTPUT] == ["out"]
        x, out = level.by_name("x"), level.by_name("out")
        for node in level.nodes.values():
            assert level.reaches(x.id, node.id) and level.reaches(node.id, out.id)
        spots = [n.pos for n in level.nodes.values()]
        assert len(spots) == len(set(spots)), "two nodes drawn on top of each other"
    assert REGISTRY.get("convnext_block").label(REGISTRY.get("convnext_block").resolve(params))


def test_body_names_follow_torchvision() -> None:
    body = body_of("convnext_block", {"channels": 32, "stochastic_depth_prob": 0.1})
    assert names(body) == ["x", "block", "layer_scale", "stochastic_depth", "add", "out"]
    assert names(body.by_name("block").body) == ["x", *"0123456", "out"]
    assert sources(body, body.by_name("add")) == ["stochastic_depth", "x"]
    inner = body.by_name("block").body
    assert inner.by_name("0").resolved["groups"] == 32
    assert inner.by_name("3").resolved["out_features"] == 128
    assert inner.by_name("2").resolved["eps"] == pytest.approx(1e-6)
    assert body.by_name("stochastic_depth").resolved == {"p": 0.1, "mode": "row"}


def test_channels_that_differ_from_the_input_are_an_analysis_error() -> None:
    ref = Reference("convnext_block", {"channels": 8}, (16, 9, 9), lambda: None)
    graph, _ = wrapped(ref)
    assert not analyze(graph).ok


# -- against torchvision ----------------------------------------------------------------------
@pytest.mark.parametrize("ref", [pytest.param(r, id=r.id) for r in REFERENCES])
def test_analysis_equals_the_compiled_block_and_torchvision(ref: Reference) -> None:
    graph, node = wrapped(ref)
    info = analyze(graph).info(node.id)
    compiled = compile_graph(graph).get_submodule(node.name)
    module = ref.factory().eval()
    out = module(torch.zeros(1, *ref.shape))
    assert info.shape == tuple(out.shape[1:]) == ref.shape
    assert info.params == sum(p.numel() for p in module.parameters())
    assert info.params == sum(p.numel() for p in compiled.parameters())
    assert info.macs == ref.shape[1] * ref.shape[2] * (49 + 8 * ref.shape[0]) * ref.shape[0]


@pytest.mark.parametrize("ref", [pytest.param(r, id=r.id) for r in REFERENCES])
def test_with_torchvisions_weights_the_block_computes_cnblock(ref: Reference) -> None:
    graph, node = wrapped(ref)
    model = compile_graph(graph)
    block = model.get_submodule(node.name)
    module = randomised(ref.factory())
    theirs = module.state_dict()
    ours = {key: theirs[torchvision_key(key)] for key in block.state_dict()}
    assert set(map(torchvision_key, ours)) == set(theirs)
    block.load_state_dict(ours)
    x = torch.randn(2, *ref.shape, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        assert (model(x) - module(x)).abs().max().item() < 1e-5


def test_stochastic_depth_drops_whole_samples_in_training() -> None:
    ref = Reference("convnext_block", {"channels": 4, "layer_scale": 1.0,
                                       "stochastic_depth_prob": 0.5}, (4, 3, 3), lambda: None)
    graph, _ = wrapped(ref)
    model = compile_graph(graph, seed=0).train()
    x = torch.randn(64, *ref.shape, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(0)
    with torch.no_grad():
        kept = ((model(x) - x).flatten(1).abs().amax(dim=1) > 0)
    assert 0 < int(kept.sum()) < 64
    assert isinstance(model.get_submodule("block.stochastic_depth"), nn.Module)
