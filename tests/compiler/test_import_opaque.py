"""Models written the way people write them: nothing traceable is refused.

Calls with a block become blocks; every other call becomes an ``opaque`` node that keeps its
qualified name, arguments and weights, runs on the meta device for its shape and reports
measured multiply-adds. Projects holding opaque nodes save, open and compile like any
other; one naming a module outside torch and torchvision is opened only when trusted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from netbuilder import cli
from netbuilder.blocks import opaque
from netbuilder.compiler import compile_graph
from netbuilder.compiler.importer import import_module
from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.core.serialize import Project, load, save


class Functional(nn.Module):
    """A small network written with functional calls, as people write them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(4, 5)

    def forward(self, x: Tensor) -> Tensor:
        x = F.hardswish(F.relu6(self.conv(x)))
        x = F.interpolate(x, scale_factor=2.0, mode="nearest").permute(0, 1, 3, 2)
        a, b = torch.roll(x, 1).chunk(2, 1)
        return self.head((a * torch.sigmoid(b)).mean((2, 3)))


class Scaled(nn.Module):
    """A parameter used directly in forward, through a function no block has."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(6, 4))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight) * 2


def _opaque_nodes(graph: Graph) -> list[str]:
    return [str(n.params["target"]) for _level, n in graph.walk() if n.type == "opaque"]


def test_a_functional_model_imports_and_computes_the_same() -> None:
    result = import_module(Functional(), (3, 8, 8))
    assert result.max_difference is not None and result.max_difference < 1e-5
    types = {n.type for _level, n in result.graph.walk()}
    assert {"relu6", "hardswish", "conv2d", "linear", "upsample", "permute"} <= types
    assert "torch:roll" in _opaque_nodes(result.graph)


def test_an_opaque_node_counts_its_weights_and_measures_its_macs() -> None:
    result = import_module(Scaled(), (4,))
    analysis = analyze(result.graph)
    (node,) = [n for _level, n in result.graph.walk()
               if n.params.get("target") == "torch.nn.functional:linear"]
    info = analysis.nodes[node.id]
    assert info.shape == (6,) and info.params == 24 and info.macs == 24
    assert analysis.total_params == 24 and analysis.total_macs == 24
    assert any("FlopCounterMode" in line for line in info.formulas)
    assert result.key_map["weight"].endswith(".weight")


def test_a_project_with_opaque_nodes_saves_opens_and_computes_the_same(tmp_path: Path) -> None:
    model = Functional().eval()
    result = import_module(model, (3, 8, 8))
    path, _weights = result.save(tmp_path / "functional.nbproj")
    reopened = compile_graph(load(path).graph).eval()
    sample = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(reopened(sample), model(sample), atol=1e-5)


# -- trust ---------------------------------------------------------------------------------
@pytest.fixture
def foreign_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module on the path, not imported yet, defining ``double``; trust reset after."""
    name = "nb_trust_probe"
    (tmp_path / f"{name}.py").write_text("def double(x):\n    return x * 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(opaque, "_trusted", set())
    sys.modules.pop(name, None)
    yield name
    sys.modules.pop(name, None)


def _project_calling(function: str) -> Project:
    graph = Graph()
    source = graph.add("input", "x", shape=(4,))
    node = graph.add("opaque", "call", target=function, call=json.dumps(
        {"function": function, "args": [{"input": 0}]}))
    sink = graph.add("output", "y")
    graph.connect(source.id, node.id)
    graph.connect(node.id, sink.id)
    return Project(graph)


def test_a_project_naming_a_foreign_module_is_opened_only_when_trusted(
        foreign_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "foreign.nbproj"
    save(_project_calling(f"{foreign_module}:double"), path)
    assert opaque.foreign_modules_in_file(path) == [foreign_module]
    assert not analyze(load(path).graph).ok  # analysis does not import it either
    assert foreign_module not in sys.modules
    assert cli.main(["summary", str(path)]) == 2
    assert f"--trust-module {foreign_module}" in capsys.readouterr().err
    assert foreign_module not in sys.modules
    assert cli.main(["--trust-module", foreign_module, "summary", str(path)]) == 0
    assert foreign_module in sys.modules


def test_torch_functions_need_no_trust(tmp_path: Path) -> None:
    path = tmp_path / "torch.nbproj"
    save(_project_calling("torch:tanh"), path)
    assert opaque.foreign_modules_in_file(path) == []
    assert analyze(load(path).graph).ok


# -- bad input -----------------------------------------------------------------------------
class Branching(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        if x.sum() > 0:
            return x
        return -x


def branching() -> nn.Module:
    """A model whose forward branches on a tensor's value: it cannot be traced."""
    return Branching()


def failing() -> nn.Module:
    """A factory that raises."""
    raise RuntimeError("no such checkpoint")


def test_an_untraceable_model_names_the_call_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "m.nbproj"
    assert cli.main(["import", f"{__name__}:branching", "--input-shape", "4", "-o",
                     str(target)]) == 1
    error = capsys.readouterr().err
    assert "control flow" in error and "if x.sum() > 0:" in error
    assert "test_import_opaque.py" in error and "Traceback" not in error
    assert list(tmp_path.iterdir()) == []


def test_a_failing_factory_or_missing_module_exits_2_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = str(tmp_path / "m.nbproj")
    assert cli.main(["import", f"{__name__}:failing", "-o", target]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert cli.main(["import", "netbuilder_no_such_package.models:net", "-o", target]) == 2
    error = capsys.readouterr().err
    assert "netbuilder_no_such_package" in error and "Traceback" not in error
    assert list(tmp_path.iterdir()) == []
