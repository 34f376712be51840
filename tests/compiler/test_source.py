"""The exported Python file defines the same network: same keys, shapes and outputs."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from torch import nn

from netbuilder.compiler import compile_graph, export_source, to_source
from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.core.registry import default_registry
from tests.compiler.graphs import example_inputs, group, random_graphs, small_resnet

ROOT = Path(__file__).resolve().parents[2]
STRUCTURAL = {"input", "output", "group", "group_input", "group_output"}
#: Input shapes tried, in order, when exporting one block on its own.
TRIAL_SHAPES = [(3, 16, 16), (64, 16, 16), (256, 4, 4), (16,), (3, 16), (2, 3, 8, 8), (5, 768)]


def load(source: str, class_name: str = "Net") -> nn.Module:
    """Execute ``source`` in a fresh namespace and instantiate its network class."""
    namespace: dict[str, Any] = {"__name__": "exported"}
    exec(compile(source, "<exported>", "exec"), namespace)
    return namespace[class_name]()  # type: ignore[no-any-return]


def imported_modules(source: str) -> list[str]:
    """Every module ``source`` imports from."""
    modules = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules.append(node.module or "")
    return modules


def assert_equivalent(graph: Graph, class_name: str = "Net") -> str:
    """Export ``graph``, rebuild it from source and compare it with the compiled module."""
    module = compile_graph(graph, seed=0).eval()
    source = to_source(graph, class_name)
    exported = load(source, class_name).eval()
    expected = [(k, v.shape) for k, v in module.state_dict().items()]
    assert [(k, v.shape) for k, v in exported.state_dict().items()] == expected
    exported.load_state_dict(module.state_dict())
    inputs = example_inputs(module)
    with torch.no_grad():
        mine, theirs = module(*inputs), exported(*inputs)
    pairs = zip(mine, theirs) if isinstance(mine, tuple) else [(mine, theirs)]
    for a, b in pairs:
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    return source


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_random_graphs_export_to_equivalent_source(graph: Graph) -> None:
    source = assert_equivalent(graph)
    assert not [m for m in imported_modules(source) if m.split(".")[0] == "netbuilder"]


def odd_graph() -> Graph:
    """Two inputs, two outputs, awkward node names and a two-output group."""
    graph = Graph()
    a = graph.add("input", "input", shape=(3, 8, 8))
    b = graph.add("input", "b", shape=(3, 8, 8))
    zero = graph.add("conv2d", "0", after=a, out_channels=3, padding=1)
    kw = graph.add("relu", "class", after=b)
    total = graph.add("add", "x")
    for source in (zero, kw, b):
        graph.connect(source, total)
    pad = graph.add("channel_pad", "pad", after=total, out_channels=5, stride=2)
    graph.add("output", "out", after=pad)
    graph.add("output", "out2", after=kw)
    group(graph, ["0", "class"], "pair")
    return graph


def dead_branch_graph() -> Graph:
    """A group whose result nobody reads (it has no outputs) still runs, for hooks."""
    graph = Graph()
    x = graph.add("input", "x", shape=(4,))
    graph.add("sigmoid", "unused", after=graph.add("relu", "probe", after=x))
    graph.add("output", "out", after=graph.add("tanh", "tanh", after=x))
    group(graph, ["probe", "unused"], "side")
    return graph


def test_group_without_outputs_is_called_for_its_side_of_the_graph() -> None:
    source = assert_equivalent(dead_branch_graph())
    assert "-> tuple[()]:" in source and "        self.side(x)\n" in source


def test_resnet_like_export_shares_classes_between_identical_blocks() -> None:
    source = assert_equivalent(small_resnet())
    assert source.count("class BasicBlock(nn.Module):") == 1
    assert source.count("BasicBlock()") == 2
    assert "self.layer1 = Layer1()" in source
    assert 'self.add_module("0", BasicBlock())' in source
    assert "h = self.conv1(x)" in source


def test_awkward_names_multiple_inputs_and_outputs() -> None:
    source = assert_equivalent(odd_graph())
    assert 'getattr(self, "0")' in source and 'self.add_module("class", nn.ReLU())' in source
    assert "class ChannelPad(nn.Module):" in source and "class Add(nn.Module):" in source
    assert set(imported_modules(source)) == {"__future__", "torch", "torch.nn.functional"}


@pytest.mark.parametrize("graph_factory", [small_resnet, odd_graph, dead_branch_graph])
def test_exported_file_is_ruff_clean(graph_factory: Any, tmp_path: Path) -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a test dependency"
    path = export_source(graph_factory(), tmp_path / "net.py")
    config = ["--config", str(ROOT / "pyproject.toml"), "--no-cache"]
    lint = subprocess.run([ruff, "check", *config, str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run([ruff, "format", "--check", *config, str(path)],
                         capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def _single_block_graph(key: str) -> Graph | None:
    """``input → key → output`` (two inputs for merges) on the first shape that fits."""
    for shape in TRIAL_SHAPES:
        graph = Graph()
        inputs = [graph.add("input", f"x{i}", shape=shape) for i in range(2)]
        spec = graph.registry.get(key)
        node = graph.add(key, "block")
        for source in inputs[:2 if spec.inputs and spec.inputs[0].multi else 1]:
            graph.connect(source, node)
        graph.add("output", "out", after=node)
        if analyze(graph).ok:
            return graph
    return None


@pytest.mark.parametrize("key", [s.key for s in default_registry() if s.key not in STRUCTURAL])
def test_every_block_exports(key: str) -> None:
    graph = _single_block_graph(key)
    assert graph is not None, f"no trial shape fits {key}"
    assert_equivalent(graph)


def test_class_name_must_be_an_identifier() -> None:
    with pytest.raises(ValueError, match="not a valid"):
        to_source(small_resnet(), "my net")
    assert "class ResNetMini(nn.Module):" in to_source(small_resnet(), "ResNetMini")
