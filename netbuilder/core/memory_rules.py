"""What autograd keeps for the backward pass of each block, torch-free.

Each rule names the tensors one block's forward saves, following torch's derivative
formulas (``tools/autograd/derivatives.yaml``) as measured with
``torch.autograd.graph.saved_tensors_hooks`` in ``tests/core/test_memory_autograd.py``:
a convolution keeps its input (to compute the weight gradient), ReLU its output, batch
norm its input and the batch statistics, max pooling its input and the argmax indices,
add and concat nothing. Parameters and buffers that autograd also saves are not counted
here: they are the model's weights, counted once by the planner.

A rule sees the node's parameters, input and output shapes (per sample) and which
inputs carry a gradient, and returns :class:`Saved` items. ``"input"`` and ``"output"``
items are tensors other nodes may share (an in-place ReLU's output *is* its input), so
the planner counts each storage once; ``"extra"`` items are the block's own (a dropout
mask, pooling indices).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

Shape = tuple[int, ...]

#: Blocks whose result is their input tensor (a view or the very tensor).
ALIAS_BLOCKS = frozenset({"identity", "flatten", "permute", "token_select", "reshape", "split",
                          "output", "group_output", "group_input"})
#: Blocks CUDA autocast runs in float32 (its fp32 list, ATen's ``AT_FORALL_FP32`` and
#: ``AT_FORALL_FP32_SET_OPT_DTYPE``; upsample's ``upsample_*`` ops are on it too): they
#: cast a half input up. CPU autocast runs them in the input's precision (measured: torch
#: 2.14, bfloat16; the CUDA side is read from ATen's lists, not measured here).
FP32_UNDER_AUTOCAST = frozenset({"softmax", "log_softmax", "layernorm", "layernorm2d",
                                 "groupnorm", "upsample"})
#: Blocks autocast runs in half precision: they cast their input (and weight) down.
#: ``prelu`` is on the lower-precision list that CUDA and CPU autocast share (ATen's
#: ``AT_FORALL_LOWER_PRECISION_FP``); measured on the CPU only (torch 2.14, bfloat16).
HALF_UNDER_AUTOCAST = frozenset({"conv1d", "conv2d", "conv3d", "conv_transpose2d",
                                 "linear", "prelu", "multihead_attention", "patch_embedding"})
#: Blocks whose result is float32 under autocast whatever their input, because an op
#: inside them runs in float32: local response norm's ``avg_pool3d`` (CPU autocast's fp32
#: list; measured, torch 2.14) or its ``pow`` (CUDA autocast's fp32 list; not measured
#: here). They keep their input as it comes, uncast.
FP32_RESULT_UNDER_AUTOCAST = frozenset({"lrn", "patch_embedding"})
# (a patch embedding's convolution runs in half precision, but adding the float32
# position embedding promotes its result to float32: measured, CPU, torch 2.14)


@dataclass(frozen=True)
class Saved:
    """One tensor a block keeps for backward.

    Attributes:
        kind: ``"input"`` (input ``index``), ``"output"`` or ``"extra"``.
        index: Which input, for ``"input"``.
        numel: Elements per sample (``"extra"`` only); ``per_batch`` False means the
            count does not grow with the batch (batch-norm statistics).
        item_bytes: Bytes per element of an ``"extra"``; 0 means the activation dtype.
        what: Short name shown in the arithmetic (``mask``, ``indices``).
        per_batch: Whether ``numel`` is multiplied by the batch size.
    """

    kind: str
    index: int = 0
    numel: int = 0
    item_bytes: int = 0
    what: str = ""
    per_batch: bool = True


@dataclass(frozen=True)
class RuleInput:
    """What a rule is told about one node.

    Attributes:
        params: The node's resolved parameters.
        inputs: Input shapes per sample.
        output: Output shape per sample.
        input_grads: Per input, whether it carries a gradient.
        trainable: Whether the node has parameters that are trained.
        device: ``"cuda"`` or ``"cpu"`` (a dropout mask is 1 byte on CUDA, the
            activation dtype on the CPU).
        input_bytes: Per input, bytes per element as it arrives (2 for a half-precision
            tensor under autocast); empty means 4 each.
        autocast: Whether the forward pass runs under autocast.
    """

    params: dict[str, Any]
    inputs: tuple[Shape, ...]
    output: Shape
    input_grads: tuple[bool, ...]
    trainable: bool
    device: str
    input_bytes: tuple[int, ...] = ()
    autocast: bool = False

    def item_bytes(self, index: int = 0) -> int:
        """Bytes per element of input ``index`` as it arrives."""
        return self.input_bytes[index] if index < len(self.input_bytes) else 4


Rule = Callable[[RuleInput], list[Saved]]


def _input(index: int = 0) -> Saved:
    return Saved("input", index)


def _weighted(rule: RuleInput) -> list[Saved]:
    """conv/linear: the input, needed for the weight gradient."""
    return [_input()] if rule.trainable else []


def _keeps_input(rule: RuleInput) -> list[Saved]:
    """The input; run in place, a copy of it (autograd keeps the value it overwrites)."""
    if not rule.input_grads[0]:
        return []
    if rule.params.get("inplace"):
        return [Saved("extra", numel=prod(rule.inputs[0]), what="input copy")]
    return [_input()]


def _keeps_output(rule: RuleInput) -> list[Saved]:
    return [Saved("output")] if rule.input_grads[0] else []


def _keeps_input_or_output(rule: RuleInput) -> list[Saved]:
    """leaky ReLU, ELU: the output when in place (the input is gone), else the input."""
    if not rule.input_grads[0]:
        return []
    return [Saved("output")] if rule.params.get("inplace") else [_input()]


def _prelu(rule: RuleInput) -> list[Saved]:
    return [_input()] if rule.input_grads[0] or rule.trainable else []


def _batchnorm(rule: RuleInput) -> list[Saved]:
    """The input plus the batch mean and inverse standard deviation per channel."""
    if not (rule.input_grads[0] or rule.trainable):
        return []
    channels = rule.inputs[0][0]
    return [_input(), Saved("extra", numel=2 * channels, item_bytes=4,
                            what=f"mean+invstd 2·{channels}", per_batch=False)]


def _layernorm(rule: RuleInput) -> list[Saved]:
    if not (rule.input_grads[0] or rule.trainable):
        return []
    rows = prod(rule.inputs[0][:len(rule.inputs[0]) - rule.params["normalized_dims"]])
    return [_input(), Saved("extra", numel=2 * rows, item_bytes=4,
                            what=f"mean+rstd 2·{rows}")]


def _layernorm2d(rule: RuleInput) -> list[Saved]:
    """Layer norm over the channels of every position: the input, 2 statistics per position."""
    if not (rule.input_grads[0] or rule.trainable):
        return []
    positions = prod(rule.inputs[0][1:])
    return [_input(), Saved("extra", numel=2 * positions, item_bytes=4,
                            what=f"mean+rstd 2·{positions}")]


def _groupnorm(rule: RuleInput) -> list[Saved]:
    if not (rule.input_grads[0] or rule.trainable):
        return []
    groups = rule.params["num_groups"]
    return [_input(), Saved("extra", numel=2 * groups, item_bytes=4,
                            what=f"mean+rstd 2·{groups}")]


def _lrn(rule: RuleInput) -> list[Saved]:
    """x, the padded squares (C + size − 1 channels), the pow base and the divisor.

    The padded squares are what ``avg_pool3d`` keeps: on the CPU a float32 tensor (CPU
    autocast runs it in float32), elsewhere one of the input's dtype. The pow base and the
    divisor have the result's dtype (float32 under autocast, see
    :data:`FP32_RESULT_UNDER_AUTOCAST`).
    """
    if not rule.input_grads[0]:
        return []
    shape = rule.inputs[0]
    padded = (shape[0] + rule.params["size"] - 1) * prod(shape[1:])
    numel = prod(shape)
    padded_bytes = 4 if rule.device == "cpu" else rule.item_bytes(0)
    return [_input(), Saved("extra", numel=padded, item_bytes=padded_bytes,
                            what="padded squares"),
            Saved("extra", numel=2 * numel, what="pow base+divisor 2·x")]


def _maxpool(rule: RuleInput) -> list[Saved]:
    """The input and the argmax of every output, as int64."""
    if not rule.input_grads[0]:
        return []
    return [_input(), Saved("extra", numel=prod(rule.output), item_bytes=8,
                            what="indices int64")]


def _dropout_mask(rule: RuleInput, numel: int) -> list[Saved]:
    if not rule.input_grads[0] or rule.params.get("p") == 0:
        return []
    item = 1 if rule.device == "cuda" and numel == prod(rule.inputs[0]) else 0
    return [Saved("extra", numel=numel, item_bytes=item, what="mask")]


def _dropout(rule: RuleInput) -> list[Saved]:
    return _dropout_mask(rule, prod(rule.inputs[0]))


def _dropout2d(rule: RuleInput) -> list[Saved]:
    return _dropout_mask(rule, rule.inputs[0][0])


def _stochastic_depth(rule: RuleInput) -> list[Saved]:
    if not rule.input_grads[0] or rule.params.get("p") == 0:
        return []
    per_batch = rule.params.get("mode", "row") == "row"
    return [Saved("extra", numel=1, what="noise", per_batch=per_batch)]


def _multiply(rule: RuleInput) -> list[Saved]:
    """``((a·b)·c)…``: each factor is kept when the other side carries a gradient."""
    saved: list[Saved] = []
    left_grad = rule.input_grads[0]
    for index in range(1, len(rule.inputs)):
        right_grad = rule.input_grads[index]
        if right_grad:
            saved.append(_input(0) if index == 1 else
                         Saved("extra", numel=prod(rule.output), what="partial product"))
        if left_grad:
            saved.append(_input(index))
        left_grad = left_grad or right_grad
    return saved


def _attention(rule: RuleInput) -> list[Saved]:
    """``nn.MultiheadAttention`` as self-attention (``need_weights=False``, batch first).

    Its input, transposed to L×N×E for the packed projection, is copied (kept for the
    projection's weight gradient); q, k and v are views of the projection's one L·3E
    result. Scaled dot-product attention then takes one of two paths:

    * a fused kernel (CPU flash attention without dropout; on CUDA flash or memory-
      efficient attention, dropout or not) keeps q, k, v, its result and the log-sum-exp
      of each row (H·L, float32); the result, read back as L×N×E, is what the output
      projection keeps (the same storage);
    * the CPU's math path, with dropout: q and k scaled (copies), the softmax, the
      dropout mask and the dropped weights (H·L² each) and v; the heads merged back are
      a copy for the output projection. Under CPU autocast this path runs in float32,
      casting q, k and v up (the half-precision projection is then not kept).

    Measured on the CPU with ``saved_tensors_hooks`` (torch 2.14, float32 and bfloat16);
    the CUDA kernels' choice is read from torch's dispatch, not measured here (memory-
    efficient attention pads the log-sum-exp to multiples of 32 rows).
    """
    if not (rule.input_grads[0] or rule.trainable):
        return []
    tokens, features = rule.inputs[0][-2], rule.inputs[0][-1]
    heads = rule.params["num_heads"]
    numel = tokens * features
    copy = Saved("extra", numel=numel, what="input copy L×N×E")
    math = rule.device == "cpu" and rule.params.get("dropout", 0) > 0
    if not math:
        return [copy, Saved("extra", numel=3 * numel, what="q, k, v 3·L·E"),
                Saved("extra", numel=heads * tokens, item_bytes=4,
                      what=f"log-sum-exp {heads}·{tokens}"),
                Saved("extra", numel=numel, what="attention L·E")]
    weights = heads * tokens * tokens
    up = 4 if rule.autocast else 0
    qkv = ([Saved("extra", numel=3 * numel, item_bytes=4, what="q, k, v in float32")]
           if rule.autocast else
           [Saved("extra", numel=3 * numel, what="q, k, v 3·L·E"),
            Saved("extra", numel=2 * numel, what="q, k scaled 2·L·E")])
    return [copy, *qkv,
            Saved("extra", numel=3 * weights, item_bytes=up,
                  what=f"softmax, mask, dropped 3·{heads}·{tokens}²"),
            Saved("extra", numel=numel, what="heads merged L·E")]


def _patch_embedding(rule: RuleInput) -> list[Saved]:
    """The image (the convolution's weight gradient); with dropout, its mask (the
    tokens' dtype: float32 under autocast, see :data:`FP32_RESULT_UNDER_AUTOCAST`)."""
    saved = [_input()] if rule.trainable else []
    if rule.params.get("dropout", 0) > 0 and (rule.trainable or rule.input_grads[0]):
        saved.append(Saved("extra", numel=prod(rule.output),
                           item_bytes=1 if rule.device == "cuda" else 0, what="mask"))
    return saved


def _nothing(rule: RuleInput) -> list[Saved]:
    return []


RULES: dict[str, Rule] = {
    **dict.fromkeys(("conv1d", "conv2d", "conv3d", "conv_transpose2d", "linear"),
                    _weighted),
    **dict.fromkeys(("relu", "sigmoid", "tanh", "softmax", "log_softmax"), _keeps_output),
    **dict.fromkeys(("gelu", "silu", "hardswish", "hardsigmoid", "mish", "relu6"),
                    _keeps_input),
    **dict.fromkeys(("leaky_relu", "elu"), _keeps_input_or_output),
    "prelu": _prelu,
    "layer_scale": _weighted,  # x·γ keeps x for γ's gradient (γ is a weight)
    **dict.fromkeys(("batchnorm1d", "batchnorm2d", "batchnorm3d"), _batchnorm),
    "layernorm": _layernorm, "layernorm2d": _layernorm2d, "groupnorm": _groupnorm,
    "lrn": _lrn,
    **dict.fromkeys(("maxpool1d", "maxpool2d", "maxpool3d", "adaptive_maxpool2d"), _maxpool),
    **dict.fromkeys(("avgpool1d", "avgpool2d", "avgpool3d"), _keeps_input),
    **dict.fromkeys(("adaptive_avgpool1d", "adaptive_avgpool2d", "global_avgpool", "add",
                     "concat", "channel_pad", "upsample", "channel_shuffle", "input",
                     *ALIAS_BLOCKS), _nothing),
    "dropout": _dropout, "dropout2d": _dropout2d, "stochastic_depth": _stochastic_depth,
    "multiply": _multiply,
    "multihead_attention": _attention, "patch_embedding": _patch_embedding,
}


def cast_weight_elements(block: str, params: dict[str, Any], inputs: tuple[Shape, ...],
                         total: int, input_grad: bool) -> int:
    """Elements of the weight whose half-precision copy autocast keeps for ``block`` (one
    of :data:`HALF_UNDER_AUTOCAST`), of ``total`` parameters.

    A convolution or linear layer: all but the bias. Attention: the input projection's
    3E² for the input's gradient, the output projection's E² for its input's, which
    always has one. A patch embedding: its convolution's weight only (not the class token
    or the position embedding).
    """
    if block == "multihead_attention":
        embed = inputs[0][-1]
        return (4 if input_grad else 1) * embed * embed
    if block == "patch_embedding":
        return inputs[0][0] * params["patch_size"] ** 2 * params["hidden_dim"]
    width = params.get("out_channels", params.get("out_features", 0))
    return total - (width if params.get("bias") else 0)


def rule_for(block: str) -> Rule | None:
    """The saved-for-backward rule of ``block``, or None when none is known."""
    return RULES.get(block)


def saved_items(block: str, rule: RuleInput) -> Sequence[Saved] | None:
    """What ``block`` keeps for backward, or None when the block has no rule."""
    found = rule_for(block)
    return None if found is None else found(rule)
