"""What a user sees of the primitive blocks: formulas, labels, messages, receptive fields.

Most of these tests are torch-free; those that build modules import torch themselves.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netbuilder.core.analysis import analyze
from netbuilder.core.errors import ParameterValueError
from netbuilder.core.graph import Graph
from netbuilder.core.registry import default_registry
from netbuilder.core.spec import Inference, Shape, ShapeError

REGISTRY = default_registry()
ROOT = Path(__file__).resolve().parents[2]


def infer(key: str, *inputs: Shape, **params: Any) -> Inference:
    """Infer block ``key`` on ``inputs`` with ``params`` (validated first)."""
    spec = REGISTRY.get(key)
    return spec.infer(spec.resolve(params), inputs)


def refusal(key: str, *inputs: Shape, **params: Any) -> ShapeError:
    """The ShapeError that inferring raises."""
    with pytest.raises(ShapeError) as caught:
        infer(key, *inputs, **params)
    return caught.value


def label(key: str, **params: Any) -> str:
    spec = REGISTRY.get(key)
    return spec.label(spec.resolve(params))


# -- formulas ---------------------------------------------------------------------------
def test_conv2d_formulas_fill_in_the_course_arithmetic() -> None:
    result = infer("conv2d", (3, 32, 32), out_channels=6, kernel_size=5, padding=2)
    assert result.shape == (6, 32, 32)
    assert (result.params, result.macs) == (456, 460_800)
    assert result.formulas == ("H: ⌊(32 − 5 + 2·2)/1⌋ + 1 = 32",
                               "W: ⌊(32 − 5 + 2·2)/1⌋ + 1 = 32",
                               "params: 5·5·3·6 + 6 = 456",
                               "MACs: 32·32·6 · 5·5·3 = 460,800")


def test_conv_formulas_show_dilation_groups_and_same_padding() -> None:
    dilated = infer("conv2d", (3, 32, 32), out_channels=8, kernel_size=3, dilation=2,
                    bias=False)
    assert dilated.formulas[0] == "H: ⌊(32 − (2·(3 − 1) + 1) + 2·0)/1⌋ + 1 = 28"
    assert dilated.formulas[2] == "params: 3·3·3·8 = 216"
    grouped = infer("conv2d", (32, 8, 8), out_channels=64, kernel_size=3, padding=1, groups=4)
    assert grouped.formulas[2] == "params: 3·3·(32/4)·64 + 64 = 4,672"
    same = infer("conv1d", (4, 50), kernel_size=5, padding="same")
    assert same.shape == (16, 50)
    assert same.formulas[0] == 'L: 50 (padding "same" adds 4 zeros)'


def test_pool_formulas_and_ceil_mode() -> None:
    pooled = infer("maxpool2d", (6, 28, 28))
    assert pooled.shape == (6, 14, 14)
    assert pooled.formulas == ("H: ⌊(28 − 2 + 2·0)/2⌋ + 1 = 14", "W: ⌊(28 − 2 + 2·0)/2⌋ + 1 = 14")
    googlenet = infer("maxpool2d", (64, 112, 112), kernel_size=3, stride=2, ceil_mode=True)
    assert googlenet.shape == (64, 56, 56)
    assert googlenet.formulas[0] == "H: ⌈(112 − 3 + 2·0)/2⌉ + 1 = 56"
    dropped = infer("maxpool1d", (3, 4), kernel_size=2, stride=3, padding=1, ceil_mode=True)
    assert dropped.shape == (3, 2)
    assert dropped.formulas[0] == (
        "L: ⌈(4 − 2 + 2·1)/3⌉ + 1 − 1 (the last window would start in the padding) = 2")


def test_linear_transpose_concat_and_norm_formulas() -> None:
    fc = infer("linear", (400,), out_features=120)
    assert fc.formulas == ("params: 400·120 + 120 = 48,120", "MACs: 400·120 = 48,000")
    up = infer("conv_transpose2d", (16, 7, 7), out_channels=8)
    assert up.shape == (8, 14, 14)
    assert up.formulas[:2] == ("H: (7 − 1)·2 − 2·0 + (2 − 1) + 1 = 14",
                               "W: (7 − 1)·2 − 2·0 + (2 − 1) + 1 = 14")
    assert up.formulas[2] == "params: 2·2·16·8 + 8 = 520"
    cat = infer("concat", (64, 28, 28), (128, 28, 28), (32, 28, 28), (32, 28, 28))
    assert (cat.shape, cat.formulas) == ((256, 28, 28), ("C: 64 + 128 + 32 + 32 = 256",))
    bn = infer("batchnorm2d", (16, 8, 8))
    assert bn.formulas == ("params: 2·16 = 32", "buffers: 2·16 = 32 (running mean and variance)")
    assert (bn.params, bn.buffers) == (32, 32)


# -- labels -----------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "params", "text"), [
    ("conv2d", {"kernel_size": 5, "padding": 2}, "5×5, 16, s1 p2"),
    ("conv2d", {"padding": "same", "dilation": 2, "groups": 2}, "3×3, 16, s1 same d2 g2"),
    ("conv2d", {"kernel_size": (1, 7), "padding": (0, 3)}, "1×7, 16, s1 p0×3"),
    ("conv1d", {"kernel_size": 5, "out_channels": 32}, "5, 32, s1 p0"),
    ("conv_transpose2d", {}, "2×2, 16, s2 p0"),
    ("maxpool2d", {}, "2×2 s2"),
    ("maxpool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, "3×3 s2 p1"),
    ("avgpool2d", {"kernel_size": 3, "stride": 1, "ceil_mode": True}, "3×3 s1 ceil"),
    ("adaptive_avgpool2d", {"output_size": (6, 6)}, "6×6"),
    ("global_avgpool", {}, ""),
    ("linear", {"out_features": 120}, "120"),
    ("dropout", {}, "p=0.5"),
    ("leaky_relu", {}, "0.01"),
    ("elu", {}, "α=1"),
    ("gelu", {}, ""),
    ("gelu", {"approximate": "tanh"}, "tanh"),
    ("softmax", {}, "dim=1"),
    ("prelu", {"per_channel": True}, "per channel"),
    ("stochastic_depth", {"p": 0.2}, "p=0.2 row"),
    ("groupnorm", {}, "8 groups"),
    ("layernorm", {"normalized_dims": 3}, "last 3 dims"),
    ("lrn", {}, "n=5"),
    ("concat", {}, ""),
    ("channel_pad", {"out_channels": 64}, "64, s2"),
    ("flatten", {}, ""),
    ("input", {"shape": (3, 224, 224)}, "3×224×224"),
])
def test_labels(key: str, params: dict[str, Any], text: str) -> None:
    assert label(key, **params) == text


# -- messages ---------------------------------------------------------------------------
def test_rank_and_window_messages_speak_the_users_terms() -> None:
    assert refusal("conv2d", (120,)).message == (
        "conv2d expects a C×H×W input, got a vector of 120 features")
    too_big = refusal("conv2d", (3, 5, 5), kernel_size=9)
    assert (too_big.message, too_big.inputs) == (
        "kernel 9×9 is larger than the padded input 5×5", (0,))
    assert refusal("conv2d", (3, 5, 5), kernel_size=3, dilation=3).message == (
        "kernel 3×3 dilated to 7×7 is larger than the padded input 5×5")
    assert refusal("conv2d", (6, 8, 8), out_channels=8, groups=4).message == (
        "in_channels 6 is not divisible by groups 4")
    assert "output would be 0×0" in refusal("maxpool2d", (3, 3, 3), kernel_size=5).message
    assert refusal("batchnorm1d", (3, 4, 4)).message == (
        "batchnorm1d expects a C or C×L input, got a 3×4×4 (C×H×W) image")
    assert refusal("groupnorm", (6, 4, 4), num_groups=4).message == (
        "6 channels are not divisible by num_groups 4")
    assert refusal("linear", (10,), (10,)).message == "linear takes one input, got 2"


@pytest.mark.parametrize(("key", "params", "fragment"), [
    ("conv2d", {"out_channels": 6, "groups": 4}, "out_channels 6 is not divisible by groups 4"),
    ("conv2d", {"padding": "same", "stride": 2}, 'padding "same" needs stride 1'),
    ("conv2d", {"kernel_size": (3, 3, 3)}, "kernel_size=(3, 3, 3): must be one number or 2"),
    ("maxpool2d", {"kernel_size": 3, "padding": 2}, "padding 2 is more than half the kernel"),
    ("conv_transpose2d", {"stride": 1, "output_padding": 1}, "output_padding 1 must be smaller"),
])
def test_inconsistent_parameters_are_refused_at_resolve(key: str, params: dict[str, Any],
                                                         fragment: str) -> None:
    with pytest.raises(ParameterValueError, match="conv1: " + fragment.replace("(", r"\(")
                       .replace(")", r"\)")) as caught:
        REGISTRY.get(key).resolve(params, "conv1")
    assert caught.value.nodes == ("conv1",)


def test_merge_errors_name_the_inputs_at_fault() -> None:
    two = refusal("add", (16, 8, 8), (32, 8, 8))
    assert two.inputs == (0, 1)
    assert two.message == ("input 2 is 32×8×8 but input 1 is 16×8×8: their channel counts "
                           "differ (32 vs 16); sizes must match or be 1")
    assert refusal("add", (16, 8, 8), (16, 8, 8), (16, 4, 4)).inputs == (0, 2)
    assert refusal("multiply", (1, 8, 8), (16, 8, 8), (32, 8, 8)).inputs == (1, 2)
    assert refusal("add", (16, 8, 8), (16,)).inputs == (0, 1)
    assert refusal("add", (16, 8, 8)).message == "add needs at least 2 inputs, got 1"
    cat = refusal("concat", (16, 8, 8), (16, 8, 8), (32, 4, 4))
    assert cat.inputs == (0, 2)
    assert cat.message.endswith("their heights differ (4 vs 8); only dim 1 may differ")
    assert "their widths differ (4 vs 8)" in refusal("concat", (16, 8, 8), (16, 8, 4)).message
    assert "their lengths differ" in refusal("add", (4, 10), (4, 12)).message
    assert refusal("concat", (16, 8, 8), (16, 8, 8), dim=0).message == (
        "dim=0 is the batch dimension")
    assert "fewer than the input's 16" in refusal("channel_pad", (16, 8, 8), out_channels=8).message


def test_dimension_parameters_count_the_batch() -> None:
    assert infer("concat", (4, 8, 8), (4, 8, 8), dim=-1).shape == (4, 8, 16)
    assert infer("flatten", (16, 5, 5)).shape == (400,)
    assert infer("flatten", (16, 5, 5), start_dim=2).shape == (16, 25)
    assert "comes after" in refusal("flatten", (16, 5, 5), start_dim=3, end_dim=2).message
    assert "out of range" in refusal("softmax", (10,), dim=2).message
    assert infer("layernorm", (16, 5, 5), normalized_dims=2).params == 2 * 25
    assert "last 3 dimensions" in refusal("layernorm", (120,), normalized_dims=3).message


# -- receptive field and costs ----------------------------------------------------------
@pytest.mark.parametrize(("key", "shape", "params", "kernel_stride"), [
    ("conv2d", (3, 32, 32), {"kernel_size": 3, "dilation": 2, "stride": 2}, (5, 2)),
    ("conv2d", (3, 32, 32), {"kernel_size": (7, 1), "stride": (2, 1)}, (7, 2)),
    ("maxpool2d", (3, 32, 32), {"kernel_size": 3}, (3, 3)),
    ("maxpool2d", (3, 32, 32), {"kernel_size": 3, "stride": 2}, (3, 2)),
    ("global_avgpool", (64, 7, 7), {}, (7, 7)),
    ("adaptive_avgpool2d", (256, 13, 13), {"output_size": 6}, (3, 2)),
    ("flatten", (16, 5, 5), {}, (5, 5)),
    ("flatten", (120,), {}, (1, 1)),
    ("channel_pad", (16, 32, 32), {}, (1, 2)),
    ("relu", (16, 32, 32), {}, (1, 1)),
    ("linear", (120,), {}, (1, 1)),
])
def test_receptive_field_steps(key: str, shape: Shape, params: dict[str, Any],
                               kernel_stride: tuple[int, int]) -> None:
    result = infer(key, shape, **params)
    assert (result.kernel, result.stride) == kernel_stride


def test_only_convolutions_and_linear_layers_count_macs() -> None:
    assert infer("conv1d", (4, 20), out_channels=8, kernel_size=3).macs == 18 * 8 * 3 * 4
    for key in ("relu", "batchnorm2d", "maxpool2d", "global_avgpool", "dropout"):
        assert infer(key, (16, 8, 8)).macs == 0
    assert infer("add", (16, 8, 8), (16, 8, 8)).macs == 0


def test_squeeze_excitation_scale_broadcasts() -> None:
    assert infer("multiply", (16, 8, 8), (16, 1, 1)).shape == (16, 8, 8)
    assert infer("multiply", (16, 1, 1), (16, 8, 8)).shape == (16, 8, 8)
    assert infer("multiply", (16, 8, 8), (16, 1, 1)).warnings == ()


def test_a_sum_that_broadcasts_is_warned_about() -> None:
    one_channel = infer("add", (16, 8, 8), (1, 8, 8))
    assert one_channel.shape == (16, 8, 8)
    assert one_channel.warnings == (
        "input 2 is 1×8×8 and is broadcast to 16×8×8: its 1 channel is repeated 16 times; "
        "give the inputs equal shapes unless the broadcast is meant",)
    assert "its height and width are repeated" in infer(
        "add", (16, 1, 1), (16, 8, 8), (16, 8, 8)).warnings[0]
    assert infer("add", (16, 8, 8), (16, 8, 8)).warnings == ()


def test_the_broadcast_warning_reaches_the_add_node() -> None:
    graph = Graph()
    source = graph.add("input", "input", shape=(3, 8, 8))
    wide = graph.add("conv2d", "wide", after=source, out_channels=16, kernel_size=1)
    thin = graph.add("conv2d", "thin", after=source, out_channels=1, kernel_size=1)
    total = graph.add("add", "sum", after=wide)
    graph.connect(thin, total)
    graph.add("output", "output", after=total)
    result = analyze(graph)
    assert result.ok
    assert [i.message for i in result.warnings] == [
        "sum: input 2 is 1×8×8 and is broadcast to 16×8×8: its 1 channel is repeated 16 "
        "times; give the inputs equal shapes unless the broadcast is meant"]
    assert result.warnings[0].node == total.id


# -- structural blocks ------------------------------------------------------------------
def test_structural_blocks() -> None:
    spec = REGISTRY.get("input")
    assert spec.inputs == () and spec.defaults() == {"shape": (1, 28, 28)}
    assert infer("input", shape=[3, 32, 32]).shape == (3, 32, 32)
    assert REGISTRY.get("output").outputs == ()
    assert infer("output", (10,)).shape == (10,)
    group = REGISTRY.get("group")
    assert (group.inputs, group.outputs, group.params) == ((), (), ())
    with pytest.raises(NotImplementedError):
        group.infer({}, [(3, 8, 8)])
    port_in, port_out = REGISTRY.get("group_input"), REGISTRY.get("group_output")
    assert (port_in.inputs, port_in.outputs) == ((), ("out",))
    assert (len(port_out.inputs), port_out.outputs) == (1, ())
    assert port_in.infer({}, [(3, 8, 8)]).shape == (3, 8, 8)
    assert infer("identity", (3, 8, 8)).shape == (3, 8, 8)


# -- whole networks through the analyser --------------------------------------------------
def test_lenet5_totals() -> None:
    graph = Graph(REGISTRY)
    graph.chain(("input", None, {"shape": (1, 32, 32)}),
                ("conv2d", None, {"out_channels": 6, "kernel_size": 5}), "tanh",
                ("avgpool2d", None, {}),
                ("conv2d", None, {"out_channels": 16, "kernel_size": 5}), "tanh",
                ("avgpool2d", None, {}), "flatten",
                ("linear", None, {"out_features": 120}), "tanh",
                ("linear", None, {"out_features": 84}), "tanh",
                ("linear", None, {"out_features": 10}), "output")
    result = analyze(graph)
    assert result.ok, result.issues
    assert result.total_params == 61_706
    assert result.total_macs == 416_520


def test_alexnet_matches_torchvision() -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from torchvision import models

    graph = Graph(REGISTRY)
    conv = [(64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1)]
    last = graph.add("input", shape=(3, 224, 224))
    for i, (out, k, s, p) in enumerate(conv):
        last = graph.chain(("conv2d", None, dict(out_channels=out, kernel_size=k, stride=s,
                                                 padding=p)), "relu", after=last)
        if i in (0, 1, 4):
            last = graph.chain(("maxpool2d", None, {"kernel_size": 3, "stride": 2}), after=last)
    graph.chain(("adaptive_avgpool2d", None, {"output_size": 6}), "flatten", "dropout",
                ("linear", None, {"out_features": 4096}), "relu", "dropout",
                ("linear", None, {"out_features": 4096}), "relu",
                ("linear", None, {"out_features": 1000}), "output", after=last)
    result = analyze(graph)
    reference = models.alexnet()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        reference(torch.zeros(1, 3, 224, 224))
    assert result.total_params == sum(p.numel() for p in reference.parameters())
    assert 2 * result.total_macs == counter.get_total_flops()


# -- layering ---------------------------------------------------------------------------
def test_importing_the_blocks_does_not_import_torch() -> None:
    code = ("import sys, netbuilder.blocks\n"
            "from netbuilder.core.registry import default_registry\n"
            "default_registry().get('conv2d').infer({'out_channels': 4, 'kernel_size': 3, "
            "'stride': 1, 'padding': 0, 'dilation': 1, 'groups': 1, 'bias': True}, "
            "[(3, 8, 8)])\n"
            "assert 'torch' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_channel_pad_is_the_cifar_resnet_shortcut() -> None:
    import torch
    import torch.nn.functional as F

    spec = REGISTRY.get("channel_pad")
    module = spec.build(spec.resolve({"out_channels": 32, "stride": 2}), [(16, 8, 8)])
    x = torch.randn(2, 16, 8, 8)
    expected = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 32 // 4, 32 // 4))
    assert torch.equal(module(x), expected)
