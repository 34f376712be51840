"""``netbuilder summary FILE --batch B --optimizer O --amp --fit GB`` (issue 17.1)."""

from __future__ import annotations

import json

import pytest

from netbuilder.cli import main
from netbuilder.core.analysis import analyze
from netbuilder.core.memory import MemorySettings, format_bytes, largest_batch, plan_memory
from netbuilder.templates import build_template


def test_summary_adds_memory_columns_and_peaks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "lenet5", "--batch", "32", "--optimizer", "sgd", "--amp"]) == 0
    out = capsys.readouterr().out
    graph = build_template("lenet5")
    plan = plan_memory(graph, analyze(graph),
                       MemorySettings(batch=32, precision="bf16", optimizer="sgd"))
    assert "Saved" in out and "State" in out
    assert "Memory (sgd, bf16, batch 32):" in out
    assert f"= {format_bytes(plan.training_peak)}" in out


def test_summary_json_has_the_plan_and_the_largest_batch(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "resnet20", "--json", "--batch", "8", "--fit", "0.5"]) == 0
    memory = json.loads(capsys.readouterr().out)["memory"]
    graph = build_template("resnet20")
    analysis = analyze(graph)
    assert memory["training_peak_bytes"] == plan_memory(
        graph, analysis, MemorySettings(batch=8)).training_peak
    assert memory["largest_batch"] == largest_batch(graph, analysis, 0.5e9,
                                                    MemorySettings(batch=8))
    assert memory["largest_batch"] > 8


@pytest.mark.parametrize("option", [["--batch", "0"], ["--batch", "-2"], ["--fit", "-1"]])
def test_a_batch_of_zero_or_a_negative_budget_is_refused(
        option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "lenet5", *option]) == 2
    err = capsys.readouterr().err
    assert "give at least 1" in err or "0 GB or more" in err


def test_summary_without_memory_options_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "lenet5"]) == 0
    assert "Saved" not in capsys.readouterr().out
