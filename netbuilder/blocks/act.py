"""Activation and regularisation blocks: element-wise, shape-preserving.

Most are a :class:`PointwiseSpec` naming the ``torch.nn`` class whose keyword arguments are
exactly the block's parameters. ``prelu`` has learnable slopes; ``softmax`` and
``log_softmax`` take a ``dim`` counted with the batch, as in torch (``dim=1``: channels).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netbuilder.blocks.formatting import fmt_num
from netbuilder.blocks.lazy_torch import torch_nn
from netbuilder.blocks.params import inplace_param, probability_param
from netbuilder.blocks.shape_checks import batch_dim, single_input
from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import BlockSpec, Inference, Params, ParamSpec, Shape


def _no_label(params: Params) -> str:
    return ""


def shows(template: str) -> Callable[[Params], str]:
    """A node label made by filling ``template`` with the parameters (``p={p:g}``)."""
    def label(params: Params) -> str:
        return template.format(**params)
    return label


@dataclass(frozen=True)
class PointwiseSpec(BlockSpec):
    """A block that keeps its input's shape and has no weights.

    Attributes:
        module: Name of the ``torch.nn`` class; it receives the parameters as keywords.
        ranks: Batch-less input ranks accepted (empty: any).
        labeler: Makes the node label from the parameters.
    """

    module: str = "Identity"
    ranks: tuple[int, ...] = ()
    labeler: Callable[[Params], str] = _no_label

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The input shape, unchanged."""
        return Inference(single_input(self.key, inputs, self.ranks))

    def label(self, params: Params) -> str:
        """Key parameter values, e.g. ``p=0.5``."""
        return self.labeler(params)

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.<module>(**params)``."""
        return getattr(torch_nn(), self.module)(**params)


@dataclass(frozen=True)
class SoftmaxSpec(PointwiseSpec):
    """``Softmax``/``LogSoftmax`` along ``dim`` (counted with the batch, never the batch)."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The input shape; ``dim`` must name one of its dimensions."""
        shape = single_input(self.key, inputs)
        batch_dim(params["dim"], len(shape))
        return Inference(shape)


@dataclass(frozen=True)
class PReLUSpec(BlockSpec):
    """``torch.nn.PReLU``: a learnable negative slope, shared or one per channel."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """The input shape; 1 parameter, or one per channel (the first dimension)."""
        shape = single_input(self.key, inputs)
        count = shape[0] if params["per_channel"] else 1
        return Inference(shape, count, formulas=(f"params: {count}",))

    def label(self, params: Params) -> str:
        """``per channel`` when each channel has its own slope."""
        return "per channel" if params["per_channel"] else ""

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torch.nn.PReLU`` with ``num_parameters`` 1 or the input channels."""
        count = inputs[0][0] if params["per_channel"] else 1
        return torch_nn().PReLU(num_parameters=count, init=params["init"])


@dataclass(frozen=True)
class StochasticDepthSpec(PointwiseSpec):
    """``torchvision.ops.StochasticDepth``: drop whole residual branches during training."""

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """``torchvision.ops.StochasticDepth`` (torchvision imported here)."""
        from torchvision.ops import StochasticDepth

        return StochasticDepth(p=params["p"], mode=params["mode"])


def _activation(key: str, title: str, module: str, params: tuple[ParamSpec, ...] = (),
                labeler: Callable[[Params], str] = _no_label, what: str = "") -> PointwiseSpec:
    return PointwiseSpec(key=key, title=title, family="Activation", params=params,
                         module=module, labeler=labeler, default_name=key, help=what)


def _activations() -> list[BlockSpec]:
    inplace = inplace_param()
    slope = ParamSpec("negative_slope", "float", 0.01, 0.0, 1.0,
                      help="Slope for negative inputs")
    alpha = ParamSpec("alpha", "float", 1.0, 0.0, 10.0, help="Saturation value for negatives")
    approximate = ParamSpec("approximate", "choice", "none", choices=("none", "tanh"),
                            help='"tanh": the faster tanh approximation')
    return [
        _activation("relu", "ReLU", "ReLU", (inplace,), what="max(0, x)"),
        _activation("leaky_relu", "Leaky ReLU", "LeakyReLU", (slope, inplace),
                    lambda p: fmt_num(p["negative_slope"]), "x, or slope·x when negative"),
        _prelu(),
        _activation("elu", "ELU", "ELU", (alpha, inplace),
                    lambda p: f"α={fmt_num(p['alpha'])}", "Exponential linear unit"),
        _activation("gelu", "GELU", "GELU", (approximate,),
                    lambda p: "" if p["approximate"] == "none" else p["approximate"],
                    "Gaussian error linear unit"),
        _activation("silu", "SiLU", "SiLU", (inplace,), what="x·sigmoid(x) (swish)"),
        _activation("sigmoid", "Sigmoid", "Sigmoid", what="1 / (1 + e^−x)"),
        _activation("tanh", "Tanh", "Tanh", what="Hyperbolic tangent"),
        _softmax("softmax", "Softmax", "Softmax", "Exponentials normalised to sum to 1"),
        _softmax("log_softmax", "Log Softmax", "LogSoftmax", "Logarithm of the softmax"),
        _activation("hardswish", "Hardswish", "Hardswish", (inplace,),
                    what="x·ReLU6(x + 3)/6 (MobileNetV3)"),
        _activation("relu6", "ReLU6", "ReLU6", (inplace,), what="min(max(0, x), 6) (MobileNet)"),
        _activation("hardsigmoid", "Hardsigmoid", "Hardsigmoid", (inplace,),
                    what="ReLU6(x + 3)/6 (MobileNetV3's gates)"),
        _activation("mish", "Mish", "Mish", (inplace,), what="x·tanh(softplus(x))"),
    ]


def _prelu() -> PReLUSpec:
    params = (ParamSpec("per_channel", "bool", False,
                        help="One learnable slope per channel instead of one in all"),
              ParamSpec("init", "float", 0.25, 0.0, 1.0, help="Initial slope"))
    return PReLUSpec(key="prelu", title="PReLU", family="Activation", params=params,
                     default_name="prelu", help="Leaky ReLU with a learnable slope")


def _softmax(key: str, title: str, module: str, what: str) -> SoftmaxSpec:
    dim = ParamSpec("dim", "int", 1, -5, 4,
                    help="Dimension to normalise, counting the batch (1: channels)")
    return SoftmaxSpec(key=key, title=title, family="Activation", params=(dim,),
                       module=module, labeler=shows("dim={dim}"), default_name=key,
                       help=what)


def _regularizers() -> list[BlockSpec]:
    inplace = inplace_param()
    drop = probability_param(0.5, "Probability of zeroing an element")
    drop_channel = probability_param(0.5, "Probability of zeroing a whole channel")
    depth = probability_param(0.1, "Probability of dropping the input")
    mode = ParamSpec("mode", "choice", "row", choices=("row", "batch"),
                     help='"row": per sample; "batch": the whole batch at once')
    label = shows("p={p:g}")
    return [
        PointwiseSpec(key="dropout", title="Dropout", family="Regularization",
                      params=(drop, inplace), module="Dropout", labeler=label,
                      default_name="drop", help="Zero random elements while training"),
        PointwiseSpec(key="dropout2d", title="Dropout 2D", family="Regularization",
                      params=(drop_channel, inplace), module="Dropout2d", ranks=(3,),
                      labeler=label, default_name="drop",
                      help="Zero random channels of a C×H×W input while training"),
        StochasticDepthSpec(key="stochastic_depth", title="Stochastic Depth",
                            family="Regularization", params=(depth, mode),
                            labeler=shows("p={p:g} {mode}"), default_name="droppath",
                            help="Drop a residual branch at random while training"),
    ]


def register(registry: BlockRegistry) -> None:
    """Register the activation and regularisation blocks."""
    for spec in (*_activations(), *_regularizers()):
        registry.register(spec)
