"""A graph with a split (several output ports) and a reshape exports to every format.

The Python source unpacks the split's parts into variables; ONNX and ``torch.export``
programs compute what the compiled module computes, at any batch size.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

from netbuilder.cli import main
from netbuilder.compiler import compile_graph, to_source
from netbuilder.compiler.export_common import TOLERANCE
from netbuilder.compiler.export_onnx import export_onnx
from netbuilder.compiler.export_program import export_program
from netbuilder.core.graph import Graph
from netbuilder.core.serialize import Project, save
from tests.compiler.test_source import assert_equivalent


def gated_graph() -> Graph:
    """conv(8) → split(sizes 3, 5) → conv on the 5 → sigmoid gate on the 3 → reshape."""
    graph = Graph()
    x = graph.add("input", "x", shape=(3, 6, 6))
    conv = graph.add("conv2d", "conv", after=x, out_channels=8, padding=1)
    split = graph.add("split", "split", after=conv, sizes="3, 5")
    mix = graph.add("conv2d", "mix", out_channels=3, kernel_size=1)
    graph.connect(split, mix, "out1")
    gate = graph.add("sigmoid", "gate")
    graph.connect(split, gate, "out0")
    product = graph.add("multiply", "product")
    graph.connect(mix, product)
    graph.connect(gate, product)
    rows = graph.add("reshape", "rows", after=product, shape="6, -1")
    graph.add("output", "out", after=rows)
    return graph


def test_source_unpacks_the_parts_and_computes_the_same() -> None:
    source = assert_equivalent(gated_graph())
    assert "split_out0, split_out1 = self.split(" in source
    assert "self.split = Split(sizes=(3, 5))" in source
    assert "self.rows = Reshape((6, -1))" in source


def test_source_with_an_unused_part_keeps_its_place() -> None:
    graph = Graph()
    x = graph.add("input", "x", shape=(6, 2))
    split = graph.add("split", "split", after=x, chunks=3)
    out = graph.add("output", "out")
    graph.connect(split, out, "out2")
    source = assert_equivalent(graph)
    assert "_, _, split_out2 = self.split(x)" in source
    assert to_source(graph) == source


def test_exported_program_round_trip(tmp_path: Path) -> None:
    graph = gated_graph()
    module = compile_graph(graph, seed=0).eval()
    report = export_program(graph, tmp_path / "net.pt2", module=module)
    loaded = torch.export.load(report.path).module()
    for batch in (1, 4):
        x = torch.randn(batch, 3, 6, 6)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), module(x), atol=1e-5, rtol=0)


def test_the_cli_writes_source_that_runs_with_the_compiled_weights(tmp_path: Path) -> None:
    project, target = tmp_path / "gated.nbproj", tmp_path / "gated.py"
    save(Project(gated_graph()), project)
    assert main(["export", str(project), "--format", "py", "-o", str(target),
                 "--class-name", "Gated"]) == 0
    network = runpy.run_path(str(target))["Gated"]().eval()
    module = compile_graph(gated_graph(), seed=0).eval()
    network.load_state_dict(module.state_dict())
    x = torch.randn(3, 3, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(network(x), module(x), atol=1e-6, rtol=0)


def test_onnx_round_trip(tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    graph = gated_graph()
    module = compile_graph(graph, seed=0).eval()
    report = export_onnx(graph, tmp_path / "gated.onnx", module=module)
    assert report.max_abs_diff <= TOLERANCE
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    for batch in (1, 5):  # the batch dimension stays dynamic through the split and reshape
        x = torch.randn(batch, 3, 6, 6)
        (result,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.no_grad():
            expected = module(x)
        assert torch.allclose(torch.from_numpy(result), expected, atol=TOLERANCE)
