"""Paths a project file names: resolved against its folder, confirmed when outside it.

A project is a document, not a program: its ``checkpoint`` init files, ``data_dir``,
``imagefolder:`` data set and ``download`` are listed (:func:`external_paths`), resolved
against the project's folder, and refused on the command line unless allowed. Folder
names made from titles stay inside their folder; paths that are not regular files are
refused without being read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netbuilder import cli
from netbuilder.core import serialize
from netbuilder.core.graph import Graph
from netbuilder.core.project_paths import (
    UnconfirmedPathError,
    anchor_graph,
    anchor_training,
    anchored_graph,
    external_paths,
    file_problem,
    path_uses,
    require_confirmation,
    safe_folder_name,
)


def network(init_file: str | None = None) -> Graph:
    """input 1×8×8 → conv (weights from ``init_file``) → relu → flatten → linear → output."""
    graph = Graph()
    last = graph.add("input", "input", shape=(1, 8, 8))
    conv = last = graph.add("conv2d", "conv", after=last, out_channels=4, kernel_size=3,
                            padding=1)
    if init_file is not None:
        conv.init = {"scheme": "checkpoint", "file": init_file, "key": "conv"}
    last = graph.add("relu", "relu", after=last)
    last = graph.add("flatten", "flatten", after=last)
    last = graph.add("linear", "fc", after=last, out_features=10)
    graph.add("output", "output", after=last)
    return graph


def conv_weights(path: Path) -> Path:
    import torch

    torch.save({"conv.weight": torch.full((4, 1, 3, 3), 0.5), "conv.bias": torch.zeros(4)},
               path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- what a project names ----------------------------------------------------------------------
def test_paths_inside_the_project_folder_need_no_confirmation(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    (folder / "weights").mkdir(parents=True)
    training = {"dataset": "imagefolder:images", "data_dir": "data",
                "init": {"scheme": "checkpoint", "file": "weights/all.pt"}}
    uses = path_uses(network("weights/w.pt"), training, folder)
    assert [u.field for u in uses] == ["node conv init.file", "training.init.file",
                                       "training.dataset", "training.data_dir"]
    assert [u.path for u in uses] == [folder / "weights/w.pt", folder / "weights/all.pt",
                                      folder / "images", folder / "data"]
    assert not any(u.outside for u in uses)
    assert external_paths(network("weights/w.pt"), training, folder) == []


@pytest.mark.parametrize("named", ["/etc/passwd", "../elsewhere/w.pt", "~/w.pt", "link/w.pt"])
def test_paths_leaving_the_project_folder_need_confirmation(tmp_path: Path, named: str) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "link").symlink_to(tmp_path)
    (use,) = external_paths(network(named), {}, folder)
    assert use.outside and use.field == "node conv init.file"
    assert use.describe().startswith("node conv init.file: reads weights from ")


def test_downloads_always_need_confirmation(tmp_path: Path) -> None:
    uses = external_paths(Graph(), {"dataset": "mnist", "data_dir": "data",
                                    "download": True}, tmp_path)
    assert [(u.field, u.download, u.path) for u in uses] == [
        ("training.download", True, tmp_path / "data")]
    assert "downloads mnist" in uses[0].describe()


def test_a_document_without_a_folder_confirms_every_path(tmp_path: Path) -> None:
    uses = external_paths(network("w.pt"), {"data_dir": str(tmp_path)}, None)
    assert [u.field for u in uses] == ["node conv init.file", "training.data_dir"]
    assert external_paths(network(str(tmp_path / "w.pt")), {}, None,
                          trusted=[tmp_path]) == []


def test_require_confirmation_names_the_field_the_path_and_the_flag(tmp_path: Path) -> None:
    uses = external_paths(network("/elsewhere/w.pt"), {"data_dir": "/data",
                                                      "download": True}, tmp_path)
    kwargs = {"outside_hint": "pass --allow-outside-paths", "download_hint": "pass --download"}
    with pytest.raises(UnconfirmedPathError) as caught:
        require_confirmation(uses, outside_allowed=False, download_allowed=True, **kwargs)
    assert str(caught.value) == ("node conv init.file: reads weights from /elsewhere/w.pt, "
                                 "outside the project's folder (1 more): pass "
                                 "--allow-outside-paths")
    with pytest.raises(UnconfirmedPathError, match=r"training\.download.*pass --download"):
        require_confirmation(uses, outside_allowed=True, download_allowed=False, **kwargs)
    require_confirmation(uses, outside_allowed=True, download_allowed=True, **kwargs)


def test_anchoring_resolves_against_the_project_folder(tmp_path: Path) -> None:
    graph = network("w.pt")
    copy = anchored_graph(graph, tmp_path)
    assert graph.by_name("conv").init["file"] == "w.pt"  # type: ignore[index]
    assert copy.by_name("conv").init["file"] == str(tmp_path / "w.pt")  # type: ignore[index]
    assert list(copy.nodes) == list(graph.nodes)
    anchor_graph(graph, tmp_path)
    assert graph.by_name("conv").init["file"] == str(tmp_path / "w.pt")  # type: ignore[index]
    training = anchor_training({"dataset": "imagefolder:img", "data_dir": "/abs",
                                "init": {"scheme": "checkpoint", "file": "all.pt"}}, tmp_path)
    assert training == {"dataset": f"imagefolder:{tmp_path / 'img'}", "data_dir": "/abs",
                        "init": {"scheme": "checkpoint", "file": str(tmp_path / "all.pt")}}


@pytest.mark.parametrize("title,expected", [
    ("..", "untitled"), (".", "untitled"), ("/", "untitled"), ("", "untitled"),
    ("../../etc", "etc"), ("a/b", "a-b"), ("x\x00y\x1bz", "x-y-z"), (".hidden", "hidden"),
    ("ResNet-18 (mine)", "ResNet-18-mine"), ("CON", "CON_"), ("nul.txt", "nul.txt_"),
])
def test_folder_names_made_from_titles_stay_in_their_folder(title: str, expected: str) -> None:
    name = safe_folder_name(title)
    assert name == expected
    assert (Path("/runs") / name).parent == Path("/runs")


def test_folder_names_are_bounded() -> None:
    assert len(safe_folder_name("x" * 500)) <= 80


# -- files that are not projects ------------------------------------------------------------------
def test_file_problem_says_why_without_reading(tmp_path: Path) -> None:
    good = tmp_path / "net.nbproj"
    good.write_text("{}")
    fifo = tmp_path / "pipe.nbproj"
    os.mkfifo(fifo)
    assert file_problem(good) is None
    missing = tmp_path / "missing.nbproj"
    assert file_problem(missing) == f"{missing}: no such file"
    assert "is a folder" in (file_problem(tmp_path) or "")
    assert "not a regular file" in (file_problem(fifo) or "")


def test_a_pipe_as_a_weights_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "w.pt"
    os.mkfifo(fifo)
    script = ("from netbuilder.compiler import compile_graph\n"
              "from netbuilder.compiler.errors import InitError\n"
              "from tests.test_project_paths import network\n"
              f"try:\n    compile_graph(network({str(fifo)!r}))\n"
              "except InitError as error:\n    print(error)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert "not a regular file" in done.stdout


def test_a_weights_file_torch_refuses_is_one_line(tmp_path: Path) -> None:
    from netbuilder.compiler import compile_graph
    from netbuilder.compiler.errors import InitError

    bad = tmp_path / "w.pt"
    bad.write_text("import os\n")
    with pytest.raises(InitError) as caught:
        compile_graph(network(str(bad)))
    assert "\n" not in str(caught.value) and "conv" in str(caught.value)


# -- the command line ------------------------------------------------------------------------------
def save_project(folder: Path, graph: Graph, **training: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "net.nbproj"
    serialize.save(serialize.Project(graph, dict(training)), path)
    return path


def test_export_reads_relative_weights_from_the_project_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "project"
    path = save_project(folder, network("w.pt"))
    conv_weights(folder / "w.pt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = run(capsys, "export", str(path), "-o", "net.py")
    assert code == 0, err
    assert (elsewhere / "net.py").is_file()


def test_export_refuses_weights_outside_the_project_unless_allowed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = conv_weights(tmp_path / "w.pt")
    path = save_project(tmp_path / "project", network(str(weights)))
    out = tmp_path / "net.py"
    code, _, err = run(capsys, "export", str(path), "-o", str(out))
    assert code == 2 and err.count("\n") == 1
    assert "node conv init.file" in err and str(weights) in err
    assert "--allow-outside-paths" in err and not out.exists()
    code, _, err = run(capsys, "export", str(path), "-o", str(out), "--allow-outside-paths")
    assert code == 0, err


def test_export_to_a_project_file_writes_the_resolved_paths(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_project(tmp_path / "project", network("w.pt"))
    out = tmp_path / "copy" / "net.nbproj"
    out.parent.mkdir()
    assert run(capsys, "export", str(path), "-o", str(out))[0] == 0
    conv = serialize.load(out).graph.by_name("conv")
    assert conv.init["file"] == str(tmp_path / "project" / "w.pt")  # type: ignore[index]


@pytest.mark.parametrize("training,field", [
    ({"data_dir": "/"}, "training.data_dir"),
    ({"dataset": "imagefolder:/"}, "training.dataset"),
    ({"init": {"scheme": "checkpoint", "file": "/w.pt"}}, "training.init.file"),
    ({"dataset": "mnist", "download": True}, "training.download"),
])
def test_train_refuses_what_the_project_names_outside_its_folder(
        tmp_path: Path, training: dict[str, object], field: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = save_project(tmp_path / "project", network(), **training)
    code, out, err = run(capsys, "train", str(path), "--no-checkpoint", "--json-log",
                         "--quiet")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert field in err and "Traceback" not in err
    flag = "--download" if field == "training.download" else "--allow-outside-paths"
    assert flag in err


def test_paths_typed_on_the_command_line_need_no_confirmation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_project(tmp_path / "project", network(), data_dir="/nonexistent")
    code, _, err = run(capsys, "train", str(path), "--data-dir", str(tmp_path / "data"),
                       "--dataset", "mnist", "--no-checkpoint", "--quiet")
    assert code == 2 and "mnist is not in" in err and "allow-outside" not in err


def test_train_resolves_the_projects_paths_against_its_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.training.test_faults import image_folder

    folder = tmp_path / "project"
    image_folder(folder / "images")
    conv_weights(folder / "w.pt")
    path = save_project(folder, network("w.pt"), dataset="imagefolder:images", epochs=1,
                        batch_size=4)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = run(capsys, "train", str(path), "--json-log", "--quiet",
                         "--checkpoint-dir", "ck")
    assert code == 0, err
    assert [json.loads(line)["epoch"] for line in out.splitlines()] == [1]
    assert (elsewhere / "ck" / "last.pt").is_file()


def test_a_projects_download_needs_the_download_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.training.fakedata import write_mnist

    folder = tmp_path / "project"
    write_mnist(folder / "data")
    path = save_project(folder, network(), dataset="mnist", data_dir="data", download=True,
                        epochs=1)
    code, _, err = run(capsys, "train", str(path), "--no-checkpoint", "--quiet")
    assert code == 2 and "training.download" in err
    code, _, err = run(capsys, "train", str(path), "--no-checkpoint", "--quiet", "--download")
    assert code == 0, err


def test_the_run_name_made_from_a_file_name_is_a_safe_folder_name(tmp_path: Path) -> None:
    from netbuilder.training import cli as train_cli

    odd = tmp_path / "..nbproj"  # its stem is "."
    serialize.save(serialize.Project(network()), odd)
    source = train_cli.load_source(str(odd))
    assert source.name == "untitled" and source.folder == tmp_path


# -- stale temporary files of killed saves ---------------------------------------------------------
def test_a_save_removes_the_temporary_files_a_killed_save_left(tmp_path: Path) -> None:
    path = tmp_path / "net.nbproj"
    stale = [tmp_path / ".net.nbproj.0123abcd.tmp", tmp_path / ".net.nbproj.deadbeef.tmp"]
    kept = [tmp_path / ".other.nbproj.0123abcd.tmp", tmp_path / ".net.nbproj.notours.tmp",
            tmp_path / ".net.nbproj.0123abcd.tmp.bak"]
    for file in stale + kept:
        file.write_text("half a project")
        os.utime(file, (file.stat().st_atime, file.stat().st_mtime - 3600))
    in_progress = tmp_path / ".net.nbproj.feedf00d.tmp"  # a save writing it right now
    in_progress.write_text("being written")
    serialize.save(serialize.Project(network()), path)
    assert not any(file.exists() for file in stale)
    assert all(file.exists() for file in kept) and in_progress.exists()
    assert serialize.load(path).graph.by_name("conv") is not None


def test_an_output_removes_the_staging_folder_a_killed_write_left(tmp_path: Path) -> None:
    from netbuilder.core.outputs import write_output

    staging = tmp_path / ".net.py.0123abcd.tmp"
    staging.mkdir()
    (staging / "net.py").write_text("half")
    os.utime(staging, (0, 0))
    write_output(tmp_path / "net.py", lambda p: p.write_text("whole"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py"]
