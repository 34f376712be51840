"""The transformer blocks: what the user reads, and equality with torch and torchvision.

``multihead_attention``, ``patch_embedding`` and ``token_select`` are also in the property
test of every primitive block (``test_primitives.py``); here their formulas and labels, the
attention's multiply-adds measured by ``FlopCounterMode``, and, with copied weights, the
same outputs as ``nn.MultiheadAttention`` and torchvision's Vision Transformer. The
``transformer_encoder`` composite is checked like the other composites (helpers of
``test_composite``) against torchvision's ``EncoderBlock``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.vision_transformer import EncoderBlock, VisionTransformer

from netbuilder.compiler import compile_graph
from netbuilder.compiler.source import to_source
from netbuilder.core.analysis import analyze
from netbuilder.core.errors import ParameterValueError
from netbuilder.core.graph import Graph
from netbuilder.core.registry import default_registry
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT, Inference, ShapeError
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


def infer(key: str, *inputs: tuple[int, ...], **params: Any) -> Inference:
    spec = REGISTRY.get(key)
    return spec.infer(spec.resolve(params), inputs)


def measured_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-adds per sample counted by ``FlopCounterMode`` (2 FLOPs each)."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        module(*inputs)
    return counter.get_total_flops() // (2 * inputs[0].shape[0])


# -- what the user reads ------------------------------------------------------------------
def test_attention_shows_heads_parameters_and_both_kinds_of_multiply_adds() -> None:
    result = infer("multihead_attention", (197, 768), num_heads=12)
    assert result.shape == (197, 768)
    assert result.params == 4 * 768 * 768 + 4 * 768 == 2_362_368
    assert result.macs == 4 * 197 * 768 ** 2 + 2 * 197 ** 2 * 768
    assert result.formulas == (
        "head size: 768/12 = 64",
        "params: 4·768·768 + 4·768 = 2,362,368 (q, k, v, out)",
        "MACs: 4·197·768·768 (projections) + 2·197·197·768 (Q·Kᵀ and weights·V) = 524,391,936")
    assert infer("multihead_attention", (4, 8), bias=False).params == 4 * 8 * 8
    assert REGISTRY.get("multihead_attention").label({"num_heads": 1}) == "1 head"


def test_patch_embedding_counts_patches_tokens_and_its_three_kinds_of_weights() -> None:
    result = infer("patch_embedding", (3, 224, 224))
    assert result.shape == (197, 768)
    assert result.formulas == (
        "patches: ⌊224/16⌋·⌊224/16⌋ = 14·14 = 196",
        "tokens: 1 + 196 = 197",
        "params: 16·16·3·768 + 768 (projection) + 768 (class token) + 197·768 (positions) "
        "= 742,656",
        "MACs: 196·768 · 16·16·3 = 115,605,504")
    plain = infer("patch_embedding", (3, 30, 20), patch_size=8, hidden_dim=4, class_token=False)
    assert plain.shape == (6, 4)
    assert plain.params == 8 * 8 * 3 * 4 + 4 + 6 * 4
    assert REGISTRY.get("patch_embedding").label(
        REGISTRY.get("patch_embedding").defaults()) == "16×16 → 768"


def test_refusals_say_what_is_wrong() -> None:
    with pytest.raises(ShapeError, match="do not split into 12 heads"):
        infer("multihead_attention", (10, 100), num_heads=12)
    with pytest.raises(ShapeError, match="sequence of tokens L×E"):
        infer("multihead_attention", (3, 8, 8))
    with pytest.raises(ShapeError, match="smaller than one 16×16 patch"):
        infer("patch_embedding", (3, 8, 32))
    with pytest.raises(ShapeError, match="token 5 is out of range for 5 tokens"):
        infer("token_select", (5, 16), index=5)
    assert infer("token_select", (5, 16), index=-1).shape == (16,)


@pytest.mark.parametrize(("tokens", "embed", "heads"), [(197, 768, 12), (5, 16, 4), (1, 8, 8)])
def test_attention_macs_are_what_the_flop_counter_measures(tokens: int, embed: int,
                                                           heads: int) -> None:
    with torch.device("meta"):
        module = nn.MultiheadAttention(embed, heads, batch_first=True)
        x = torch.empty(2, tokens, embed)
        with FlopCounterMode(display=False) as counter:
            module(x, x, x, need_weights=False)
    assert counter.get_total_flops() // 4 == infer("multihead_attention", (tokens, embed),
                                                   num_heads=heads).macs


# -- against torch and torchvision ----------------------------------------------------------
def test_attention_computes_what_multihead_attention_computes() -> None:
    spec = REGISTRY.get("multihead_attention")
    ours = spec.build(spec.resolve({"num_heads": 4}), [(6, 16)]).eval()
    theirs = randomised(nn.MultiheadAttention(16, 4, batch_first=True))
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 6, 16)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x, x, x)[0], atol=1e-6)


def _small_vit(**kwargs: Any) -> VisionTransformer:
    torch.manual_seed(0)
    options = dict(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16,
                   mlp_dim=24, num_classes=5)
    return randomised(VisionTransformer(**{**options, **kwargs}))


def vit_graph(layers: int = 2, dropout: float = 0.0) -> Graph:
    """The small ViT of :func:`_small_vit` built from blocks, torchvision's names kept."""
    graph = Graph()
    x = graph.add("input", "input", shape=(3, 32, 32))
    x = graph.add("patch_embedding", "embed", after=x, patch_size=8, hidden_dim=16,
                  dropout=dropout)
    for i in range(layers):
        x = graph.add("transformer_encoder", f"encoder_layer_{i}", after=x, hidden_dim=16,
                      num_heads=2, mlp_dim=24, dropout=dropout)
    graph.chain(("layernorm", "ln", {"eps": 1e-6}), ("token_select", "token", {}),
                ("linear", "head", {"out_features": 5}), "output", after=x)
    return graph


def vit_weights(model: VisionTransformer) -> dict[str, torch.Tensor]:
    """torchvision's ViT ``state_dict`` under the keys of :func:`vit_graph`'s module."""
    moved = {"conv_proj.": "embed.conv_proj.", "class_token": "embed.class_token",
             "encoder.pos_embedding": "embed.pos_embedding", "encoder.layers.": "",
             "encoder.ln.": "ln.", "heads.head.": "head."}
    weights = {}
    for key, tensor in model.state_dict().items():
        prefix = next(p for p in moved if key.startswith(p))
        weights[moved[prefix] + key[len(prefix):]] = tensor
    return weights


def test_a_vit_built_from_blocks_equals_torchvisions() -> None:
    model = _small_vit()
    graph = vit_graph()
    analysis = analyze(graph)
    assert analysis.ok, analysis.errors
    assert analysis.total_params == sum(p.numel() for p in model.parameters())
    model.train()  # the measured run takes the path FlopCounterMode sees through
    assert analysis.total_macs == measured_macs(model, torch.randn(2, 3, 32, 32))
    compiled = compile_graph(graph)
    compiled.load_state_dict(vit_weights(model))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (compiled.eval()(x) - model.eval()(x)).abs().max().item() < 1e-5


def test_patch_embedding_is_torchvisions_input_stage() -> None:
    model = _small_vit(dropout=0.0)
    spec = REGISTRY.get("patch_embedding")
    ours = spec.build(spec.resolve({"patch_size": 8, "hidden_dim": 16}), [(3, 32, 32)])
    ours.load_state_dict({k.removeprefix("embed."): v for k, v in vit_weights(model).items()
                          if k.startswith("embed.")})
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        tokens = model._process_input(x)
        tokens = torch.cat([model.class_token.expand(2, -1, -1), tokens], dim=1)
        expected = tokens + model.encoder.pos_embedding
        assert torch.allclose(ours.eval()(x), expected, atol=1e-6)


# -- the encoder block as an editable composite -----------------------------------------------
ENCODER_CASES: list[dict[str, Any]] = [
    {}, {"hidden_dim": 16, "num_heads": 4, "mlp_dim": 32, "dropout": 0.1,
         "attention_dropout": 0.2, "eps": 1e-5}]


@pytest.mark.parametrize("params", ENCODER_CASES)
def test_encoder_body_is_well_formed(params: dict[str, Any]) -> None:
    spec = REGISTRY.get("transformer_encoder")
    assert spec.is_composite and spec.family == "Composite" and "2021" in spec.help
    body = body_of("transformer_encoder", params)
    for level in levels(body):
        assert [n.name for n in level.nodes.values() if n.type == GROUP_INPUT] == ["x"]
        assert [n.name for n in level.nodes.values() if n.type == GROUP_OUTPUT] == ["out"]
        found = names(level)
        assert len(found) == len(set(found)) and all(_NAME.match(n) for n in found), found
        x, out = level.by_name("x"), level.by_name("out")
        for node in level.nodes.values():
            assert level.reaches(x.id, node.id) and level.reaches(node.id, out.id), node.name
        spots = [n.pos for n in level.nodes.values()]
        assert len(spots) == len(set(spots)), "two nodes drawn on top of each other"
    assert spec.label(spec.resolve(params))


def test_encoder_body_is_named_as_torchvision_and_adds_in_its_order() -> None:
    plain = body_of("transformer_encoder", {})
    assert names(plain) == ["x", "ln_1", "self_attention", "add1", "ln_2", "mlp", "add2",
                            "out"]
    assert names(plain.by_name("mlp").body) == ["x", "0", "1", "3", "out"]
    dropped = body_of("transformer_encoder", {"dropout": 0.1})
    assert "dropout" in names(dropped)
    assert names(dropped.by_name("mlp").body) == ["x", "0", "1", "2", "3", "4", "out"]
    assert sources(dropped, dropped.by_name("add1")) == ["dropout", "x"]
    assert sources(dropped, dropped.by_name("add2")) == ["add1", "mlp"]
    attention = plain.by_name("self_attention").resolved
    assert (attention["num_heads"], attention["dropout"]) == (12, 0.0)
    assert plain.by_name("ln_1").resolved["eps"] == pytest.approx(1e-6)


def test_encoder_refuses_a_width_the_heads_do_not_divide() -> None:
    with pytest.raises(ParameterValueError, match="not divisible by num_heads"):
        REGISTRY.get("transformer_encoder").resolve({"hidden_dim": 10, "num_heads": 4})


ENCODER_REFERENCES = [
    Reference("transformer_encoder", {"hidden_dim": 16, "num_heads": 4, "mlp_dim": 24},
              (7, 16), lambda: EncoderBlock(4, 16, 24, 0.0, 0.0)),
    Reference("transformer_encoder", {"hidden_dim": 12, "num_heads": 3, "mlp_dim": 8,
                                      "dropout": 0.1, "attention_dropout": 0.2},
              (5, 12), lambda: EncoderBlock(3, 12, 8, 0.1, 0.2)),
]


@pytest.mark.parametrize("ref", [pytest.param(r, id=r.id) for r in ENCODER_REFERENCES])
def test_encoder_with_torchvisions_weights_computes_encoder_block(ref: Reference) -> None:
    reference = randomised(ref.factory())  # torchvision's layer norms: eps 1e-6
    graph, block = wrapped(ref)
    info = analyze(graph).info(block.id)
    assert info.shape == ref.shape
    assert info.params == sum(p.numel() for p in reference.parameters())
    assert info.macs == measured_macs(reference.train(), torch.randn(2, *ref.shape))
    model = compile_graph(graph)
    compiled = model.get_submodule(block.name)
    ours = {k: tuple(v.shape) for k, v in compiled.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    compiled.load_state_dict(reference.state_dict())
    x = torch.randn(2, *ref.shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (model.eval()(x) - reference.eval()(x)).abs().max().item() < 1e-5


# -- export ----------------------------------------------------------------------------------------
def test_a_vit_of_blocks_exports_as_python_source_with_the_same_weights() -> None:
    graph = vit_graph(layers=1, dropout=0.1)
    text = to_source(graph, "TinyViT")
    assert "netbuilder" not in text and "class SelfAttention(nn.MultiheadAttention)" in text
    namespace: dict[str, Any] = {}
    exec(compile(text, "tiny_vit.py", "exec"), namespace)
    exported = namespace["TinyViT"]().eval()
    compiled = compile_graph(graph).eval()
    exported.load_state_dict(compiled.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(exported(x), compiled(x), atol=1e-6)


def _token_then_relu(inplace: bool) -> Graph:
    graph = Graph()
    x = graph.add("input", "input", shape=(6, 8))
    graph.chain(("linear", "fc0", {"out_features": 8}), "sigmoid", "token_select",
                ("relu", "act", {"inplace": inplace}), ("linear", "fc", {"out_features": 3}),
                "output", after=x)
    return graph


def test_an_in_place_block_after_a_selected_token_is_flagged_as_torch_fails() -> None:
    """``token_select`` returns a view: overwriting it overwrites the sequence it reads."""
    errors = [issue.message for issue in analyze(_token_then_relu(True)).errors]
    assert len(errors) == 1
    assert "in-place operation would overwrite the output of sigmoid" in errors[0]
    model = compile_graph(_token_then_relu(False)).train()
    model.get_submodule("act").inplace = True  # what the flagged graph would compute
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        model(torch.randn(2, 6, 8)).sum().backward()
