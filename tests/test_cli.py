"""The ``netbuilder`` command line: summary table and JSON, exit codes, clean errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netbuilder import __version__, cli, resources
from netbuilder.core.serialize import Project

EXAMPLE = resources.example_path("lenet5")
BROKEN = Path(__file__).parent / "data" / "broken"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, nodes: list[Any], edges: list[Any]) -> str:
    path = tmp_path / "net.nbproj"
    path.write_text(json.dumps({"format": "netbuilder-project", "format_version": 1,
                                "graph": {"nodes": nodes, "edges": edges}}))
    return str(path)


def grouped(tmp_path: Path, padding: int = 1) -> str:
    """input → group(conv → relu) → add(group, input) → output; padding 0 breaks the add."""
    body = {"nodes": [{"id": "x", "type": "group_input", "name": "x"},
                      {"id": "conv", "type": "conv2d", "name": "conv",
                       "params": {"out_channels": 1, "kernel_size": 3, "padding": padding}},
                      {"id": "relu", "type": "relu", "name": "relu"},
                      {"id": "y", "type": "group_output", "name": "y"}],
            "edges": [{"source": "x", "target": "conv"}, {"source": "conv", "target": "relu"},
                      {"source": "relu", "target": "y"}]}
    return write(tmp_path, [
        {"id": "in", "type": "input", "name": "image", "params": {"shape": [1, 8, 8]}},
        {"id": "g", "type": "group", "name": "block", "body": body},
        {"id": "sum", "type": "add", "name": "sum"},
        {"id": "out", "type": "output", "name": "out"},
    ], [{"source": "in", "target": "g"}, {"source": "g", "target": "sum"},
        {"source": "in", "target": "sum"}, {"source": "sum", "target": "out"}])


def test_summary_table_of_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "summary", str(EXAMPLE))
    assert code == 0 and err == ""
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("Node"))
    assert header.split() == ["Node", "Type", "Output", "Params", "Mult-adds", "RF"]
    c1 = next(line for line in lines if line.startswith("c1 "))
    assert c1.split() == ["c1", "conv2d", "6×28×28", "156", "117,600", "5"]
    assert any(line.split()[:3] == ["f7", "linear", "10"] for line in lines)
    assert "Total params:       61,706" in lines
    assert any(line.startswith("Activation memory:") and "MB per sample" in line
               for line in lines)
    assert "Model size:         0.25 MB (float32)" in lines
    assert "error" not in out


def test_summary_json_of_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "summary", str(EXAMPLE), "--json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"nodes", "total_params", "total_macs", "errors"}
    assert data["nodes"][1] == {"id": "c1", "name": "c1", "type": "conv2d",
                                "output_shape": [6, 28, 28], "params": 156, "macs": 117600}
    assert [n["name"] for n in data["nodes"]][-2:] == ["f7", "output"]
    assert data["total_params"] == 61706 and data["errors"] == []
    assert data["total_macs"] == sum(n["macs"] for n in data["nodes"])


def test_groups_are_indented_and_named_with_their_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = grouped(tmp_path)
    code, out, _ = run(capsys, "summary", path)
    assert code == 0
    names = [re.match(r" *\S+", line).group() for line in out.splitlines()[3:9]]  # type: ignore
    assert names == ["image", "block", "  x", "  conv", "  relu", "  y"]
    _, out, _ = run(capsys, "summary", path, "--json")
    assert [n["name"] for n in json.loads(out)["nodes"]][2:4] == ["block.x", "block.conv"]


def test_graph_errors_are_listed_with_names_and_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = grouped(tmp_path, padding=0)
    code, out, err = run(capsys, "summary", path)
    assert code == 1 and err == ""
    errors = out[out.index("1 error:"):].splitlines()
    assert errors[1].startswith("  sum: ") and "block" in errors[1] and "image" in errors[1]
    code, out, _ = run(capsys, "summary", path, "--json")
    (error,) = json.loads(out)["errors"]
    assert code == 1 and error["nodes"][0] == "sum" and set(error["nodes"]) >= {"block"}
    assert error["message"].startswith("sum: ")


def test_unreadable_files_exit_2_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in (BROKEN / "unknown_param.nbproj", tmp_path / "missing.nbproj"):
        code, out, err = run(capsys, "summary", str(path))
        assert code == 2 and out == ""
        assert err.startswith(f"netbuilder: error: {path}: ") and err.count("\n") == 1
    assert "params.kernal_size" in run(capsys, "summary",
                                       str(BROKEN / "unknown_param.nbproj"))[2]


def test_no_arguments_opens_the_editor(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import netbuilder.ui.app as app

    opened: list[str | None] = []
    monkeypatch.setattr(app, "run_gui", lambda path: opened.append(path) or 0)
    assert run(capsys)[0] == 0
    assert run(capsys, "gui", str(EXAMPLE))[0] == 0
    assert opened == [None, str(EXAMPLE)]


def test_render_writes_png_and_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png, svg = tmp_path / "g.png", tmp_path / "g.svg"
    assert run(capsys, "render", str(EXAMPLE), "-o", str(png))[0] == 0
    assert run(capsys, "render", "lenet5", "-o", str(svg))[0] == 0
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 2000
    assert "c1" in svg.read_text()
    code, _, err = run(capsys, "render", str(EXAMPLE), "-o", str(tmp_path / "g.bmp"))
    assert code == 2 and "choose a .png or .svg" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "invalid choice" in err
    assert run(capsys, "summary")[0] == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"netbuilder {__version__}"


def test_sources_can_be_resolved_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    example = cli.load_source(str(EXAMPLE))
    monkeypatch.setattr(cli, "SOURCE_RESOLVERS",
                        [lambda name: example if name == "lenet" else None])
    assert cli.load_source("lenet") is example
    with pytest.raises(cli.ProjectFileError, match="alexnet: no such file"):
        cli.load_source("alexnet")
    assert isinstance(example, Project)


def test_bundled_examples_are_found() -> None:
    assert resources.examples()["lenet5"] == EXAMPLE and EXAMPLE.is_file()
    assert resources.resource_path("examples", "lenet5.nbproj") == EXAMPLE
    with pytest.raises(FileNotFoundError, match="lenet5"):
        resources.example_path("lenet6")


def test_command_runs_without_torch_and_without_tracebacks() -> None:
    script = ("import sys\n"
              "from netbuilder.cli import main\n"
              f"codes = [main(['summary', {str(EXAMPLE)!r}]),\n"
              f"         main(['summary', {str(BROKEN / 'truncated.nbproj')!r}])]\n"
              "assert codes == [0, 2], codes\n"
              "heavy = [m for m in ('torch', 'PySide6', 'pyqtgraph') if m in sys.modules]\n"
              "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "truncated" in done.stderr
    module = subprocess.run([sys.executable, "-m", "netbuilder", "summary", "--json",
                             str(EXAMPLE)], capture_output=True, text=True, timeout=60)
    assert module.returncode == 0 and json.loads(module.stdout)["total_params"] == 61706
