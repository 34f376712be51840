"""Importing PyTorch models: the compiled import equals the original, hierarchy kept.

Every import is also checked by the importer itself (``verify=True``); these tests check
the result independently: analysis, parameter count, ``state_dict`` keys, outputs with the
original's weights loaded strictly, the group structure, the refusals, the CLI and the
project round trip.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torchvision.ops import StochasticDepth

from netbuilder import cli
from netbuilder.compiler import compile_graph
from netbuilder.compiler.import_cli import parse_keyword, shape_argument
from netbuilder.compiler.importer import (
    FactoryError,
    ImportResult,
    ModelImportError,
    Unmapped,
    import_factory,
    import_module,
)
from netbuilder.compiler.verify import compile_with
from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.core.serialize import dumps, load, loads


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: far faster than two on a shared, loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- models -------------------------------------------------------------------------------
class Branches(nn.Module):
    """A module returning two tensors (a group with two output ports)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.left = nn.Conv2d(channels, channels, 3, padding=1)
        self.right = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.left(x), torch.sigmoid(self.right(x))


class Stage(nn.Module):
    """Nested modules, a reused parameter-free module, and functional merges."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.branches = Branches(channels)
        self.act = nn.ReLU()
        self.norm = nn.BatchNorm2d(2 * channels)

    def forward(self, x: Tensor) -> Tensor:
        left, gate = self.branches(x)
        mixed = self.act(left) * gate + x
        joined = torch.cat([self.act(mixed), x], dim=1)
        return F.max_pool2d(self.norm(joined), 2)


class SmallNet(nn.Module):
    """A custom model written with functional calls and tensor methods."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
        self.stage = Stage(8)
        self.head = nn.Linear(16 * 8 * 8, 32)
        self.norm = nn.LayerNorm(32)
        self.fc = nn.Linear(32 + 16, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.stem(x), inplace=True)
        x = self.stage(x)
        pooled = x.mean((2, 3))
        flat = x.view(x.size(0), -1)
        flat = F.dropout(self.norm(F.gelu(self.head(flat))), p=0.2, training=self.training)
        return F.log_softmax(self.fc(torch.cat((flat, pooled), 1)), dim=1)


class Scale(nn.Module):
    """A module with its own parameter and no block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Branching(nn.Module):
    """A module whose forward depends on the values (cannot be traced)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * 2 if x.sum() > 0 else x


class UnsupportedNet(nn.Module):
    """Four things no block reproduces, and one unused layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.scale = Scale(4)
        self.branching = Branching()
        self.unused = nn.Linear(2, 2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.branching(self.scale(self.conv(x)))
        return torch.roll(x.permute(0, 1, 3, 2), 1)


class Renamed(nn.Module):
    """A submodule name a graph refuses (leading underscore)."""

    def __init__(self) -> None:
        super().__init__()
        self._fc = nn.Linear(6, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self._fc(x)


class TwoHeads(nn.Module):
    """A model returning two tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.a = nn.Linear(8, 2)
        self.b = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        hidden = F.relu(self.body(x))
        return self.a(hidden), self.b(hidden)


def small_net(num_classes: int = 5) -> nn.Module:
    """Factory used by the CLI tests."""
    return SmallNet(num_classes)


def unsupported() -> nn.Module:
    """Factory used by the CLI tests."""
    return UnsupportedNet()


Case = tuple[Callable[[], nn.Module], tuple[int, ...], bool]
CASES: dict[str, Case] = {
    "alexnet": (torchvision.models.alexnet, (3, 64, 64), True),
    "vgg11": (torchvision.models.vgg11, (3, 32, 32), True),
    "resnet18": (torchvision.models.resnet18, (3, 64, 64), True),
    "resnet18-plain": (torchvision.models.resnet18, (3, 64, 64), False),
    "googlenet": (lambda: torchvision.models.googlenet(aux_logits=False, init_weights=False),
                  (3, 64, 64), True),
    "densenet121": (torchvision.models.densenet121, (3, 64, 64), True),
    "densenet121-plain": (torchvision.models.densenet121, (3, 64, 64), False),
    "small": (SmallNet, (3, 16, 16), True),
}


@pytest.fixture(scope="module", params=list(CASES))
def imported(request: pytest.FixtureRequest) -> tuple[str, nn.Module, ImportResult]:
    """A model (eval mode) and its import."""
    factory, shape, composites = CASES[request.param]
    torch.manual_seed(0)
    model = factory().eval()
    return request.param, model, import_module(model, shape, composites=composites)


def _batch(result: ImportResult, seed: int = 1) -> Tensor:
    return torch.randn(2, *result.input_shape, generator=torch.Generator().manual_seed(seed))


def _group_names(graph: Graph) -> list[str]:
    return [n.name for n in graph.nodes.values() if n.body is not None]


# -- the classic networks and a custom one -----------------------------------------------------
def test_analysis_has_no_errors_and_counts_the_models_parameters(
        imported: tuple[str, nn.Module, ImportResult]) -> None:
    _, model, result = imported
    analysis = analyze(result.graph)
    assert analysis.errors == []
    assert analysis.total_params == sum(p.numel() for p in model.parameters())


def test_compiled_import_has_the_models_keys_and_outputs(
        imported: tuple[str, nn.Module, ImportResult]) -> None:
    _, model, result = imported
    compiled = compile_graph(result.graph).eval()
    assert list(compiled.state_dict()) == list(model.state_dict())
    compiled.load_state_dict(model.state_dict(), strict=True)
    x = _batch(result)
    with torch.no_grad():
        gap = (compiled(x) - model(x)).abs().max().item()
    assert gap < 1e-5
    assert result.max_difference is not None and result.max_difference < 1e-5


def test_weights_are_the_models_tensors_under_the_same_keys(
        imported: tuple[str, nn.Module, ImportResult]) -> None:
    _, model, result = imported
    state = model.state_dict()
    assert result.key_map == {key: key for key in state}
    assert list(result.weights) == list(state)
    assert all(torch.equal(result.weights[k], state[k]) for k in state)


def test_module_hierarchy_is_kept_as_groups(
        imported: tuple[str, nn.Module, ImportResult]) -> None:
    name, _, result = imported
    graph = result.graph
    if name.startswith("resnet18"):
        assert _group_names(graph) == ["layer1", "layer2", "layer3", "layer4"]
        for layer in ("layer1", "layer2", "layer3", "layer4"):
            body = graph.by_name(layer).body
            assert body is not None and _group_names(body) == ["0", "1"]
        block = graph.by_name("layer2").body.by_name("0")  # type: ignore[union-attr]
        assert block.type == ("basic_block" if name == "resnet18" else "group")
        assert block.body is not None and "downsample" in _group_names(block.body)
    elif name.startswith("densenet121"):
        features = graph.by_name("features").body
        assert features is not None
        assert _group_names(features) == [
            "denseblock1", "transition1", "denseblock2", "transition2", "denseblock3",
            "transition3", "denseblock4"]
        expected = "dense_block" if name == "densenet121" else "group"
        assert features.by_name("denseblock3").type == expected
    elif name == "googlenet":
        assert graph.by_name("inception4e").type == "inception"
        assert graph.by_name("conv1").type == "conv_bn_relu"
    elif name in ("alexnet", "vgg11"):
        assert _group_names(graph) == ["features", "classifier"]
        features = graph.by_name("features").body
        assert features is not None and features.by_name("0").type == "conv2d"


def test_a_building_block_with_other_settings_stays_a_plain_group() -> None:
    norm = partial(nn.BatchNorm2d, momentum=0.01)
    model = torchvision.models.resnet18(num_classes=4, norm_layer=norm).eval()
    result = import_module(model, (3, 32, 32))
    layer1 = result.graph.by_name("layer1").body
    assert layer1 is not None
    block = layer1.by_name("0")
    assert block.type == "group" and block.body is not None
    assert block.body.by_name("bn1").resolved["momentum"] == 0.01


def test_a_custom_model_keeps_its_modules_and_maps_its_calls() -> None:
    torch.manual_seed(0)
    result = import_module(SmallNet().eval(), (3, 16, 16))
    graph = result.graph
    assert _group_names(graph) == ["stem", "stage"]
    stage = graph.by_name("stage").body
    assert stage is not None
    assert [n.name for n in stage.nodes.values() if n.type == "group_input"] == ["x"]
    branches = stage.by_name("branches")
    assert stage.output_ports(branches) == ("out", "out_1")
    assert {"act", "act_1", "mul", "add", "cat", "pool"} <= {n.name for n in stage.nodes.values()}
    types = {n.name: n.type for n in graph.nodes.values()}
    assert types["mean"] == "global_avgpool" and types["flatten"] == "flatten"
    assert types["dropout"] == "dropout" and types["log_softmax"] == "log_softmax"


def test_a_renamed_module_is_recorded_in_the_key_map() -> None:
    model = Renamed().eval()
    result = import_module(model, (6,))
    assert result.key_map == {"_fc.weight": "m_fc.weight", "_fc.bias": "m_fc.bias"}
    compiled = compile_graph(result.graph).eval()
    compiled.load_state_dict(result.weights, strict=True)
    x = torch.randn(4, 6)
    assert torch.allclose(compiled(x), model(x))


def test_a_model_with_two_outputs_gets_two_output_nodes() -> None:
    model = TwoHeads().eval()
    result = import_module(model, (4,))
    outputs = [n.name for n in result.graph.nodes.values() if n.type == "output"]
    assert outputs == ["output", "output_1"]
    compiled = compile_graph(result.graph).eval()
    compiled.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(3, 4)
    assert all(torch.allclose(a, b) for a, b in zip(compiled(x), model(x), strict=True))


def test_the_model_is_left_in_its_training_mode() -> None:
    model = SmallNet().train()
    import_module(model, (3, 16, 16))
    assert model.training and model.stage.norm.training


# -- every mapped module and call ------------------------------------------------------------
MODULES: dict[str, tuple[nn.Module, tuple[int, ...]]] = {
    "conv2d-grouped-dilated": (nn.Conv2d(4, 8, 3, 2, 2, dilation=2, groups=2), (4, 12, 12)),
    "conv2d-same": (nn.Conv2d(4, 6, (3, 5), padding="same", bias=False), (4, 9, 9)),
    "conv1d": (nn.Conv1d(4, 6, 3, stride=2), (4, 16)),
    "conv3d": (nn.Conv3d(2, 4, 3, padding=1), (2, 5, 6, 6)),
    "conv_transpose2d": (nn.ConvTranspose2d(4, 3, 3, 2, 1, output_padding=1), (4, 5, 5)),
    "linear": (nn.Linear(7, 3, bias=False), (7,)),
    "maxpool2d": (nn.MaxPool2d(3, 2, 1, dilation=1, ceil_mode=True), (3, 9, 9)),
    "maxpool1d": (nn.MaxPool1d(2), (3, 9)),
    "maxpool3d": (nn.MaxPool3d(2), (2, 4, 4, 4)),
    "avgpool2d": (nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (3, 8, 8)),
    "avgpool1d": (nn.AvgPool1d(3, 1, 1), (3, 8)),
    "avgpool3d": (nn.AvgPool3d(2), (2, 4, 4, 4)),
    "adaptive_avgpool2d-keep": (nn.AdaptiveAvgPool2d((None, 2)), (3, 5, 7)),
    "adaptive_avgpool1d": (nn.AdaptiveAvgPool1d(3), (3, 8)),
    "adaptive_maxpool2d": (nn.AdaptiveMaxPool2d(2), (3, 7, 7)),
    "batchnorm1d": (nn.BatchNorm1d(5, eps=1e-3, momentum=None), (5,)),
    "batchnorm3d": (nn.BatchNorm3d(2, affine=False), (2, 3, 3, 3)),
    "layernorm": (nn.LayerNorm([4, 4], eps=1e-6), (3, 4, 4)),
    "groupnorm": (nn.GroupNorm(2, 4), (4, 3, 3)),
    "lrn": (nn.LocalResponseNorm(3, alpha=1e-3, beta=0.5, k=1.0), (6, 4, 4)),
    "leaky_relu": (nn.LeakyReLU(0.2), (5,)),
    "prelu": (nn.PReLU(3, init=0.1), (3, 4, 4)),
    "elu": (nn.ELU(0.5), (5,)),
    "gelu": (nn.GELU("tanh"), (5,)),
    "silu": (nn.SiLU(), (5,)),
    "tanh": (nn.Tanh(), (5,)),
    "hardswish": (nn.Hardswish(), (5,)),
    "softmax": (nn.Softmax(dim=-1), (3, 5)),
    "dropout2d": (nn.Dropout2d(0.3), (3, 4, 4)),
    "stochastic_depth": (StochasticDepth(0.2, "row"), (3, 4, 4)),
    "flatten": (nn.Flatten(2), (3, 4, 4)),
    "identity": (nn.Identity(), (3,)),
}


@pytest.mark.parametrize("key", list(MODULES))
def test_every_mapped_module_imports_exactly(key: str) -> None:
    module, shape = MODULES[key]
    model = nn.Sequential(module).eval()
    result = import_module(model, shape)
    assert result.max_difference is not None and result.max_difference < 1e-5
    assert list(result.weights) == list(model.state_dict())


CALLS: dict[str, Callable[[Tensor], Tensor]] = {
    "torch.add": lambda x: torch.add(x, torch.tanh(x)),
    "x * x": lambda x: x * x,
    "cat twice": lambda x: torch.cat([x, x], dim=-1),
    "torch.flatten": lambda x: torch.flatten(x, 2),
    "x.flatten": lambda x: x.flatten(1),
    "x.reshape": lambda x: x.reshape(-1, x.shape[1] * x.shape[2] * x.shape[3]),
    "x.mean keepdim": lambda x: x.mean(dim=(-1, -2), keepdim=True),
    "F.avg_pool2d": lambda x: F.avg_pool2d(x, 2, ceil_mode=True),
    "F.max_pool2d": lambda x: F.max_pool2d(x, kernel_size=3, stride=1, padding=1),
    "F.adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
    "F.adaptive_max_pool2d": lambda x: F.adaptive_max_pool2d(x, 1),
    "F.leaky_relu": lambda x: F.leaky_relu(x, 0.3),
    "F.elu": lambda x: F.elu(x, alpha=0.7),
    "F.silu": F.silu,
    "F.hardswish": F.hardswish,
    "x.relu_": lambda x: x.relu_(),  # after sigmoid it would fail in backward (issue 13)
    "torch.softmax": lambda x: torch.softmax(x, 1),
    "x.softmax": lambda x: x.softmax(dim=-1),
    "F.dropout2d": lambda x: F.dropout2d(x, 0.1, training=False),
    "x.contiguous": lambda x: x.contiguous(),
}


class Call(nn.Module):
    """A convolution followed by one call."""

    def __init__(self, call: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.call = call

    def forward(self, x: Tensor) -> Tensor:
        return self.call(self.conv(x))


@pytest.mark.parametrize("key", list(CALLS))
def test_every_mapped_call_imports_exactly(key: str) -> None:
    model = Call(CALLS[key]).eval()
    result = import_module(model, (3, 6, 6))
    assert result.max_difference is not None and result.max_difference < 1e-5


# -- refusals ----------------------------------------------------------------------------------
def _refusal(model: nn.Module, shape: tuple[int, ...]) -> list[Unmapped]:
    with pytest.raises(ModelImportError) as caught:
        import_module(model, shape)
    return caught.value.unmapped


def test_only_what_cannot_be_traced_or_would_lose_weights_is_refused() -> None:
    branching, unused = _refusal(UnsupportedNet(), (3, 8, 8))
    assert (branching.name, branching.kind) == ("branching", f"{__name__}.Branching")
    assert branching.reason == ("cannot be traced: TraceError: symbolically traced variables "
                                "cannot be used as inputs to control flow (at test_import.py:"
                                "113, in forward: return x * 2 if x.sum() > 0 else x)")
    assert unused == Unmapped("unused", "torch.nn.modules.linear.Linear", "not used by the "
                              "traced forward in evaluation mode: its weights would be lost")


def _opaque_targets(graph: Graph) -> list[str]:
    return [str(n.params["target"]) for _level, n in graph.walk() if n.type == "opaque"]


@pytest.mark.parametrize(("module", "target"), [
    (nn.Conv2d(3, 3, 3, padding_mode="reflect"), "torch.nn.modules.conv:Conv2d"),
    (nn.AvgPool2d(2, divisor_override=3), "torch.nn.modules.pooling:AvgPool2d"),
])
def test_options_no_block_has_keep_the_module_as_an_opaque_node(
        module: nn.Module, target: str) -> None:
    result = import_module(nn.Sequential(module), (3, 6, 6))
    assert _opaque_targets(result.graph) == [target]
    assert result.max_difference is not None and result.max_difference < 1e-5


@pytest.mark.parametrize(("call", "target"), [
    (lambda x: x + 1, "_operator:add"),
    (lambda x: x.transpose(2, 3).contiguous(), "torch:Tensor.transpose"),
    (lambda x: torch.roll(x.permute(0, 1, 3, 2), 1), "torch:roll"),
    (lambda x: F.pad(x, (1, 1)), "torch.nn.functional:pad"),
    (lambda x: F.max_pool2d(x, 2, return_indices=True)[0], "_operator:getitem"),
    (lambda x: torch.cat(x.chunk(2, 1)[::-1], 1), "torch:cat"),
])
def test_calls_no_block_has_become_opaque_nodes(call: Callable[[Tensor], Tensor],
                                                target: str) -> None:
    result = import_module(Call(call), (3, 6, 6))
    assert target in _opaque_targets(result.graph)
    assert result.max_difference is not None and result.max_difference < 1e-5


def test_shared_weights_are_refused() -> None:
    layer = nn.Linear(4, 4)
    (item,) = _refusal(nn.Sequential(layer, nn.ReLU(), layer), (4,))
    assert item.name == "0" and "shared weights" in item.reason


def test_a_model_that_cannot_run_on_the_input_shape_is_refused() -> None:
    with pytest.raises(ModelImportError, match="cannot run on a batch of 3×8×8"):
        import_module(nn.Sequential(nn.Linear(4, 2)), (3, 8, 8))


def test_factories_are_loaded_by_module_and_name() -> None:
    result = import_factory(f"{__name__}:small_net", (3, 16, 16), num_classes=3)
    assert result.source == f"{__name__}:small_net" and result.name == "small_net"
    assert analyze(result.graph).nodes[result.graph.by_name("fc").id].shape == (3,)
    with pytest.raises(FactoryError, match="no attribute"):
        import_factory(f"{__name__}:missing", (3, 16, 16))
    with pytest.raises(FactoryError, match="cannot import"):
        import_factory("netbuilder.no_such_module:f", (3, 16, 16))


# -- the command and the project file ------------------------------------------------------------
def _cli(*argv: str) -> int:
    return cli.main(["import", *argv])


def test_cli_writes_a_project_and_weights_that_reproduce_the_model(tmp_path: Path) -> None:
    project_path, weights_path = tmp_path / "net.nbproj", tmp_path / "w" / "net.pt"
    weights_path.parent.mkdir()
    code = _cli(f"{__name__}:small_net", "--input-shape", "3,16,16", "--num-classes", "4",
                "-o", str(project_path), "--weights-out", str(weights_path))
    assert code == 0
    project = load(project_path)
    assert project.meta["weights"] == "w/net.pt"
    compiled = compile_graph(project.graph).eval()
    compiled.load_state_dict(torch.load(weights_path), strict=True)
    torch.manual_seed(0)
    model = small_net(4).eval()
    model.load_state_dict(torch.load(weights_path), strict=True)
    x = torch.randn(2, 3, 16, 16)
    assert torch.allclose(compiled(x), model(x), atol=1e-6)


def test_cli_lists_what_cannot_be_mapped_and_exits_with_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = str(tmp_path / "bad.nbproj")
    assert _cli(f"{__name__}:unsupported", "--input-shape", "3,8,8", "-o", target) == 1
    error = capsys.readouterr().err
    assert "branching:" in error and "unused:" in error and "scale:" not in error
    assert not Path(target).exists()
    assert _cli("netbuilder.no_such_module:f", "-o", target) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_cli_arguments_parse(capsys: pytest.CaptureFixture[str]) -> None:
    assert shape_argument("3x32x32") == (3, 32, 32) and shape_argument("10") == (10,)
    assert parse_keyword("aux_logits=False") == ("aux_logits", False)
    assert parse_keyword("weights=DEFAULT") == ("weights", "DEFAULT")
    with pytest.raises(argparse.ArgumentTypeError, match="'a' is not a whole number"):
        shape_argument("3,a")
    assert _cli("torchvision.models:resnet18", "--input-shape", "3,0,8", "-o", "x.nbproj") == 2
    assert "at least 1, got 0" in capsys.readouterr().err


def test_project_round_trip_keeps_everything(
        imported: tuple[str, nn.Module, ImportResult]) -> None:
    _, model, result = imported
    text = dumps(result.project("model.pt"))
    again = loads(text)
    assert dumps(again) == text
    assert again.meta == {"title": "model", "imported_from": "model", "weights": "model.pt"}
    before, after = analyze(result.graph), analyze(again.graph)
    assert after.errors == [] and after.total_params == before.total_params

    def nodes(graph: Graph) -> list[tuple[str, str, object, object]]:
        return [(n.name, n.type, n.resolved, n.pos) for _, n in graph.walk()]

    assert nodes(again.graph) == nodes(result.graph)
    compiled = compile_with(again.graph, result.weights)
    x = _batch(result, seed=2)
    with torch.no_grad():
        assert (compiled(x) - model(x)).abs().max().item() < 1e-5
