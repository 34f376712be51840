"""``netbuilder export``: Python source or project files, pretrained weights, transfer learning.

Weights come from a randomly initialised torchvision ResNet-18 saved to a temporary file:
nothing is downloaded and the torch hub cache is never read.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from netbuilder import cli, resources
from netbuilder.compiler import compile_graph
from netbuilder.core.serialize import load
from netbuilder.templates import build_template
from netbuilder.templates import weights as weights_module

RESNET = "resnet18:input_shape=3x64x64"
EXAMPLE = resources.example_path("lenet5")


@pytest.fixture(scope="module")
def torchvision_resnet18(tmp_path_factory: pytest.TempPathFactory) -> tuple[nn.Module, Path]:
    """A randomly initialised torchvision ResNet-18 and its state_dict file."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    path = tmp_path_factory.mktemp("weights") / "resnet18-random.pth"
    torch.save(model.state_dict(), path)
    return model, path


@pytest.fixture(autouse=True)
def no_cached_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behave as on a machine whose torch hub cache is empty."""
    monkeypatch.setattr(weights_module, "find_cached_weights", lambda template: None)


def export(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = cli.main(["export", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def outputs(module: nn.Module, seed: int = 1) -> torch.Tensor:
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return module.eval()(x)


# -- source and project files -----------------------------------------------------------------
def test_template_to_python_source(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "resnet.py"
    code, out, err = export(capsys, RESNET, "-o", target)
    assert (code, out.strip(), err) == (0, str(target), "")
    network = runpy.run_path(str(target))["ResNet18"]()
    compiled = compile_graph(build_template("resnet18", input_shape=(3, 64, 64)))
    assert list(network.state_dict()) == list(compiled.state_dict())


def test_template_to_project_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "resnet.nbproj"
    assert export(capsys, RESNET, "-o", target)[0] == 0
    project = load(target)
    assert project.meta["template"] == "resnet18"
    assert project.graph.by_name("layer1").body is not None
    assert cli.main(["summary", str(target), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_params"] == 11_689_512


def test_project_file_to_python_source(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    target = tmp_path / "lenet.py"
    assert export(capsys, EXAMPLE, "-o", target)[0] == 0
    assert "LeNet5" in runpy.run_path(str(target))
    assert export(capsys, EXAMPLE, "-o", target, "--class-name", "Digits")[0] == 0
    network = runpy.run_path(str(target))["Digits"]()
    assert network(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


# -- weights and transfer learning --------------------------------------------------------------
def test_weights_file_gives_torchvision_outputs(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        torchvision_resnet18: tuple[nn.Module, Path]) -> None:
    model, weights = torchvision_resnet18
    project_file = tmp_path / "pretrained.nbproj"
    assert export(capsys, RESNET, "-o", project_file, "--weights", weights)[0] == 0
    compiled = compile_graph(load(project_file).graph)
    assert torch.allclose(outputs(compiled), outputs(model), atol=1e-5)

    source = tmp_path / "pretrained.py"
    code, out, _err = export(capsys, RESNET, "-o", source, "--weights", weights)
    state_file = source.with_suffix(".pt")
    assert code == 0 and out.split() == [str(source), str(state_file)]
    network = runpy.run_path(str(source))["ResNet18"]()
    network.load_state_dict(torch.load(state_file, weights_only=True))
    assert torch.allclose(outputs(network), outputs(model), atol=1e-5)


def test_transfer_freezes_all_but_a_fresh_head(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        torchvision_resnet18: tuple[nn.Module, Path]) -> None:
    model, weights = torchvision_resnet18
    target = tmp_path / "transfer.nbproj"
    code, _out, _err = export(capsys, RESNET, "-o", target, "--weights", weights,
                              "--transfer", "10")
    assert code == 0
    graph = load(target).graph
    compiled = compile_graph(graph)
    trainable = [name for name, p in compiled.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    assert outputs(compiled).shape == (2, 10)
    assert torch.equal(compiled.state_dict()["layer4.1.conv2.weight"],
                       model.state_dict()["layer4.1.conv2.weight"])
    assert graph.by_name("fc").init is None  # the head starts from fresh weights

    source = tmp_path / "transfer.py"
    code, _out, err = export(capsys, RESNET, "-o", source, "--transfer", "10")
    assert code == 0 and "does not record frozen layers" in err and "layer4" in err


# -- refusals ----------------------------------------------------------------------------------
def test_missing_torchvision_weights_say_where_to_put_them(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = export(capsys, RESNET, "-o", tmp_path / "x.nbproj", "--weights",
                            "torchvision")
    assert code == 2 and out == "" and "Traceback" not in err
    assert str(weights_module.cache_path("resnet18")) in err and "--weights PATH" in err
    assert "https://download.pytorch.org/models/resnet18-" in err
    assert not (tmp_path / "x.nbproj").exists()


@pytest.mark.parametrize(("argv", "message"), [
    ((EXAMPLE, "-o", "x.txt"), "choose a .py, .nbproj, .onnx or .pt2"),
    ((EXAMPLE, "-o", "x.nbproj", "--weights", "torchvision"), "needs a template"),
    ((RESNET, "-o", "x.nbproj", "--weights", "missing.pth"), "no weights file"),
    ((RESNET, "-o", "x.py", "--class-name", "class"), "not a Python class name"),
    (("no-such-net", "-o", "x.py"), "no such file or template"),
])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch, argv: tuple[str | Path, ...],
                             message: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = export(capsys, *argv)
    assert code == 2 and out == "" and message in err and err.startswith("netbuilder: error:")
    assert not list(tmp_path.iterdir())


def test_bad_usage_and_graph_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert export(capsys, RESNET, "-o", tmp_path / "x.py", "--transfer", "0")[0] == 2
    broken = tmp_path / "broken.nbproj"
    broken.write_text(json.dumps({"format": "netbuilder-project", "format_version": 1, "graph": {
        "nodes": [{"id": "i", "type": "input", "name": "x", "params": {"shape": [1, 4, 4]}},
                  {"id": "c", "type": "conv2d", "name": "conv",
                   "params": {"out_channels": 2, "kernel_size": 9}}],
        "edges": [{"source": "i", "target": "c"}]}}))
    code, out, err = export(capsys, broken, "-o", tmp_path / "broken.py")
    assert code == 1 and out == "" and "2 errors" in err and "conv: kernel 9×9" in err
    assert not (tmp_path / "broken.py").exists()
