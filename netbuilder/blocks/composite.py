"""Composite blocks: the residual, inception, dense and other blocks of the classic networks.

Every block here is a group whose body is generated from its parameters (see
:class:`~netbuilder.blocks._composite_util.CompositeSpec`). Body nodes are named exactly as
torchvision names the submodules of the matching module, so a compiled block's
``state_dict`` has the same keys as torchvision's and pretrained weights load with an
identity key mapping:

========================  =====================================================
block                     torchvision counterpart
========================  =====================================================
``conv_bn_relu``          ``models.googlenet.BasicConv2d``
``basic_block``           ``models.resnet.BasicBlock``
``bottleneck``            ``models.resnet.Bottleneck``
``inception``             ``models.googlenet.Inception``
``dense_layer``           ``models.densenet._DenseLayer``
``dense_block``           ``models.densenet._DenseBlock``
``transition``            ``models.densenet._Transition``
``se_block``              ``ops.SqueezeExcitation``
========================  =====================================================

``vgg_block`` and ``nin_block`` have no torchvision module (VGG and NiN are flat
``nn.Sequential`` s there); their names are chosen for clarity.

ReLUs are out-of-place (torchvision's are in-place) so that feature-map hooks see the
values before activation; results are the same.
"""

from __future__ import annotations

from netbuilder.blocks._composite_util import (
    BRANCH,
    FAMILY,
    SHORTCUTS,
    CompositeSpec,
    bn_relu_conv_steps,
    conv_bn_steps,
    residual_join,
    residual_params,
    shortcut,
)
from netbuilder.blocks.formatting import fmt_ints, kernel_text
from netbuilder.blocks.params import float_param, int_param, param_error
from netbuilder.core.builder import Step, add, chain, group_of
from netbuilder.core.graph import Graph, Node
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import Params, ParamSpec

_SHORTCUT_LABEL = {"identity": "", "projection": ", proj", "pad": ", pad"}
#: Activations of the mobile networks' blocks (block keys), and the squeeze-excitation gates.
SE_ACTIVATIONS = ("relu", "relu6", "hardswish", "silu")
SE_GATES = ("sigmoid", "hardsigmoid")


def _drop_text(prob: float) -> str:
    return f", sd {prob:g}" if prob > 0 else ""


# -- conv → BN → ReLU -------------------------------------------------------------------------
class ConvBnRelu(CompositeSpec):
    """``conv`` → ``bn`` → ``relu``, as torchvision's GoogLeNet ``BasicConv2d``.

    The convolution has no bias by default (the batch norm's shift replaces it) and the
    batch norm's ``eps`` defaults to 1e-3, both as in ``BasicConv2d``.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add conv, bn and relu fed by ``x``."""
        steps = conv_bn_steps(params["out_channels"], params["kernel_size"],
                              stride=params["stride"], padding=params["padding"],
                              groups=params["groups"], bias=params["bias"], eps=params["eps"])
        return chain(graph, x, [*steps, ("relu", "relu", {})])

    def check(self, params: Params, node: str = "") -> None:
        """Output channels must be divisible by the groups."""
        if params["out_channels"] % params["groups"]:
            raise param_error(node, f"out_channels={params['out_channels']} is not "
                                    f"divisible by groups={params['groups']}")

    def label(self, params: Params) -> str:
        """E.g. ``3×3, 64, s1 p1``."""
        return (f"{kernel_text(params['kernel_size'])}, {params['out_channels']}, "
                f"s{fmt_ints(params['stride'])} p{fmt_ints(params['padding'])}")


CONV_BN_RELU = ConvBnRelu(
    key="conv_bn_relu", title="Conv-BN-ReLU", family=FAMILY, default_name="conv",
    help="Convolution, batch norm and ReLU, as GoogLeNet's BasicConv2d (Szegedy et al. 2015)",
    params=(
        int_param("out_channels", 64, "Number of output feature maps"),
        ParamSpec("kernel_size", "ints", 3, minimum=1, help="Kernel height and width"),
        ParamSpec("stride", "ints", 1, minimum=1, help="Step of the kernel"),
        ParamSpec("padding", "padding", 1, minimum=0, help="Zeros added on each side"),
        int_param("groups", 1, "Convolution groups"),
        ParamSpec("bias", "bool", False, help="Learnable bias in the convolution"),
        ParamSpec("eps", "float", 1e-3, minimum=0.0, help="Batch norm epsilon"),
    ),
)


# -- residual blocks ----------------------------------------------------------------------------
class BasicBlock(CompositeSpec):
    """torchvision's ResNet ``BasicBlock``: two 3×3 convolutions and a shortcut.

    Body: ``conv1`` (3×3, ``stride``) → ``bn1`` → ``relu1`` → ``conv2`` → ``bn2`` →
    [``sd``] → ``add`` ← shortcut, → ``relu2``. The ``add`` takes the residual branch
    first and the shortcut second. torchvision reuses one ``relu`` module; here there are
    two nodes, which have no parameters, so ``state_dict`` keys are unchanged. The optional
    stochastic depth (Huang et al. 2016) drops the residual branch per sample in training.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the residual branch, the shortcut and their sum fed by ``x``."""
        planes, stride = params["out_channels"], params["stride"]
        branch = chain(graph, x, [
            *conv_bn_steps(planes, 3, stride=stride, padding=1, conv="conv1", bn="bn1"),
            ("relu", "relu1", {}),
            *conv_bn_steps(planes, 3, padding=1, conv="conv2", bn="bn2"),
        ], column=BRANCH)
        skip = shortcut(graph, x, params["shortcut"], planes, stride)
        return residual_join(graph, branch, skip, "relu2", params["stochastic_depth_prob"])

    def check(self, params: Params, node: str = "") -> None:
        """Only ``groups=1`` and ``base_width=64``, as torchvision's ``BasicBlock``."""
        if params["groups"] != 1 or params["base_width"] != 64:
            raise param_error(node, "a basic block supports only groups=1 and "
                                    "base_width=64; use a bottleneck for ResNeXt and Wide ResNet")

    def label(self, params: Params) -> str:
        """E.g. ``128, s2, proj``."""
        return (f"{params['out_channels']}, s{params['stride']}"
                f"{_SHORTCUT_LABEL[params['shortcut']]}"
                f"{_drop_text(params['stochastic_depth_prob'])}")


BASIC_BLOCK = BasicBlock(
    key="basic_block", title="Residual Basic Block", family=FAMILY, default_name="block",
    help="Two 3×3 convolutions plus a shortcut, as in ResNet-18/34 (He et al. 2016)",
    params=residual_params(int_param("out_channels", 64, "Output channels (planes)")),
)


def bottleneck_width(params: Params) -> int:
    """Channels of the 3×3 convolution: ``int(planes · base_width / 64) · groups``."""
    return int(params["planes"] * (params["base_width"] / 64.0)) * params["groups"]


class Bottleneck(CompositeSpec):
    """torchvision's ResNet ``Bottleneck``: 1×1 → 3×3 (strided, grouped) → 1×1 and a shortcut.

    Body: ``conv1`` (1×1, width) → ``bn1`` → ``relu1`` → ``conv2`` (3×3, ``stride``,
    ``groups``) → ``bn2`` → ``relu2`` → ``conv3`` (1×1, ``planes · expansion``) → ``bn3``
    → [``sd``] → ``add`` ← shortcut, → ``relu3``. ``width = int(planes · base_width / 64)
    · groups``: ``base_width=128`` gives Wide ResNet-50-2 and ``groups=32,
    base_width=4`` ResNeXt-50 32×4d. The stride sits on the 3×3 convolution (ResNet v1.5),
    as in torchvision; the paper puts it on the first 1×1.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the residual branch, the shortcut and their sum fed by ``x``."""
        width, stride = bottleneck_width(params), params["stride"]
        out_channels = params["planes"] * params["expansion"]
        branch = chain(graph, x, [
            *conv_bn_steps(width, 1, conv="conv1", bn="bn1"),
            ("relu", "relu1", {}),
            *conv_bn_steps(width, 3, stride=stride, padding=1, groups=params["groups"],
                           conv="conv2", bn="bn2"),
            ("relu", "relu2", {}),
            *conv_bn_steps(out_channels, 1, conv="conv3", bn="bn3"),
        ], column=BRANCH)
        skip = shortcut(graph, x, params["shortcut"], out_channels, stride)
        return residual_join(graph, branch, skip, "relu3", params["stochastic_depth_prob"])

    def check(self, params: Params, node: str = "") -> None:
        """The 3×3 convolution must keep at least one channel per group."""
        if bottleneck_width(params) < 1:
            raise param_error(node, f"planes={params['planes']} × base_width="
                                    f"{params['base_width']}/64 leaves no channel per group")

    def label(self, params: Params) -> str:
        """E.g. ``128→512, s2, g32, proj``."""
        groups = f", g{params['groups']}" if params["groups"] > 1 else ""
        return (f"{bottleneck_width(params)}→{params['planes'] * params['expansion']}, "
                f"s{params['stride']}{groups}{_SHORTCUT_LABEL[params['shortcut']]}"
                f"{_drop_text(params['stochastic_depth_prob'])}")


BOTTLENECK = Bottleneck(
    key="bottleneck", title="Residual Bottleneck", family=FAMILY, default_name="bottleneck",
    help="1×1, 3×3 and 1×1 convolutions plus a shortcut, as in ResNet-50+ (He et al. 2016)",
    params=(*residual_params(int_param("planes", 64, "Width before expansion")),
            int_param("expansion", 4, "Output channels = planes × expansion")),
)


# -- inception ------------------------------------------------------------------------------------
class Inception(CompositeSpec):
    """torchvision's GoogLeNet ``Inception``: four branches concatenated along channels.

    ``branch1`` 1×1; ``branch2`` 1×1 → 3×3; ``branch3`` 1×1 → ``kernel_5x5``;
    ``branch4`` 3×3 max pool (stride 1, ceil mode) → 1×1, each convolution a
    ``conv_bn_relu``, concatenated in that order. The paper's third branch uses a 5×5
    kernel; torchvision uses 3×3 (a known quirk kept for its pretrained weights), which is
    the default here: set ``kernel_5x5=5`` for the paper's block.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the four branches fed by ``x`` and their concatenation."""
        def cbr(name: str, channels: str, kernel: int = 1) -> Step:
            return ("conv_bn_relu", name, dict(out_channels=params[channels],
                                               kernel_size=kernel, padding=kernel // 2,
                                               eps=params["eps"]))

        pool = ("maxpool2d", "0", dict(kernel_size=3, stride=1, padding=1, ceil_mode=True))
        branches = [
            chain(graph, x, [cbr("branch1", "ch1x1")], column=-1.5),
            group_of(graph, x, "branch2", [cbr("0", "ch3x3red"), cbr("1", "ch3x3", 3)],
                     column=-0.5),
            group_of(graph, x, "branch3",
                     [cbr("0", "ch5x5red"), cbr("1", "ch5x5", params["kernel_5x5"])],
                     column=0.5),
            group_of(graph, x, "branch4", [pool, cbr("1", "pool_proj")], column=1.5),
        ]
        return add(graph, "concat", "concat", *branches, dim=1)

    def check(self, params: Params, node: str = "") -> None:
        """``kernel_5x5`` must be odd so that padding keeps the spatial size."""
        if params["kernel_5x5"] % 2 == 0:
            raise param_error(node, f"kernel_5x5={params['kernel_5x5']} must be odd")

    def label(self, params: Params) -> str:
        """E.g. ``256 = 64+128+32+32``."""
        parts = [params[k] for k in ("ch1x1", "ch3x3", "ch5x5", "pool_proj")]
        return f"{sum(parts)} = {'+'.join(str(p) for p in parts)}"


INCEPTION = Inception(
    key="inception", title="Inception", family=FAMILY, default_name="inception",
    help="Four parallel branches concatenated, as in GoogLeNet (Szegedy et al. 2015)",
    params=(
        int_param("ch1x1", 64, "Output channels of the 1×1 branch"),
        int_param("ch3x3red", 96, "1×1 reduction before the 3×3 convolution"),
        int_param("ch3x3", 128, "Output channels of the 3×3 branch"),
        int_param("ch5x5red", 16, "1×1 reduction before the '5×5' convolution"),
        int_param("ch5x5", 32, "Output channels of the '5×5' branch"),
        int_param("pool_proj", 32, "1×1 projection after the 3×3 max pool"),
        int_param("kernel_5x5", 3, "Kernel of the '5×5' branch: 3 as torchvision, 5 as the "
                                   "paper", maximum=11),
        ParamSpec("eps", "float", 1e-3, minimum=0.0, help="Batch norm epsilon"),
    ),
)


# -- DenseNet -------------------------------------------------------------------------------------
def _dense_params() -> tuple[ParamSpec, ...]:
    return (
        int_param("growth_rate", 32, "Feature maps each dense layer adds (k)"),
        int_param("bn_size", 4, "Bottleneck width factor: the 1×1 convolution makes "
                                "bn_size × growth_rate maps"),
        float_param("drop_rate", 0.0, "Dropout after each dense layer", maximum=0.99),
    )


class DenseLayer(CompositeSpec):
    """torchvision's DenseNet ``_DenseLayer``: BN → ReLU → 1×1 → BN → ReLU → 3×3.

    Body: ``norm1`` → ``relu1`` → ``conv1`` (1×1, ``bn_size · growth_rate``) → ``norm2`` →
    ``relu2`` → ``conv2`` (3×3, ``growth_rate``) → [``dropout``]. Its output is the
    *new* feature maps only; a ``dense_block`` concatenates them with its input.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the two pre-activation convolutions fed by ``x``."""
        growth = params["growth_rate"]
        steps = [*bn_relu_conv_steps("1", params["bn_size"] * growth, 1),
                 *bn_relu_conv_steps("2", growth, 3, padding=1)]
        if params["drop_rate"] > 0:
            steps.append(("dropout", "dropout", dict(p=params["drop_rate"])))
        return chain(graph, x, steps)

    def label(self, params: Params) -> str:
        """E.g. ``+32, bn×4``."""
        return f"+{params['growth_rate']}, bn×{params['bn_size']}"


DENSE_LAYER = DenseLayer(
    key="dense_layer", title="Dense Layer", family=FAMILY, default_name="denselayer",
    help="BN-ReLU-1×1 conv, BN-ReLU-3×3 conv adding growth_rate maps (DenseNet, Huang et al. "
         "2017)",
    params=_dense_params(),
)


class DenseBlock(CompositeSpec):
    """torchvision's DenseNet ``_DenseBlock``: each layer sees every earlier feature map.

    Body: ``denselayer1`` … ``denselayerN`` (``dense_layer`` groups) and ``concat`` nodes
    ``cat1`` … ``catN`` where ``cat_k = concat(cat_(k-1), denselayer_k)`` and ``cat_0`` is
    the input, so ``denselayer_k`` gets ``cat(x, out_1, …, out_(k-1))`` and the block
    returns ``cat(x, out_1, …, out_N)`` exactly as torchvision. The running concatenation
    needs 3N edges where wiring every pair would need N²/2 and is easier to read.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the dense layers and the running concatenation fed by ``x``."""
        layer_params = {k: params[k] for k in ("growth_rate", "bn_size", "drop_rate")}
        features = x
        for k in range(1, params["num_layers"] + 1):
            layer = add(graph, "dense_layer", f"denselayer{k}", features, column=1,
                        **layer_params)
            features = add(graph, "concat", f"cat{k}", features, layer, dim=1)
        return features

    def label(self, params: Params) -> str:
        """E.g. ``6 × +32``."""
        return f"{params['num_layers']} × +{params['growth_rate']}"


DENSE_BLOCK = DenseBlock(
    key="dense_block", title="Dense Block", family=FAMILY, default_name="denseblock",
    help="Dense layers, each fed all earlier feature maps (DenseNet, Huang et al. 2017)",
    params=(int_param("num_layers", 6, "Number of dense layers", maximum=128),
            *_dense_params()),
)


class Transition(CompositeSpec):
    """torchvision's DenseNet ``_Transition``: ``norm`` → ``relu`` → ``conv`` 1×1 → ``pool``."""

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the compression convolution and the 2×2 average pool fed by ``x``."""
        return chain(graph, x, [
            *bn_relu_conv_steps("", params["out_channels"], 1),
            ("avgpool2d", "pool", dict(kernel_size=2, stride=2)),
        ])

    def label(self, params: Params) -> str:
        """E.g. ``→128, /2``."""
        return f"→{params['out_channels']}, /2"


TRANSITION = Transition(
    key="transition", title="Transition", family=FAMILY, default_name="transition",
    help="BN-ReLU-1×1 conv and 2×2 average pool between dense blocks (DenseNet, Huang et al. "
         "2017)",
    params=(int_param("out_channels", 128, "Output channels (usually half the input)"),),
)


# -- VGG and NiN ----------------------------------------------------------------------------------
class VggBlock(CompositeSpec):
    """A VGG stage: ``conv{i}`` (3×3, pad 1) [``bn{i}``] ``relu{i}`` repeated, then ``pool``.

    Convolutions keep their bias even with batch norm, as in torchvision's ``vgg*_bn``.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add ``num_convs`` convolution units and the 2×2 max pool fed by ``x``."""
        steps: list[Step] = []
        for i in range(1, params["num_convs"] + 1):
            steps.append(("conv2d", f"conv{i}", dict(out_channels=params["out_channels"],
                                                      kernel_size=3, padding=1)))
            if params["batch_norm"]:
                steps.append(("batchnorm2d", f"bn{i}", {}))
            steps.append(("relu", f"relu{i}", {}))
        steps.append(("maxpool2d", "pool", dict(kernel_size=2, stride=2)))
        return chain(graph, x, steps)

    def label(self, params: Params) -> str:
        """E.g. ``2 × 3×3, 64, BN``."""
        bn = ", BN" if params["batch_norm"] else ""
        return f"{params['num_convs']} × 3×3, {params['out_channels']}{bn}"


VGG_BLOCK = VggBlock(
    key="vgg_block", title="VGG Block", family=FAMILY, default_name="vgg_block",
    help="3×3 convolutions with ReLU, then a 2×2 max pool (VGG, Simonyan & Zisserman 2015)",
    params=(
        int_param("num_convs", 2, "Number of 3×3 convolutions", maximum=16),
        int_param("out_channels", 64, "Output channels of every convolution"),
        ParamSpec("batch_norm", "bool", False, help="Batch norm after each convolution"),
    ),
)


class NinBlock(CompositeSpec):
    """A Network-in-Network block, as in d2l: a convolution and two 1×1 convolutions.

    Body: ``conv`` → ``relu1`` → ``cccp1`` (1×1) → ``relu2`` → ``cccp2`` (1×1) →
    ``relu3``. The 1×1 layers are named after the paper's "cascaded cross channel
    parametric pooling" (``cccp``) layers; all have ``out_channels`` outputs and a bias.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the spatial convolution and the two 1×1 convolutions fed by ``x``."""
        channels = params["out_channels"]
        first = dict(out_channels=channels, kernel_size=params["kernel_size"],
                     stride=params["stride"], padding=params["padding"])
        return chain(graph, x, [
            ("conv2d", "conv", first), ("relu", "relu1", {}),
            ("conv2d", "cccp1", dict(out_channels=channels, kernel_size=1)),
            ("relu", "relu2", {}),
            ("conv2d", "cccp2", dict(out_channels=channels, kernel_size=1)),
            ("relu", "relu3", {}),
        ])

    def label(self, params: Params) -> str:
        """E.g. ``11×11, 96, s4 p0``."""
        return (f"{kernel_text(params['kernel_size'])}, {params['out_channels']}, "
                f"s{fmt_ints(params['stride'])} p{fmt_ints(params['padding'])}")


NIN_BLOCK = NinBlock(
    key="nin_block", title="NiN Block", family=FAMILY, default_name="nin_block",
    help="A convolution then two 1×1 convolutions, each with ReLU (Network in Network, Lin et "
         "al. 2014)",
    params=(
        int_param("out_channels", 96, "Output channels of all three convolutions"),
        ParamSpec("kernel_size", "ints", 11, minimum=1, help="Kernel of the first convolution"),
        ParamSpec("stride", "ints", 4, minimum=1, help="Stride of the first convolution"),
        ParamSpec("padding", "padding", 0, minimum=0, help="Padding of the first convolution"),
    ),
)


# -- squeeze and excitation ------------------------------------------------------------------
class SeBlock(CompositeSpec):
    """torchvision's ``ops.SqueezeExcitation``: channels rescaled by a learnt gate.

    Body: ``avgpool`` (global) → ``fc1`` (1×1, ``squeeze_channels``) → ``activation``
    (ReLU by default) → ``fc2`` (1×1, ``channels``) → ``scale_activation`` (the
    ``gate``: sigmoid by default) → ``multiply`` (scale first, then the input).
    ``channels`` must equal the input's channels. MobileNetV3 gates with a hard sigmoid,
    EfficientNet squeezes with SiLU.
    """

    def fill(self, graph: Graph, x: Node, params: Params) -> Node:
        """Add the squeeze-excite branch fed by ``x`` and the rescaling."""
        scale = chain(graph, x, [
            ("adaptive_avgpool2d", "avgpool", dict(output_size=1)),
            ("conv2d", "fc1", dict(out_channels=params["squeeze_channels"], kernel_size=1)),
            (params["activation"], "activation", {}),
            ("conv2d", "fc2", dict(out_channels=params["channels"], kernel_size=1)),
            (params["gate"], "scale_activation", {}),
        ], column=1)
        return add(graph, "multiply", "multiply", scale, x)

    def label(self, params: Params) -> str:
        """E.g. ``64→16→64`` (plus the activation and gate when not ReLU and sigmoid)."""
        text = f"{params['channels']}→{params['squeeze_channels']}→{params['channels']}"
        if (params["activation"], params["gate"]) != ("relu", "sigmoid"):
            text += f", {params['activation']}/{params['gate']}"
        return text


SE_BLOCK = SeBlock(
    key="se_block", title="Squeeze-Excitation", family=FAMILY, default_name="se",
    help="Channel attention: global pool, two 1×1 convolutions, sigmoid gate (SENet, Hu et al. "
         "2018)",
    params=(
        int_param("channels", 64, "Channels of the input (and of the output)"),
        int_param("squeeze_channels", 16, "Channels of the bottleneck (input / reduction)"),
        ParamSpec("activation", "choice", "relu", choices=SE_ACTIVATIONS,
                  help="Activation between the two 1×1 convolutions"),
        ParamSpec("gate", "choice", "sigmoid", choices=SE_GATES,
                  help="Activation making the channel scales (hardsigmoid in MobileNetV3)"),
    ),
)

#: Every composite block, in palette order.
SPECS: tuple[CompositeSpec, ...] = (
    CONV_BN_RELU, VGG_BLOCK, NIN_BLOCK, INCEPTION, BASIC_BLOCK, BOTTLENECK, SE_BLOCK,
    DENSE_LAYER, DENSE_BLOCK, TRANSITION,
)

__all__ = ["SHORTCUTS", "SPECS", "register"]


def register(registry: BlockRegistry) -> None:
    """Register every composite block into ``registry``."""
    for spec in SPECS:
        registry.register(spec)
