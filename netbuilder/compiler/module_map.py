"""Which block stands for a ``torch.nn`` module: a table from module type to converter.

:data:`MODULE_CONVERTERS` maps a module class (matched exactly, never a subclass, whose
``forward`` may differ) to a function that reads the module's constructor arguments and
returns the equivalent :class:`BlockCall`. Learnable sizes (``in_channels``,
``num_features``...) are never block parameters: the block reads them from its input shape,
and the importer checks the weights fit when it verifies the import.

:func:`composite_converters` maps torchvision's building blocks (ResNet's ``BasicBlock``,
DenseNet's ``_DenseBlock``...) to the composite blocks of
:mod:`netbuilder.blocks.composite`, which name their inner nodes as torchvision does. The
importer uses one only after checking that the composite computes what the module computes.

A converter raises :class:`Unsupported` with a reason shown to the user when a module uses
an option no block has (``padding_mode="reflect"``, ``return_indices=True``...).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

from torch import nn
from torch.nn.utils import parametrize

#: A batch-less input shape: ``(C, H, W)``; empty when unknown.
Shape = tuple[int, ...]


@dataclass(frozen=True)
class BlockCall:
    """One block to add: its registry key, its parameters and a name hint.

    Attributes:
        block: Block registry key (``conv2d``).
        params: Block parameters (named as in ``torch.nn``).
        name: Preferred node name; empty for the module's own name or the call's name.
        renames: Where the block keeps what the module names otherwise: module name or
            ``state_dict`` key (a prefix of it) → the block's (see :func:`renamed`).
    """

    block: str
    params: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    renames: dict[str, str] = field(default_factory=dict)


def renamed(key: str, renames: dict[str, str]) -> str:
    """``key`` (a module name or ``state_dict`` key) under the block's names: its longest
    prefix in ``renames`` replaced (``layers.1.weight`` → ``conv.0.1.weight``)."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in renames:
            return ".".join((renames[prefix], *parts[end:]))
    return key


class Unsupported(Exception):
    """A module or call that no block reproduces; the message says why."""


ModuleConverter = Callable[[nn.Module, Shape], BlockCall]


def compact(value: Any) -> Any:
    """``(3, 3)`` → ``3``; other tuples and lists as tuples; anything else unchanged."""
    if isinstance(value, (tuple, list)):
        items = tuple(value)
        return items[0] if items and all(v == items[0] for v in items) else items
    return value


def first(value: Any) -> Any:
    """The first element of a tuple, or the value itself."""
    return value[0] if isinstance(value, (tuple, list)) else value


# -- convolution and linear -------------------------------------------------------------
def _check_zeros_padding(module: nn.Module) -> None:
    mode = getattr(module, "padding_mode", "zeros")
    if mode != "zeros":
        raise Unsupported(f"padding_mode={mode!r} (only zero padding has a block)")


def _conv(module: nn.Module, shape: Shape) -> BlockCall:
    _check_zeros_padding(module)
    padding = module.padding if isinstance(module.padding, str) else compact(module.padding)
    return BlockCall(f"conv{len(module.kernel_size)}d", dict(
        out_channels=module.out_channels, kernel_size=compact(module.kernel_size),
        stride=compact(module.stride), padding=padding, dilation=compact(module.dilation),
        groups=module.groups, bias=module.bias is not None))


def _conv_transpose(module: nn.Module, shape: Shape) -> BlockCall:
    _check_zeros_padding(module)
    return BlockCall("conv_transpose2d", dict(
        out_channels=module.out_channels, kernel_size=compact(module.kernel_size),
        stride=compact(module.stride), padding=compact(module.padding),
        output_padding=compact(module.output_padding), groups=module.groups,
        bias=module.bias is not None, dilation=compact(module.dilation)))


def _linear(module: nn.Module, shape: Shape) -> BlockCall:
    return BlockCall("linear", dict(out_features=module.out_features,
                                    bias=module.bias is not None))


# -- pooling ------------------------------------------------------------------------------
def _max_pool(dims: int, module: nn.Module, shape: Shape) -> BlockCall:
    if module.return_indices:
        raise Unsupported("return_indices=True (the block returns the values only)")
    return BlockCall(f"maxpool{dims}d", dict(
        kernel_size=compact(module.kernel_size), stride=compact(module.stride),
        padding=compact(module.padding), dilation=compact(module.dilation),
        ceil_mode=bool(module.ceil_mode)))


def _avg_pool(dims: int, module: nn.Module, shape: Shape) -> BlockCall:
    if getattr(module, "divisor_override", None) is not None:
        raise Unsupported("divisor_override (the block divides by the window size)")
    return BlockCall(f"avgpool{dims}d", dict(
        kernel_size=compact(module.kernel_size), stride=compact(module.stride),
        padding=compact(module.padding), ceil_mode=bool(module.ceil_mode),
        count_include_pad=bool(module.count_include_pad)))


def output_size(size: Any, shape: Shape, dims: int) -> Any:
    """An adaptive pool's ``output_size`` with ``None`` entries (keep) read from ``shape``."""
    sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * dims
    if any(s is None for s in sizes):
        if len(shape) != dims + 1:
            raise Unsupported("output_size keeps an input size that is unknown")
        sizes = tuple(n if s is None else s for s, n in zip(sizes, shape[1:]))
    return compact(sizes)


def _adaptive(block: str, dims: int, module: nn.Module, shape: Shape) -> BlockCall:
    if getattr(module, "return_indices", False):
        raise Unsupported("return_indices=True (the block returns the values only)")
    return BlockCall(block, dict(output_size=output_size(module.output_size, shape, dims)))


# -- normalisation ------------------------------------------------------------------------
def _batch_norm(dims: int, module: nn.Module, shape: Shape) -> BlockCall:
    return BlockCall(f"batchnorm{dims}d", dict(
        eps=float(module.eps), momentum=module.momentum, affine=bool(module.affine),
        track_running_stats=bool(module.track_running_stats)))


def _layer_norm(module: nn.Module, shape: Shape) -> BlockCall:
    normalized = tuple(module.normalized_shape)
    if shape and tuple(shape[-len(normalized):]) != normalized:
        raise Unsupported(f"normalized_shape {normalized} is not the input's last dimensions")
    return BlockCall("layernorm", dict(
        normalized_dims=len(normalized), eps=float(module.eps),
        elementwise_affine=bool(module.elementwise_affine),
        bias=getattr(module, "bias", None) is not None or not module.elementwise_affine))


def _group_norm(module: nn.Module, shape: Shape) -> BlockCall:
    return BlockCall("groupnorm", dict(num_groups=module.num_groups, eps=float(module.eps),
                                       affine=bool(module.affine)))


def _lrn(module: nn.Module, shape: Shape) -> BlockCall:
    return BlockCall("lrn", dict(size=module.size, alpha=float(module.alpha),
                                 beta=float(module.beta), k=float(module.k)))


# -- activations and regularisation --------------------------------------------------------
def _reads(block: str, *attrs: str) -> ModuleConverter:
    """A converter copying the module attributes ``attrs`` into the block's parameters."""
    def convert(module: nn.Module, shape: Shape) -> BlockCall:
        return BlockCall(block, {name: getattr(module, name) for name in attrs})
    return convert


def _prelu(module: nn.Module, shape: Shape) -> BlockCall:
    count = module.num_parameters
    if count != 1 and (not shape or count != shape[0]):
        raise Unsupported(f"num_parameters={count} is neither 1 nor the input's channels")
    init = float(getattr(module, "init", 0.25))
    return BlockCall("prelu", dict(per_channel=count != 1,
                                   init=init if 0.0 <= init <= 1.0 else 0.25))


def _softmax(block: str, module: nn.Module, shape: Shape) -> BlockCall:
    if module.dim is None:
        raise Unsupported("dim=None (an implicit dimension); set dim explicitly")
    return BlockCall(block, dict(dim=module.dim))


def _dropout2d(module: nn.Module, shape: Shape) -> BlockCall:
    if shape and len(shape) != 3:
        raise Unsupported("the input is not a C×H×W image")
    return BlockCall("dropout2d", dict(p=float(module.p), inplace=bool(module.inplace)))


def _identity(module: nn.Module, shape: Shape) -> BlockCall:
    return BlockCall("identity")


def _stochastic_depth(module: nn.Module, shape: Shape) -> BlockCall:
    return BlockCall("stochastic_depth", dict(p=float(module.p), mode=module.mode))


def upsample_call(size: Any, scale: Any, mode: str, align_corners: Any) -> BlockCall:
    """The ``upsample`` block for ``nn.Upsample``/``F.interpolate`` arguments.

    Raises:
        Unsupported: for modes other than nearest and bilinear, or per-axis scales.
    """
    if mode not in ("nearest", "bilinear"):
        raise Unsupported(f"mode={mode!r} (the block has nearest and bilinear)")
    if isinstance(scale, (tuple, list)):
        if len(set(scale)) != 1:
            raise Unsupported(f"scale_factor={tuple(scale)} differs per axis")
        scale = scale[0]
    if size is not None:
        sizes = compact(size)
        return BlockCall("upsample", dict(size=tuple(sizes) if isinstance(sizes, tuple)
                                          else (sizes,), scale_factor=None, mode=mode,
                                          align_corners=bool(align_corners)))
    return BlockCall("upsample", dict(scale_factor=float(scale), mode=mode,
                                      align_corners=bool(align_corners)))


def _upsample(module: nn.Module, shape: Shape) -> BlockCall:
    if getattr(module, "recompute_scale_factor", None):
        raise Unsupported("recompute_scale_factor=True")
    return upsample_call(module.size, module.scale_factor, module.mode,
                         module.align_corners)


def _layer_norm_2d(module: nn.Module, shape: Shape) -> BlockCall:
    if tuple(module.normalized_shape) != shape[:1] or (
            module.elementwise_affine and module.bias is None):
        raise Unsupported(f"normalized_shape {tuple(module.normalized_shape)} is not the "
                          "input's channels, or a scale without a shift")
    return BlockCall("layernorm2d", dict(eps=float(module.eps),
                                         elementwise_affine=bool(module.elementwise_affine)))


def self_attention_call(module: nn.Module) -> BlockCall:
    """The ``multihead_attention`` block for an ``nn.MultiheadAttention`` used as
    self-attention (``attn(x, x, x)[0]``, the caller checks that use).

    Raises:
        Unsupported: for options the block does not have (sequence-first inputs, key and
            value sizes of their own, extra key/value biases, a zero attention row).
    """
    if not module.batch_first:
        raise Unsupported("batch_first=False (the block reads tokens batch first)")
    if not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn:
        raise Unsupported("kdim/vdim, add_bias_kv or add_zero_attn (the block has none)")
    return BlockCall("multihead_attention", dict(
        num_heads=module.num_heads, dropout=float(module.dropout),
        bias=module.in_proj_bias is not None))


def _self_attention(module: nn.Module, shape: Shape) -> BlockCall:
    return self_attention_call(module)


def _module_table() -> dict[type[nn.Module], ModuleConverter]:
    table: dict[type[nn.Module], ModuleConverter] = {
        nn.Conv1d: _conv, nn.Conv2d: _conv, nn.Conv3d: _conv,
        nn.ConvTranspose2d: _conv_transpose, nn.Linear: _linear,
        nn.AdaptiveAvgPool1d: partial(_adaptive, "adaptive_avgpool1d", 1),
        nn.AdaptiveAvgPool2d: partial(_adaptive, "adaptive_avgpool2d", 2),
        nn.AdaptiveMaxPool2d: partial(_adaptive, "adaptive_maxpool2d", 2),
        nn.LayerNorm: _layer_norm, nn.GroupNorm: _group_norm, nn.LocalResponseNorm: _lrn,
        nn.ReLU: _reads("relu", "inplace"),
        nn.LeakyReLU: _reads("leaky_relu", "negative_slope", "inplace"),
        nn.PReLU: _prelu, nn.ELU: _reads("elu", "alpha", "inplace"),
        nn.GELU: _reads("gelu", "approximate"), nn.SiLU: _reads("silu", "inplace"),
        nn.Sigmoid: _reads("sigmoid"), nn.Tanh: _reads("tanh"),
        nn.Softmax: partial(_softmax, "softmax"),
        nn.LogSoftmax: partial(_softmax, "log_softmax"),
        nn.Hardswish: _reads("hardswish", "inplace"),
        nn.ReLU6: _reads("relu6", "inplace"), nn.Hardsigmoid: _reads("hardsigmoid", "inplace"),
        nn.Mish: _reads("mish", "inplace"), nn.Upsample: _upsample,
        nn.ChannelShuffle: _reads("channel_shuffle", "groups"),
        nn.Dropout: _reads("dropout", "p", "inplace"), nn.Dropout2d: _dropout2d,
        nn.Flatten: _reads("flatten", "start_dim", "end_dim"), nn.Identity: _identity,
        nn.MultiheadAttention: _self_attention,
    }
    for dims in (1, 2, 3):
        table[getattr(nn, f"MaxPool{dims}d")] = partial(_max_pool, dims)
        table[getattr(nn, f"AvgPool{dims}d")] = partial(_avg_pool, dims)
        table[getattr(nn, f"BatchNorm{dims}d")] = partial(_batch_norm, dims)
    try:
        from torchvision.ops import StochasticDepth
    except ImportError:  # pragma: no cover - torchvision is a dependency
        return table
    table[StochasticDepth] = _stochastic_depth
    from torchvision.models.convnext import LayerNorm2d

    table[LayerNorm2d] = _layer_norm_2d
    return table


#: Module class → converter, for every module a primitive block reproduces.
MODULE_CONVERTERS: dict[type[nn.Module], ModuleConverter] = _module_table()


def convert_module(module: nn.Module, shape: Shape) -> BlockCall:
    """The block reproducing ``module`` on inputs of batch-less ``shape``.

    Raises:
        Unsupported: when no block reproduces the module, saying why.
    """
    converter = MODULE_CONVERTERS.get(type(module))
    if converter is None:
        raise Unsupported("module not supported")
    if parametrize.is_parametrized(module):
        raise Unsupported("parametrized weights (e.g. weight normalisation) are not supported")
    return converter(module, shape)


# -- torchvision building blocks → composite blocks ------------------------------------------
CompositeConverter = Callable[[Any], BlockCall]


def _basic_block(module: Any) -> BlockCall:
    shortcut = "identity" if module.downsample is None else "projection"
    return BlockCall("basic_block", dict(out_channels=module.conv1.out_channels,
                                         stride=first(module.conv1.stride), shortcut=shortcut))


def _bottleneck(module: Any) -> BlockCall:
    out, width, groups = module.conv3.out_channels, module.conv1.out_channels, module.conv2.groups
    planes = out // module.expansion
    base_width = round(width * 64 / (groups * planes))
    if int(planes * base_width / 64) * groups != width:
        raise Unsupported(f"width {width} is not planes × base_width / 64 × groups")
    shortcut = "identity" if module.downsample is None else "projection"
    return BlockCall("bottleneck", dict(
        planes=planes, expansion=module.expansion, stride=first(module.conv2.stride),
        groups=groups, base_width=base_width, shortcut=shortcut))


def _basic_conv2d(module: Any) -> BlockCall:
    conv = module.conv
    return BlockCall("conv_bn_relu", dict(
        out_channels=conv.out_channels, kernel_size=compact(conv.kernel_size),
        stride=compact(conv.stride), padding=compact(conv.padding), groups=conv.groups,
        bias=conv.bias is not None, eps=float(module.bn.eps)))


def _inception(module: Any) -> BlockCall:
    def channels(branch: Any) -> int:
        return int(branch.conv.out_channels)

    return BlockCall("inception", dict(
        ch1x1=channels(module.branch1), ch3x3red=channels(module.branch2[0]),
        ch3x3=channels(module.branch2[1]), ch5x5red=channels(module.branch3[0]),
        ch5x5=channels(module.branch3[1]), pool_proj=channels(module.branch4[1]),
        kernel_5x5=first(module.branch3[1].conv.kernel_size),
        eps=float(module.branch1.bn.eps)))


def _dense_block(module: Any) -> BlockCall:
    layers = list(module.values())
    growth = layers[0].conv2.out_channels
    return BlockCall("dense_block", dict(
        num_layers=len(layers), growth_rate=growth,
        bn_size=layers[0].conv1.out_channels // growth,
        drop_rate=float(layers[0].drop_rate)))


def _transition(module: Any) -> BlockCall:
    return BlockCall("transition", dict(out_channels=module.conv.out_channels))


#: Activation module class → its block key, for the composites' ``activation`` choices.
_ACTIVATION_KEYS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardswish: "hardswish", nn.SiLU: "silu",
    nn.Sigmoid: "sigmoid", nn.Hardsigmoid: "hardsigmoid"}


def _activation_key(module: Any) -> str:
    key = _ACTIVATION_KEYS.get(type(module))
    if key is None:
        raise Unsupported(f"activation {type(module).__name__}")
    return key


def _squeeze_excitation(module: Any) -> BlockCall:
    return BlockCall("se_block", dict(
        channels=module.fc2.out_channels, squeeze_channels=module.fc1.out_channels,
        activation=_activation_key(module.activation),
        gate=_activation_key(module.scale_activation)))


def _conv_norm_act(layer: Any) -> tuple[Any, Any, str]:
    """A ``Conv2dNormActivation``'s convolution, batch norm and activation key."""
    conv, norm, *rest = list(layer)
    if not isinstance(conv, nn.Conv2d) or not isinstance(norm, nn.BatchNorm2d) \
            or len(rest) > 1:
        raise Unsupported("not a convolution, batch norm and activation")
    return conv, norm, _activation_key(rest[0]) if rest else "none"


def _inverted(layers: list[Any], project: Any, module: Any, layout: str) -> BlockCall:
    """MobileNetV2/V3's ``InvertedResidual`` or EfficientNet's ``MBConv`` from its layers:
    [expansion], depthwise, [squeeze-excitation]; ``project`` is the projection's
    convolution."""
    depthwise, norm, activation = _conv_norm_act(layers[1] if len(layers) > 1
                                                 and _is_depthwise(layers[1]) else layers[0])
    entry, _, _ = _conv_norm_act(layers[0])
    se = next((layer for layer in layers if not isinstance(layer, nn.Sequential)), None)
    depth = getattr(module, "stochastic_depth", None)
    return BlockCall("mbconv", dict(
        in_channels=entry.in_channels, out_channels=project.out_channels,
        expand_ratio=depthwise.out_channels / entry.in_channels,
        kernel_size=first(depthwise.kernel_size), stride=first(depthwise.stride),
        squeeze_channels=se.fc1.out_channels if se is not None else 0,
        activation=activation,
        se_activation=_activation_key(se.activation) if se is not None else "relu",
        se_gate=_activation_key(se.scale_activation) if se is not None else "sigmoid",
        stochastic_depth_prob=float(depth.p) if depth is not None else 0.0,
        layout=layout, eps=float(norm.eps), momentum=float(norm.momentum)))


def _is_depthwise(layer: Any) -> bool:
    conv = layer[0] if isinstance(layer, nn.Sequential) else None
    return isinstance(conv, nn.Conv2d) and conv.groups == conv.in_channels > 1


def _inverted_residual_v2(module: Any) -> BlockCall:
    """MobileNetV2: ``conv`` = [expansion], depthwise, 1×1 convolution, batch norm."""
    *layers, project, _norm = list(module.conv)
    return _inverted(layers, project, module, "conv")


def _inverted_residual_v3(module: Any) -> BlockCall:
    """MobileNetV3 (and EfficientNet's ``MBConv``): ``block`` = [expansion], depthwise,
    [squeeze-excitation], projection without activation."""
    *layers, projection = list(module.block)
    project, _, activation = _conv_norm_act(projection)
    if activation != "none":
        raise Unsupported("a projection with an activation")
    return _inverted(layers, project, module, "block")


def _fused_mbconv(module: Any) -> BlockCall:
    """EfficientNetV2's ``FusedMBConv``: ``block`` = k×k [and 1×1 projection]."""
    layers = list(module.block)
    fused, norm, activation = _conv_norm_act(layers[0])
    out = _conv_norm_act(layers[-1])[0].out_channels
    return BlockCall("fused_mbconv", dict(
        in_channels=fused.in_channels, out_channels=out,
        expand_ratio=(fused.out_channels / fused.in_channels if len(layers) > 1 else 1.0),
        kernel_size=first(fused.kernel_size), stride=first(fused.stride),
        activation=activation, stochastic_depth_prob=float(module.stochastic_depth.p),
        eps=float(norm.eps), momentum=float(norm.momentum)))


def _cn_block(module: Any) -> BlockCall:
    """ConvNeXt's ``CNBlock`` (its trained γ comes with the weights). The block holds γ as
    a parameter of its own (``layer_scale``), the composite's ``layer_scale`` node in a
    module (``layer_scale.gamma``)."""
    conv = module.block[0]
    return BlockCall("convnext_block", dict(
        channels=conv.out_channels,
        stochastic_depth_prob=float(module.stochastic_depth.p)),
        renames={"layer_scale": "layer_scale.gamma"})


#: MNASNet's flat ``layers`` → the ``mbconv`` composite's ``conv`` layout.
_MNASNET_NAMES = {"layers.0": "conv.0.0", "layers.1": "conv.0.1", "layers.2": "conv.0.2",
                  "layers.3": "conv.1.0", "layers.4": "conv.1.1", "layers.5": "conv.1.2",
                  "layers.6": "conv.2", "layers.7": "conv.3"}


def _mnasnet_inverted(module: Any) -> BlockCall:
    """MNASNet's ``_InvertedResidual``: ``layers`` = 1×1 expansion, BN, ReLU, depthwise,
    BN, ReLU, 1×1 projection, BN, in one flat ``nn.Sequential``."""
    expand, norm, relu, depthwise, _, _, project, _ = list(module.layers)
    if not isinstance(relu, nn.ReLU):
        raise Unsupported("an activation other than ReLU")
    return BlockCall("mbconv", dict(
        in_channels=expand.in_channels, out_channels=project.out_channels,
        expand_ratio=expand.out_channels / expand.in_channels,
        kernel_size=first(depthwise.kernel_size), stride=first(depthwise.stride),
        activation="relu", layout="conv", eps=float(norm.eps),
        momentum=float(norm.momentum)), renames=dict(_MNASNET_NAMES))


def _encoder_block(module: Any) -> BlockCall:
    """torchvision's ViT ``EncoderBlock`` (its MLP: linear, GELU, dropout, linear, dropout)."""
    attention, first, second = module.self_attention, module.mlp[0], module.mlp[3]
    if module.ln_1.eps != module.ln_2.eps or not isinstance(module.mlp[1], nn.GELU) \
            or module.mlp[2].p != module.dropout.p or module.mlp[4].p != module.dropout.p:
        raise Unsupported("layer norms or MLP unlike torchvision's EncoderBlock")
    if not self_attention_call(attention).params["bias"]:
        raise Unsupported("attention without biases (the block's attention has them)")
    return BlockCall("transformer_encoder", dict(
        hidden_dim=second.out_features, num_heads=attention.num_heads,
        mlp_dim=first.out_features, dropout=float(module.dropout.p),
        attention_dropout=float(attention.dropout), eps=float(module.ln_1.eps)))


@cache
def composite_converters() -> dict[type, CompositeConverter]:
    """torchvision module class → converter to the composite block with the same structure."""
    try:
        (densenet, googlenet, resnet, vit, mobilenetv2, mobilenetv3, efficientnet, convnext,
         mnasnet) = (
            importlib.import_module(f"torchvision.models.{name}")
            for name in ("densenet", "googlenet", "resnet", "vision_transformer",
                         "mobilenetv2", "mobilenetv3", "efficientnet", "convnext", "mnasnet"))
        from torchvision.ops import SqueezeExcitation
    except ImportError:  # pragma: no cover - torchvision is a dependency
        return {}
    return {
        resnet.BasicBlock: _basic_block, resnet.Bottleneck: _bottleneck,
        googlenet.BasicConv2d: _basic_conv2d, googlenet.Inception: _inception,
        densenet._DenseBlock: _dense_block, densenet._Transition: _transition,
        SqueezeExcitation: _squeeze_excitation, vit.EncoderBlock: _encoder_block,
        mobilenetv2.InvertedResidual: _inverted_residual_v2,
        mobilenetv3.InvertedResidual: _inverted_residual_v3,
        efficientnet.MBConv: _inverted_residual_v3, efficientnet.FusedMBConv: _fused_mbconv,
        convnext.CNBlock: _cn_block, mnasnet._InvertedResidual: _mnasnet_inverted,
    }


def convert_composite(module: nn.Module) -> BlockCall | None:
    """The composite block for a torchvision building block, or None when there is none."""
    converter = composite_converters().get(type(module))
    if converter is None:
        return None
    try:
        return converter(module)
    except (AttributeError, TypeError, IndexError, ZeroDivisionError, Unsupported):
        return None


def module_kind(module: nn.Module | type) -> str:
    """The module's class path for messages: ``torchvision.models.googlenet.InceptionAux``."""
    cls = module if isinstance(module, type) else type(module)
    return f"{cls.__module__}.{cls.__qualname__}"


def batchless(shape: Sequence[int] | None) -> Shape:
    """A batch-ful shape without its batch dimension (empty when unknown)."""
    return tuple(shape[1:]) if shape else ()
