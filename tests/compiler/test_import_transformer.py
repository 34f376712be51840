"""Importing attention: self-attention becomes ``multihead_attention`` blocks, torchvision's
ViT ``EncoderBlock`` becomes ``transformer_encoder`` groups, and every other use of
``nn.MultiheadAttention`` (cross-attention, masks, weights read) stays an opaque node; a
sequence-first module has no block either. Every import computes what the model computes
(the importer's own check) and reports the model's parameters and the multiply-adds
``FlopCounterMode`` measures.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import VisionTransformer

from netbuilder.compiler import compile_graph
from netbuilder.compiler.importer import ImportResult, import_module
from netbuilder.compiler.module_map import Unsupported, self_attention_call
from netbuilder.core.analysis import analyze


class Tokens(nn.Module):
    """A small transformer over 6 tokens written by hand, attention used as ``attend``."""

    def __init__(self, attend: str = "self") -> None:
        super().__init__()
        self.attend = attend
        self.embed = nn.Linear(4, 8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = self.embed(x)
        if self.attend == "self":
            out, _weights = self.attn(x, x, x, need_weights=False)
        elif self.attend == "cross":
            out = self.attn(x, x.flip(1), x.flip(1))[0]
        else:  # the attention weights are read too
            out, weights = self.attn(x, x, x)
            out = out + weights.sum(-1, keepdim=True)
        return self.head(out + x)


def counts(result: ImportResult) -> Counter[str]:
    return Counter(node.type for _level, node in result.graph.walk())


def measured_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-adds per sample of ``model`` as ``FlopCounterMode`` counts them."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model.train()(torch.randn(2, *shape))
    model.eval()
    return counter.get_total_flops() // 4


def test_self_attention_becomes_a_block_with_the_modules_weights() -> None:
    model = Tokens().eval()
    result = import_module(model, (6, 4))
    assert result.max_difference is not None
    found = counts(result)
    assert found["multihead_attention"] == 1 and found["opaque"] == 0
    assert {"attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
            "attn.out_proj.bias"} <= set(result.weights)
    analysis = analyze(result.graph)
    assert analysis.total_params == sum(p.numel() for p in model.parameters())
    assert analysis.total_macs == measured_macs(model, (6, 4))


@pytest.mark.parametrize("attend", ["cross", "weights"])
def test_other_uses_of_attention_stay_opaque(attend: str) -> None:
    model = Tokens(attend).eval()
    result = import_module(model, (6, 4))
    assert result.max_difference is not None
    found = counts(result)
    assert found["multihead_attention"] == 0 and found["opaque"] >= 1
    if attend != "weights":  # read twice, the module is kept in two opaque nodes (counted twice)
        assert analyze(result.graph).total_params == sum(p.numel() for p in model.parameters())


def test_only_batch_first_attention_without_extras_has_a_block() -> None:
    assert self_attention_call(nn.MultiheadAttention(8, 2, batch_first=True)).params == {
        "num_heads": 2, "dropout": 0.0, "bias": True}
    for module in (nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 2, kdim=4, vdim=4),
                   nn.MultiheadAttention(8, 2, batch_first=True, add_bias_kv=True)):
        with pytest.raises(Unsupported):
            self_attention_call(module)


def _vit() -> VisionTransformer:
    torch.manual_seed(0)
    return VisionTransformer(image_size=32, patch_size=8, num_layers=3, num_heads=2,
                             hidden_dim=16, mlp_dim=24, num_classes=5,
                             attention_dropout=0.1).eval()


@pytest.mark.parametrize("composites", [True, False])
def test_a_vit_imports_with_editable_encoder_blocks(composites: bool) -> None:
    model = _vit()
    result = import_module(model, (3, 32, 32), composites=composites)
    assert result.max_difference is not None
    found = counts(result)
    assert found["transformer_encoder"] == (3 if composites else 0)
    assert found["multihead_attention"] == 3
    assert found["token_select"] == 1  # the head reads x[:, 0]
    assert found["opaque"] <= 2  # class token, position embedding
    analysis = analyze(result.graph)
    assert analysis.total_params == sum(p.numel() for p in model.parameters())
    assert analysis.total_macs == measured_macs(model, (3, 32, 32))
    if composites:
        assert "encoder.layers.encoder_layer_1.self_attention.in_proj_weight" in \
            result.key_map.values()
    compiled = compile_graph(result.graph)
    compiled.load_state_dict(result.weights)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(compiled.eval()(x), model(x), atol=1e-5)


class TwoTokens(nn.Module):
    """A head reading the first and the last token (``x[:, 0]``, ``x[:, -1]``)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.first = nn.Linear(8, 3)
        self.last = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x)
        return self.first(x[:, 0]) + self.last(x[:, -1]) + x[:, 1:, :3].sum(1)


def test_one_token_taken_by_index_becomes_token_select() -> None:
    result = import_module(TwoTokens().eval(), (5, 8))
    assert result.max_difference is not None
    selects = [node for _level, node in result.graph.walk() if node.type == "token_select"]
    assert sorted(node.resolved["index"] for node in selects) == [-1, 0]
    assert counts(result)["opaque"] == 2  # a slice of tokens (not one token) and its sum
