"""``netbuilder templates`` and template names as command-line sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netbuilder import cli
from netbuilder.core.analysis import analyze
from netbuilder.core.serialize import load, save
from netbuilder.templates import TemplateError, build_project, template_names
from netbuilder.templates.cli import resolve_project, resolve_source


def test_templates_lists_every_template_with_its_parameters(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["templates"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Name", "Title", "Input", "Params", "torchvision"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert list(rows) == template_names()
    assert "25,557,032" in rows["resnet50"] and rows["resnet50"].endswith("resnet50")
    assert rows["lenet5"].endswith("-")


def test_templates_json_and_family_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["templates", "--json", "--family", "VGG"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows][:2] == ["vgg11", "vgg11_bn"]
    vgg16 = next(r for r in rows if r["name"] == "vgg16")
    assert vgg16["params"] == 138_357_544 and vgg16["torchvision"] == "vgg16"
    assert vgg16["input"] == "3×224×224" and vgg16["classes"] == 1000


def test_a_template_name_is_a_source() -> None:
    graph = resolve_source("resnet50")
    assert graph is not None and analyze(graph).total_params == 25_557_032
    small = resolve_source("resnet18:input_shape=3x96x96:num_classes=10")
    assert small is not None
    assert analyze(small).nodes[small.by_name("fc").id].shape == (10,)
    dense = resolve_source("AlexNet-Paper:grouped=false")
    assert dense is not None and analyze(dense).total_params == 62_378_344


def test_files_and_other_names_are_not_templates(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_source("net.nbproj") is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet18").write_text("{}")
    assert resolve_source("resnet18") is None


@pytest.mark.parametrize(("source", "message"), [
    ("resnet18:depth=3", "no option 'depth'"),
    ("resnet18:num_classes", "key=value"),
    ("resnet18:input_shape=3xbig", "use C×H×W"),
])
def test_bad_options_are_explained(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        resolve_source(source)


def test_wrong_usage_and_bad_template_options_exit_2_with_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["templates", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert cli.main(["summary", "resnet18:depth=3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("netbuilder: error: ") and "no option 'depth'" in err
    assert len(err.splitlines()) == 1


def test_a_template_source_is_a_project_with_training_settings_and_origin() -> None:
    project = resolve_project("lenet5:num_classes=4")
    assert project is not None
    assert project.training["optimizer"] == "adam" and project.training["epochs"] == 10
    assert project.meta["template"] == "lenet5"
    assert project.meta["template_options"] == {"input_shape": [1, 28, 28], "num_classes": 4}
    assert project.meta["torchvision"] is None


@pytest.mark.parametrize("name", template_names())
def test_a_template_project_survives_its_file(name: str, tmp_path: Path) -> None:
    project = build_project(name)
    save(project, path := tmp_path / f"{name}.nbproj")
    loaded = load(path)
    assert loaded.meta == json.loads(json.dumps(project.meta))
    assert loaded.training == json.loads(json.dumps(project.training))
    before, after = analyze(project.graph), analyze(loaded.graph)
    assert after.ok and after.total_params == before.total_params
    assert [n.pos for _, n in loaded.graph.walk()] == [n.pos for _, n in project.graph.walk()]


def test_netbuilder_summary_accepts_a_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["summary", "resnet50", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_params"] == 25_557_032 and summary["errors"] == []
    assert "layer4.2.conv3" in {n["name"] for n in summary["nodes"]}
