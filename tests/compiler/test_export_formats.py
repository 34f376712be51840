"""ONNX and ExportedProgram (.pt2) exports: round trips, a dynamic batch, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from netbuilder.cli import main
from netbuilder.compiler import compile_graph
from netbuilder.compiler.export_common import TOLERANCE
from netbuilder.compiler.export_onnx import UnsupportedOpError, export_onnx, onnx_program
from netbuilder.compiler.export_program import export_program
from netbuilder.templates.cli import resolve_source

pytest.importorskip("onnxruntime")

#: Templates exported in the normal suite (small inputs where the template allows them).
FAST = ["lenet5", "resnet18:input_shape=3x64x64", "resnet20"]
#: The big ones: the other families, at the template's own size or a small one
#: (every template exports; these cover each family in CI).
SLOW = ["alexnet", "vgg11:input_shape=3x64x64", "googlenet:input_shape=3x96x96",
        "densenet121:input_shape=3x64x64", "nin"]


def _onnx_outputs(path: Path, x: Tensor) -> Tensor:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])


def _check_onnx(name: str, tmp_path: Path) -> None:
    graph = resolve_source(name)
    assert graph is not None
    module = compile_graph(graph, seed=0).eval()
    report = export_onnx(graph, tmp_path / "net.onnx", module=module)
    assert report.max_abs_diff <= TOLERANCE
    for batch in (1, 5):  # the batch dimension is dynamic
        x = torch.randn(batch, *module.input_shapes[0])
        with torch.no_grad():
            expected = module(x)
        assert torch.allclose(_onnx_outputs(report.path, x), expected, atol=TOLERANCE)


@pytest.mark.parametrize("name", FAST)
def test_onnx_round_trip(name: str, tmp_path: Path) -> None:
    _check_onnx(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_onnx_round_trip_big_templates(name: str, tmp_path: Path) -> None:
    _check_onnx(name, tmp_path)


@pytest.mark.parametrize("name", ["lenet5", "resnet18:input_shape=3x64x64"])
def test_exported_program_round_trip(name: str, tmp_path: Path) -> None:
    graph = resolve_source(name)
    assert graph is not None
    module = compile_graph(graph, seed=0).eval()
    report = export_program(graph, tmp_path / "net.pt2", module=module)
    loaded = torch.export.load(report.path).module()
    for batch in (1, 4):
        x = torch.randn(batch, *module.input_shapes[0])
        with torch.no_grad():
            assert torch.allclose(loaded(x), module(x), atol=1e-5)


@torch.library.custom_op("nbtest::twist", mutates_args=())
def _twist(x: Tensor) -> Tensor:
    return x.flip(-1)


@_twist.register_fake
def _(x: Tensor) -> Tensor:
    return torch.empty_like(x)


class _Twisted(nn.Module):
    """A module calling an op that has no ONNX translation."""

    input_shapes = ((4,),)

    def __init__(self) -> None:
        super().__init__()
        self.twist = _TwistLayer()

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.twist(inputs[0]) + 1


class _TwistLayer(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.nbtest.twist(x)


def test_an_op_onnx_cannot_express_is_named_with_its_node() -> None:
    with pytest.raises(UnsupportedOpError) as caught:
        onnx_program(_Twisted().eval(), {"n1": "twist"}, None, None)
    assert "nbtest" in str(caught.value) and "twist" in str(caught.value)
    assert "node twist" in str(caught.value)


def test_cli_prints_the_difference_and_refuses_bad_output(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["export", "lenet5", "-o", str(tmp_path / "net.onnx")]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(tmp_path / "net.onnx")
    difference = float(err.split("max abs difference:")[1].split()[0])
    assert difference <= TOLERANCE
    assert main(["export", "lenet5", "--format", "pt2", "-o", str(tmp_path / "net.pt2")]) == 0
    assert main(["export", "lenet5", "-o", str(tmp_path / "missing" / "net.onnx")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx", "net.pt2"]


def test_cli_lists_node_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.nbproj"
    broken.write_text(
        '{"format": "netbuilder-project", "format_version": 1, "graph": {"nodes": ['
        '{"id": "i", "type": "input", "name": "x", "params": {"shape": [1, 4, 4]}},'
        '{"id": "c", "type": "conv2d", "name": "conv", "params": {"out_channels": 2,'
        ' "kernel_size": 9}}], "edges": [{"source": "i", "target": "c"}]}}')
    for fmt, out in (("onnx", "b.onnx"), ("pt2", "b.pt2"), ("job", "job")):
        code = main(["export", str(broken), "--format", fmt, "-o", str(tmp_path / out)])
        assert code == 1 and "conv: kernel 9×9" in capsys.readouterr().err
        assert not (tmp_path / out).exists()
