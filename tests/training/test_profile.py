"""Measured time per node under torch.profiler (issue 17.3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from netbuilder.cli import main
from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.templates import build_template
from netbuilder.training import profile as profiling
from netbuilder.training.profile import ProfileError, profile_graph


def test_node_times_add_up_to_the_step_and_the_trace_opens(tmp_path: Path) -> None:
    graph = build_template("resnet20")
    trace = tmp_path / "step.json"
    result = profile_graph(graph, batch=8, steps=2, trace=trace)
    assert result.step_ms > 0
    assert result.attributed_ms == pytest.approx(result.step_ms, rel=0.10)
    analysis = analyze(graph)
    leaves = {n.id for _, n in graph.walk() if n.body is None and n.type in {
        "conv2d", "batchnorm2d", "relu", "linear"}}
    assert leaves <= set(result.nodes)
    convs = [t for n, t in result.nodes.items() if analysis.nodes[n].macs > 0]
    assert all(t.forward_ms > 0 and t.backward_ms > 0 and t.gmacs > 0 for t in convs)
    relu = next(t for n, t in result.nodes.items() if graph.find(n)[1].type == "relu")
    assert relu.memory_bound and not any(t.memory_bound for t in convs[:1])
    assert sum(t.share for t in result.nodes.values()) == pytest.approx(
        result.attributed_ms / result.step_ms)
    block = graph.by_name("layer1")
    assert result.group_ms(graph, block.id) > 0
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("name", "").startswith(profiling.RANGE_PREFIX) for e in events)


def test_an_absent_device_is_a_message() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ProfileError, match="no CUDA device"):
        profile_graph(build_template("lenet5"), device="cuda")


def test_running_out_of_memory_is_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_memory(*args: Any) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(profiling, "_run", out_of_memory)
    with pytest.raises(ProfileError, match="out of memory on cpu at batch 8"):
        profile_graph(build_template("lenet5"), batch=8)


def test_a_graph_with_errors_is_refused() -> None:
    graph = Graph()
    x = graph.add("input", shape=(3, 4, 4))
    graph.chain(("conv2d", "conv", {"kernel_size": 9}), "output", after=x)
    with pytest.raises(ProfileError, match="errors"):
        profile_graph(graph)


def test_the_profile_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "lenet5", "--batch", "2", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "step:" in out and "GMAC/s" in out
    assert main(["profile", "lenet5", "--batch", "0"]) == 2
