"""Transformer blocks: self-attention, patch embedding, token selection, the ViT encoder block.

A token sequence is an ``L×E`` sample: ``L`` tokens of ``E`` features each (batch first,
as torchvision's Vision Transformer holds it).

* ``multihead_attention`` — ``torch.nn.MultiheadAttention`` as self-attention (queries,
  keys and values are the input; only the output is returned);
* ``patch_embedding`` — a ViT's input stage: a C×H×W image cut into p×p patches, each
  projected to ``hidden_dim`` features, a learnt class token put first and a learnt
  position embedding added: ``(1 + ⌊H/p⌋·⌊W/p⌋)×hidden_dim`` tokens;
* ``token_select`` — one token of the sequence (``x[:, 0]``: the class token a ViT's head
  reads);
* ``transformer_encoder`` — a composite: torchvision's ViT ``EncoderBlock`` (pre-norm
  attention and MLP, each with a residual sum), editable layer by layer.

**Multiply-adds of attention.** The four projections (queries, keys, values and output)
cost ``4·L·E²``; the attention scores ``Q·Kᵀ`` and the weighted sum of the values cost
``L²·E`` each, so ``4·L·E² + 2·L²·E`` in all, which is what
``torch.utils.flop_counter.FlopCounterMode`` measures (2 FLOPs per multiply-add) and what
torchvision's published ViT figures count. The softmax, the scaling by 1/√(E/h) and the
bias additions count 0, as every element-wise operation does here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netbuilder.blocks._composite_util import BRANCH, FAMILY, CompositeSpec
from netbuilder.blocks.formatting import describe, fmt_int, times
from netbuilder.blocks.params import bias_param, float_param, int_param, param_error
from netbuilder.blocks.shape_checks import single_input
from netbuilder.core.builder import Step, add, chain, group
from netbuilder.core.graph import Graph, Node
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import BlockSpec, Inference, Params, ParamSpec, Shape, ShapeError

#: Palette family of the primitive transformer blocks.
TRANSFORMER = "Transformer"


def _modules() -> Any:
    """:mod:`netbuilder.blocks.transformer_modules` (imports torch)."""
    from netbuilder.blocks import transformer_modules

    return transformer_modules


def token_sequence(key: str, inputs: Sequence[Shape]) -> tuple[int, int]:
    """The ``(L, E)`` of the one ``L×E`` token-sequence input.

    Raises:
        ShapeError: when there is not one input, or it is not two-dimensional.
    """
    shape = single_input(key, inputs)
    if len(shape) != 2:
        raise ShapeError(f"{key} expects a sequence of tokens L×E (tokens × features), "
                         f"got {describe(shape)}", (0,))
    return shape[0], shape[1]


def attention_macs(tokens: int, embed: int) -> tuple[int, int]:
    """Multiply-adds of self-attention: the four projections and the two matrix products."""
    return 4 * tokens * embed * embed, 2 * tokens * tokens * embed


# -- multi-head attention --------------------------------------------------------------------
@dataclass(frozen=True)
class MultiheadAttentionSpec(BlockSpec):
    """``torch.nn.MultiheadAttention(batch_first=True)`` called as ``attn(x, x, x)[0]``."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Same ``L×E`` shape; ``4E² + 4E`` parameters; ``4·L·E² + 2·L²·E`` MACs.

        Raises:
            ShapeError: when the input is not ``L×E`` or ``E`` does not split into the heads.
        """
        tokens, embed = token_sequence(self.key, inputs)
        heads = params["num_heads"]
        if embed % heads:
            raise ShapeError(f"the {embed} features do not split into {heads} heads", (0,))
        bias = 4 * embed if params["bias"] else 0
        total = 4 * embed * embed + bias
        projections, products = attention_macs(tokens, embed)
        bias_text = f" + 4·{embed}" if bias else ""
        formulas = (
            f"head size: {embed}/{heads} = {embed // heads}",
            f"params: 4·{embed}·{embed}{bias_text} = {fmt_int(total)} (q, k, v, out)",
            f"MACs: 4·{tokens}·{embed}·{embed} (projections) + 2·{tokens}·{tokens}·{embed} "
            f"(Q·Kᵀ and weights·V) = {fmt_int(projections + products)}",
        )
        return Inference((tokens, embed), total, projections + products, formulas=formulas)

    def label(self, params: Params) -> str:
        """``12 heads``."""
        heads = params["num_heads"]
        return f"{heads} head{'s' * (heads != 1)}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """:class:`~netbuilder.blocks.transformer_modules.SelfAttention` of the input's ``E``."""
        return _modules().SelfAttention(inputs[0][-1], params["num_heads"],
                                        dropout=params["dropout"], bias=params["bias"])


# -- patch embedding ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PatchEmbeddingSpec(BlockSpec):
    """A ViT's input stage: patches projected to tokens, class token, position embedding."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """``(1 + ⌊H/p⌋·⌊W/p⌋)×hidden_dim`` tokens (no ``1 +`` without a class token).

        Raises:
            ShapeError: when the input is not C×H×W or smaller than one patch.
        """
        channels, height, width = single_input(self.key, inputs, (3,))
        patch, hidden = params["patch_size"], params["hidden_dim"]
        if min(height, width) < patch:
            raise ShapeError(f"the {height}×{width} image is smaller than one {patch}×{patch} "
                             "patch", (0,))
        rows, columns = height // patch, width // patch
        extra = 1 if params["class_token"] else 0
        tokens = rows * columns + extra
        projection = patch * patch * channels * hidden + hidden
        total = projection + extra * hidden + tokens * hidden
        macs = rows * columns * hidden * patch * patch * channels
        token_text = f"1 + {rows * columns}" if extra else f"{rows * columns}"
        class_text = f" + {hidden} (class token)" if extra else ""
        formulas = (
            f"patches: ⌊{height}/{patch}⌋·⌊{width}/{patch}⌋ = {rows}·{columns} = "
            f"{rows * columns}",
            f"tokens: {token_text} = {tokens}",
            f"params: {patch}·{patch}·{channels}·{hidden} + {hidden} (projection){class_text}"
            f" + {tokens}·{hidden} (positions) = {fmt_int(total)}",
            f"MACs: {rows * columns}·{hidden} · {patch}·{patch}·{channels} = {fmt_int(macs)}",
        )
        return Inference((tokens, hidden), total, macs, kernel=patch, stride=patch,
                         formulas=formulas)

    def label(self, params: Params) -> str:
        """``16×16 → 768``."""
        patch = params["patch_size"]
        return f"{times((patch, patch))} → {params['hidden_dim']}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """:class:`~netbuilder.blocks.transformer_modules.PatchEmbedding` for the input size."""
        channels, height, width = inputs[0]
        patch = params["patch_size"]
        return _modules().PatchEmbedding(channels, params["hidden_dim"], patch,
                                         (height // patch) * (width // patch),
                                         class_token=params["class_token"],
                                         dropout=params["dropout"])


# -- token selection -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenSelectSpec(BlockSpec):
    """``x[:, index]``: one token of an ``L×…`` sequence."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The shape of one token (the input without its first dimension).

        Raises:
            ShapeError: when the input is a vector or ``index`` is not one of its tokens.
        """
        shape = single_input(self.key, inputs)
        if len(shape) < 2:
            raise ShapeError(f"{self.key} expects a sequence of tokens (L×E), got "
                             f"{describe(shape)}", (0,))
        index, tokens = params["index"], shape[0]
        if not -tokens <= index < tokens:
            raise ShapeError(f"token {index} is out of range for {tokens} tokens", (0,))
        return Inference(shape[1:], formulas=(f"{times(shape)} → token {index}: "
                                              f"{times(shape[1:])}",))

    def label(self, params: Params) -> str:
        """``token 0``."""
        return f"token {params['index']}"

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """:class:`~netbuilder.blocks.transformer_modules.TokenSelect`."""
        return _modules().TokenSelect(params["index"])


# -- the ViT encoder block ---------------------------------------------------------------------
def _dropout(name: str, p: float) -> list[Step]:
    """A dropout step, or none when ``p`` is 0 (it would compute nothing)."""
    return [("dropout", name, dict(p=p))] if p > 0 else []


class TransformerEncoder(CompositeSpec):
    """torchvision's ViT ``EncoderBlock``: pre-norm self-attention and MLP, each residual.

    Body: ``ln_1`` → ``self_attention`` → [``dropout``] → ``add1`` ← x, → ``ln_2`` →
    ``mlp`` (``0`` linear to ``mlp_dim`` → ``1`` GELU → [``2`` dropout] → ``3`` linear
    back to ``hidden_dim`` → [``4`` dropout]) → ``add2`` ← ``add1``. Node names are
    torchvision's, so ``state_dict`` keys match (``ln_1.weight``,
    ``self_attention.in_proj_weight``, ``mlp.0.weight``…). Dropouts with ``p = 0`` are
    left out (torchvision keeps them; they compute nothing and hold no weights).
    ``hidden_dim`` must equal the input's features.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the attention half, the MLP half and their residual sums fed by ``x``."""
        attention = chain(graph, x, [
            ("layernorm", "ln_1", dict(eps=params["eps"])),
            ("multihead_attention", "self_attention",
             dict(num_heads=params["num_heads"], dropout=params["attention_dropout"])),
            *_dropout("dropout", params["dropout"]),
        ], column=BRANCH)
        first = add(graph, "add", "add1", attention, x)
        norm = add(graph, "layernorm", "ln_2", first, column=BRANCH, eps=params["eps"])
        mlp = group(graph, norm, "mlp", lambda body, y: chain(body, y, _mlp_steps(params)),
                    column=BRANCH)
        return add(graph, "add", "add2", first, mlp)

    def check(self, params: Params, node: str = "") -> None:
        """``hidden_dim`` must split into the heads."""
        if params["hidden_dim"] % params["num_heads"]:
            raise param_error(node, f"hidden_dim={params['hidden_dim']} is not divisible by "
                                    f"num_heads={params['num_heads']}")

    def label(self, params: Params) -> str:
        """E.g. ``768, 12 heads, MLP 3072``."""
        return f"{params['hidden_dim']}, {params['num_heads']} heads, MLP {params['mlp_dim']}"


def _mlp_steps(params: Params) -> list[Step]:
    """torchvision's ``MLPBlock``: linear, GELU, dropout, linear, dropout (named 0 to 4)."""
    return [
        ("linear", "0", dict(out_features=params["mlp_dim"])),
        ("gelu", "1", {}),
        *_dropout("2", params["dropout"]),
        ("linear", "3", dict(out_features=params["hidden_dim"])),
        *_dropout("4", params["dropout"]),
    ]


TRANSFORMER_ENCODER = TransformerEncoder(
    key="transformer_encoder", title="Transformer Encoder", family=FAMILY,
    default_name="encoder_layer",
    help="Pre-norm self-attention and MLP with residual sums, as in ViT (Dosovitskiy et al. "
         "2021)",
    params=(
        int_param("hidden_dim", 768, "Features per token (of the input and the output)",
                  maximum=16384),
        int_param("num_heads", 12, "Attention heads (hidden_dim must divide into them)",
                  maximum=1024),
        int_param("mlp_dim", 3072, "Hidden features of the MLP (4 × hidden_dim in ViT)",
                  maximum=65536),
        float_param("dropout", 0.0, "Dropout after the attention and in the MLP"),
        float_param("attention_dropout", 0.0, "Dropout of the attention weights"),
        ParamSpec("eps", "float", 1e-6, 1e-12, 1.0,
                  help="Added to the variance in both layer norms (1e-6 in ViT)"),
    ),
)


def _specs() -> list[BlockSpec]:
    heads = int_param("num_heads", 8, "Attention heads; the features must divide into them",
                      maximum=1024)
    return [
        MultiheadAttentionSpec(
            key="multihead_attention", title="Multi-Head Attention", family=TRANSFORMER,
            default_name="attention",
            params=(heads, float_param("dropout", 0.0, "Dropout of the attention weights"),
                    bias_param()),
            help="Self-attention over a sequence of tokens (L×E): every token attends to all"),
        PatchEmbeddingSpec(
            key="patch_embedding", title="Patch Embedding", family=TRANSFORMER,
            default_name="patch_embed",
            params=(int_param("patch_size", 16, "Side of the square patches", maximum=1024),
                    int_param("hidden_dim", 768, "Features per token", maximum=16384),
                    ParamSpec("class_token", "bool", True,
                              help="Put a learnt class token before the patches"),
                    float_param("dropout", 0.0, "Dropout after adding the positions")),
            help="Cut an image into patches, project each to a token, add a class token "
                 "and positions (ViT)"),
        TokenSelectSpec(
            key="token_select", title="Select Token", family=TRANSFORMER, default_name="token",
            params=(ParamSpec("index", "int", 0, -4096, 4096,
                              help="Which token (0: the class token; −1: the last)"),),
            help="One token of a sequence, e.g. the class token a ViT's head reads"),
        TRANSFORMER_ENCODER,
    ]


def register(registry: BlockRegistry) -> None:
    """Register the transformer blocks."""
    for spec in _specs():
        registry.register(spec)
