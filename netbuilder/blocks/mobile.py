"""Composite blocks of the mobile networks: MobileNetV1/V2/V3, EfficientNet and EfficientNetV2.

Like :mod:`netbuilder.blocks.composite`, every block here is a group whose body is
generated from its parameters, its nodes named as torchvision names the submodules of the
matching module, so that a compiled block's ``state_dict`` has torchvision's keys:

========================  =============================================================
block                     torchvision counterpart
========================  =============================================================
``conv_bn_act``           ``ops.Conv2dNormActivation`` (``0`` conv, ``1`` BN, ``2`` act)
``depthwise_separable``   none (MobileNetV1 is not in torchvision; timm's names)
``mbconv``                ``models.mobilenetv2.InvertedResidual`` (``layout="conv"``),
                          ``models.mobilenetv3.InvertedResidual`` and
                          ``models.efficientnet.MBConv`` (``layout="block"``)
``fused_mbconv``          ``models.efficientnet.FusedMBConv``
========================  =============================================================

A depthwise convolution has one filter per input channel (``groups`` = channels), so
these blocks take their input channels as a parameter, ``in_channels``, as ``se_block``
takes ``channels``: it fixes the widths inside the body and whether a residual connection
exists (stride 1 and ``in_channels == out_channels``, as torchvision decides it). A wrong
``in_channels`` shows as a shape error inside the block.
"""

from __future__ import annotations

from netbuilder.blocks._composite_util import BRANCH, FAMILY, CompositeSpec
from netbuilder.blocks.composite import SE_ACTIVATIONS, SE_GATES
from netbuilder.blocks.params import float_param, int_param, param_error
from netbuilder.core.builder import COLUMN, Step, add, chain, group_of
from netbuilder.core.graph import Graph, Node
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import Params, ParamSpec

#: Activations a mobile block can use (block keys); ``conv_bn_act`` also takes ``none``.
ACTIVATIONS = SE_ACTIVATIONS
#: Layouts (module names) of ``mbconv``.
LAYOUTS = ("block", "conv")


# -- shared pieces ----------------------------------------------------------------------------
def expanded_channels(params: Params) -> int:
    """Width inside an inverted residual: ``round(in_channels · expand_ratio)``.

    torchvision's MobileNetV2 rounds so; EfficientNet rounds to a multiple of 8, which
    is the same number for every torchvision network (their widths are multiples of 8).
    """
    return round(params["in_channels"] * params["expand_ratio"])


def has_residual(params: Params) -> bool:
    """Whether a block adds its input: stride 1 and as many channels out as in."""
    return params["stride"] == 1 and params["in_channels"] == params["out_channels"]


def cna_params(params: Params, out_channels: int, kernel_size: int, *, stride: int = 1,
               groups: int = 1, activation: str | None = None) -> dict[str, object]:
    """Parameters of a ``conv_bn_act`` inside a block, with the block's BN settings."""
    return dict(out_channels=out_channels, kernel_size=kernel_size, stride=stride,
                groups=groups, activation=activation or params["activation"],
                eps=params["eps"], momentum=params["momentum"])


def residual_end(graph: Graph, branch: Node, x: Node, params: Params) -> Node:
    """``stochastic_depth(branch) + x`` where the block is residual, else ``branch``.

    The stochastic depth node (``stochastic_depth``, torchvision's name; per-sample
    "row" mode) is added only when its probability is above 0.
    """
    if not has_residual(params):
        return branch
    if params["stochastic_depth_prob"] > 0:
        branch = add(graph, "stochastic_depth", "stochastic_depth", branch,
                     column=branch.pos[0] / COLUMN, p=params["stochastic_depth_prob"],
                     mode="row")
    return add(graph, "add", "add", branch, x)


def bn_params() -> tuple[ParamSpec, ...]:
    """Batch norm ``eps`` and ``momentum`` (MobileNetV3 uses 1e-3 and 0.01)."""
    return (ParamSpec("eps", "float", 1e-5, 1e-12, 1.0, help="Batch norm epsilon"),
            ParamSpec("momentum", "float", 0.1, 0.0, 1.0, help="Batch norm momentum"))


def activation_param(default: str, choices: tuple[str, ...] = ACTIVATIONS) -> ParamSpec:
    """The block's activation, a block key."""
    return ParamSpec("activation", "choice", default, choices=choices,
                     help="Activation after each convolution but the last")


def check_inverted(params: Params, node: str) -> None:
    """Refuse an expansion that leaves no channel, and an even kernel.

    Raises:
        ParameterValueError: naming the node and the parameters.
    """
    if expanded_channels(params) < 1:
        raise param_error(node, f"in_channels={params['in_channels']} × expand_ratio="
                                f"{params['expand_ratio']:g} leaves no channel")
    if params["kernel_size"] % 2 == 0:
        raise param_error(node, f"kernel_size={params['kernel_size']} must be odd")


def _sd_text(params: Params) -> str:
    prob = params["stochastic_depth_prob"]
    return f", sd {prob:g}" if prob > 0 and has_residual(params) else ""


# -- conv → BN → activation ------------------------------------------------------------------
class ConvBnAct(CompositeSpec):
    """torchvision's ``Conv2dNormActivation``: ``0`` conv → ``1`` BN → ``2`` activation.

    The convolution is bias-free with padding ``(kernel_size − 1) / 2`` (the size is kept
    at stride 1); ``activation="none"`` leaves out the third node, as the projection of an
    inverted residual does.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add conv, BN and activation fed by ``x``."""
        steps: list[Step] = [
            ("conv2d", "0", dict(out_channels=params["out_channels"],
                                 kernel_size=params["kernel_size"], stride=params["stride"],
                                 padding=(params["kernel_size"] - 1) // 2,
                                 groups=params["groups"], bias=False)),
            ("batchnorm2d", "1", dict(eps=params["eps"], momentum=params["momentum"])),
        ]
        if params["activation"] != "none":
            steps.append((params["activation"], "2", {}))
        return chain(graph, x, steps)

    def check(self, params: Params, node: str = "") -> None:
        """Output channels divisible by the groups; an odd kernel (the size is kept)."""
        if params["out_channels"] % params["groups"]:
            raise param_error(node, f"out_channels={params['out_channels']} is not "
                                    f"divisible by groups={params['groups']}")
        if params["kernel_size"] % 2 == 0:
            raise param_error(node, f"kernel_size={params['kernel_size']} must be odd")

    def label(self, params: Params) -> str:
        """E.g. ``3×3, 32, s2, hardswish`` (``dw`` when grouped)."""
        k = params["kernel_size"]
        groups = f", g{params['groups']}" if params["groups"] > 1 else ""
        act = "" if params["activation"] == "none" else f", {params['activation']}"
        return f"{k}×{k}, {params['out_channels']}, s{params['stride']}{groups}{act}"


CONV_BN_ACT = ConvBnAct(
    key="conv_bn_act", title="Conv-BN-Act", family=FAMILY, default_name="conv",
    help="Convolution, batch norm and an activation, torchvision's Conv2dNormActivation "
         "(MobileNetV2, Sandler et al. 2018)",
    params=(
        int_param("out_channels", 32, "Number of output feature maps"),
        int_param("kernel_size", 3, "Kernel height and width (odd)", maximum=31),
        int_param("stride", 1, "Step of the kernel", maximum=8),
        int_param("groups", 1, "Convolution groups (the channels: depthwise)"),
        activation_param("relu6", (*ACTIVATIONS, "none")),
        *bn_params(),
    ),
)


# -- depthwise separable ---------------------------------------------------------------------------
class DepthwiseSeparable(CompositeSpec):
    """MobileNetV1's unit: a depthwise k×k convolution, then a pointwise 1×1 convolution.

    Body: ``conv_dw`` (k×k, ``stride``, groups = ``in_channels``) → ``bn1`` → ``act1`` →
    ``conv_pw`` (1×1, ``out_channels``) → ``bn2`` → ``act2``, named as timm's
    ``DepthwiseSeparableConv`` (torchvision has no MobileNetV1).
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the depthwise and pointwise units fed by ``x``."""
        k, act, channels = params["kernel_size"], params["activation"], params["in_channels"]
        return chain(graph, x, [
            ("conv2d", "conv_dw", dict(out_channels=channels, kernel_size=k,
                                       stride=params["stride"], padding=(k - 1) // 2,
                                       groups=channels, bias=False)),
            ("batchnorm2d", "bn1", dict(eps=params["eps"])), (act, "act1", {}),
            ("conv2d", "conv_pw", dict(out_channels=params["out_channels"], kernel_size=1,
                                       bias=False)),
            ("batchnorm2d", "bn2", dict(eps=params["eps"])), (act, "act2", {}),
        ])

    def check(self, params: Params, node: str = "") -> None:
        """An odd kernel, so that padding keeps the size at stride 1."""
        if params["kernel_size"] % 2 == 0:
            raise param_error(node, f"kernel_size={params['kernel_size']} must be odd")

    def label(self, params: Params) -> str:
        """E.g. ``dw 3×3 s2, 32→64``."""
        k = params["kernel_size"]
        return (f"dw {k}×{k} s{params['stride']}, "
                f"{params['in_channels']}→{params['out_channels']}")


DEPTHWISE_SEPARABLE = DepthwiseSeparable(
    key="depthwise_separable", title="Depthwise Separable Conv", family=FAMILY,
    default_name="dwsep",
    help="Depthwise k×k then pointwise 1×1 convolution, each with BN and activation "
         "(MobileNetV1, Howard et al. 2017)",
    params=(
        int_param("in_channels", 32, "Channels of the input (one depthwise filter each)"),
        int_param("out_channels", 64, "Output channels of the pointwise convolution"),
        int_param("kernel_size", 3, "Kernel of the depthwise convolution (odd)", maximum=31),
        int_param("stride", 1, "Stride of the depthwise convolution", maximum=8),
        activation_param("relu"),
        ParamSpec("eps", "float", 1e-5, 1e-12, 1.0, help="Batch norm epsilon"),
    ),
)


# -- inverted residual -----------------------------------------------------------------------------
class MBConv(CompositeSpec):
    """The inverted residual of MobileNetV2/V3 and EfficientNet (MBConv).

    ``layout="block"`` (MobileNetV3's ``InvertedResidual``, EfficientNet's ``MBConv``): a
    group ``block`` holding ``conv_bn_act`` groups — ``0`` the 1×1 expansion (left out
    when ``expand_ratio`` keeps the width), the depthwise k×k convolution, the
    ``se_block`` when ``squeeze_channels > 0``, and the 1×1 projection without activation
    — numbered in that order; then [``stochastic_depth``] → ``add`` ← ``x`` when stride
    is 1 and ``in_channels == out_channels``.

    ``layout="conv"`` (MobileNetV2's ``InvertedResidual``): the same in a group ``conv``,
    whose projection is a plain convolution and batch norm, two numbered nodes.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the expansion, depthwise, SE and projection layers and the residual sum."""
        name = "conv" if params["layout"] == "conv" else "block"
        branch = group_of(graph, x, name, self.steps(params), column=BRANCH)
        return residual_end(graph, branch, x, params)

    def steps(self, params: Params) -> list[Step]:
        """The layers of the inverted residual, named ``0``, ``1``, … in order."""
        hidden = expanded_channels(params)
        layers: list[tuple[str, dict[str, object]]] = []
        if hidden != params["in_channels"]:
            layers.append(("conv_bn_act", cna_params(params, hidden, 1)))
        layers.append(("conv_bn_act", cna_params(params, hidden, params["kernel_size"],
                                                 stride=params["stride"], groups=hidden)))
        if params["squeeze_channels"]:
            layers.append(("se_block", dict(channels=hidden,
                                            squeeze_channels=params["squeeze_channels"],
                                            activation=params["se_activation"],
                                            gate=params["se_gate"])))
        out = params["out_channels"]
        if params["layout"] == "conv":
            layers += [("conv2d", dict(out_channels=out, kernel_size=1, bias=False)),
                       ("batchnorm2d", dict(eps=params["eps"], momentum=params["momentum"]))]
        else:
            layers.append(("conv_bn_act", cna_params(params, out, 1, activation="none")))
        return [(block_type, str(i), p) for i, (block_type, p) in enumerate(layers)]

    def check(self, params: Params, node: str = "") -> None:
        """At least one channel inside, and an odd kernel."""
        check_inverted(params, node)

    def label(self, params: Params) -> str:
        """E.g. ``16→96→24, 3×3 s2, SE`` (``+`` when residual)."""
        k = params["kernel_size"]
        se = ", SE" if params["squeeze_channels"] else ""
        plus = " +" if has_residual(params) else ""
        return (f"{params['in_channels']}→{expanded_channels(params)}→"
                f"{params['out_channels']}, {k}×{k} s{params['stride']}{se}{plus}"
                f"{_sd_text(params)}")


def _stochastic_depth_param() -> ParamSpec:
    return float_param("stochastic_depth_prob", 0.0,
                       "Probability of dropping the residual branch per sample in training")


MBCONV = MBConv(
    key="mbconv", title="Inverted Residual (MBConv)", family=FAMILY, default_name="mbconv",
    help="1×1 expansion, depthwise k×k convolution, optional squeeze-excitation and a linear "
         "1×1 projection, added to the input (MobileNetV2, Sandler et al. 2018; "
         "EfficientNet, Tan & Le 2019)",
    params=(
        int_param("in_channels", 16, "Channels of the input"),
        int_param("out_channels", 24, "Channels of the projection (output)"),
        ParamSpec("expand_ratio", "float", 6.0, 0.01, 64.0,
                  help="Width inside = in_channels × expand_ratio (1: no expansion)"),
        int_param("kernel_size", 3, "Kernel of the depthwise convolution (odd)", maximum=31),
        int_param("stride", 1, "Stride of the depthwise convolution", maximum=8),
        int_param("squeeze_channels", 0, "Channels of the squeeze-excitation (0: none)",
                  minimum=0),
        activation_param("relu6"),
        ParamSpec("se_activation", "choice", "relu", choices=SE_ACTIVATIONS,
                  help="Activation inside the squeeze-excitation"),
        ParamSpec("se_gate", "choice", "sigmoid", choices=SE_GATES,
                  help="Gate of the squeeze-excitation (hardsigmoid in MobileNetV3)"),
        _stochastic_depth_param(),
        ParamSpec("layout", "choice", "block", choices=LAYOUTS,
                  help="Module names: block (MobileNetV3, EfficientNet) or conv "
                       "(MobileNetV2)"),
        *bn_params(),
    ),
)


# -- fused MBConv ----------------------------------------------------------------------------------
class FusedMBConv(CompositeSpec):
    """EfficientNetV2's Fused-MBConv: the expansion and depthwise convolutions fused.

    Body: a group ``block`` holding ``conv_bn_act`` groups ``0`` (k×k, ``stride``, to
    ``in_channels · expand_ratio``) and ``1`` (1×1 projection without activation), or only
    ``0`` (k×k straight to ``out_channels``) when ``expand_ratio`` keeps the width; then
    [``stochastic_depth``] → ``add`` ← ``x`` when the block is residual. torchvision's
    ``FusedMBConv``'s names.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the fused expansion, the projection and the residual sum fed by ``x``."""
        branch = group_of(graph, x, "block", self.steps(params), column=BRANCH)
        return residual_end(graph, branch, x, params)

    def steps(self, params: Params) -> list[Step]:
        """``0`` the fused k×k expansion, ``1`` the projection (when the width changes)."""
        hidden, k, stride = expanded_channels(params), params["kernel_size"], params["stride"]
        if hidden == params["in_channels"]:
            return [("conv_bn_act", "0", cna_params(params, params["out_channels"], k,
                                                    stride=stride))]
        return [("conv_bn_act", "0", cna_params(params, hidden, k, stride=stride)),
                ("conv_bn_act", "1", cna_params(params, params["out_channels"], 1,
                                                activation="none"))]

    def check(self, params: Params, node: str = "") -> None:
        """At least one channel inside, and an odd kernel."""
        check_inverted(params, node)

    def label(self, params: Params) -> str:
        """E.g. ``24→96→48, 3×3 s2``."""
        k = params["kernel_size"]
        plus = " +" if has_residual(params) else ""
        return (f"{params['in_channels']}→{expanded_channels(params)}→"
                f"{params['out_channels']}, {k}×{k} s{params['stride']}{plus}"
                f"{_sd_text(params)}")


FUSED_MBCONV = FusedMBConv(
    key="fused_mbconv", title="Fused-MBConv", family=FAMILY, default_name="fused_mbconv",
    help="A k×k expansion convolution and a 1×1 projection, added to the input "
         "(EfficientNetV2, Tan & Le 2021)",
    params=(
        int_param("in_channels", 24, "Channels of the input"),
        int_param("out_channels", 48, "Channels of the output"),
        ParamSpec("expand_ratio", "float", 4.0, 0.01, 64.0,
                  help="Width inside = in_channels × expand_ratio (1: one k×k convolution)"),
        int_param("kernel_size", 3, "Kernel of the fused convolution (odd)", maximum=31),
        int_param("stride", 2, "Stride of the fused convolution", maximum=8),
        activation_param("silu"),
        _stochastic_depth_param(),
        *bn_params(),
    ),
)

#: Every mobile composite block, in palette order.
SPECS: tuple[CompositeSpec, ...] = (CONV_BN_ACT, DEPTHWISE_SEPARABLE, MBCONV, FUSED_MBCONV)

__all__ = ["ACTIVATIONS", "LAYOUTS", "SPECS", "register"]


def register(registry: BlockRegistry) -> None:
    """Register every mobile composite block into ``registry``."""
    for spec in SPECS:
        registry.register(spec)
