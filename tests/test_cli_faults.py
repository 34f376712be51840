"""The ``netbuilder`` command under bad arguments and paths: one line, exit 1 or 2, no traceback.

Every output path goes through one writer (:mod:`netbuilder.core.outputs`) that checks
the target first; these tests drive ``netbuilder.cli.main`` as a user would (a pipe that
would block runs in a subprocess with a timeout).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netbuilder import cli, resources
from netbuilder.core.messages import one_line, printable
from netbuilder.core.outputs import OutputError, prepare_output_folder, write_output

EXAMPLE = resources.example_path("lenet5")
TINY = ["import", f"{__name__}:tiny_net", "--input-shape", "4"]


def tiny_net() -> object:
    """The model ``netbuilder import`` imports in these tests."""
    from torch import nn

    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code: int, err: str, expected: int = 2) -> str:
    """The exit status is ``expected`` and standard error is one line, no traceback."""
    assert code == expected, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and "\x1b" not in err and "\x00" not in err
    return err


def bad_targets(tmp_path: Path, suffix: str) -> dict[str, Path]:
    """Output paths that cannot be written: /proc, a missing folder, a folder."""
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    return {"proc": Path(f"/proc/netbuilder-test{suffix}"),
            "missing": tmp_path / "missing" / f"x{suffix}", "folder": folder}


# -- one writer -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["proc", "missing", "folder"])
@pytest.mark.parametrize("argv,suffix", [
    (["render", str(EXAMPLE)], ".png"), (["render", str(EXAMPLE)], ".svg"),
    (["export", "lenet5"], ".py"), (["export", "lenet5"], ".nbproj"),
    (TINY, ".nbproj"),
])
def test_unwritable_outputs_are_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], suffix: str,
        kind: str) -> None:
    target = bad_targets(tmp_path, suffix)[kind]
    code, out, err = run(capsys, *argv, "-o", str(target))
    assert_one_line(code, err)
    assert str(target) in err and out == ""
    assert not (target.is_file()), "nothing may be written"


def test_export_weights_beside_an_unwritable_file_fail_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "net.pt").mkdir()
    code, _, err = run(capsys, *TINY, "-o", str(tmp_path / "net.nbproj"))
    assert_one_line(code, err)
    assert "net.pt" in err and not (tmp_path / "net.nbproj").exists()


def test_render_into_a_writable_folder_still_works(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "g.svg"
    target.write_text("old")
    code, out, _ = run(capsys, "render", str(EXAMPLE), "-o", str(target))
    assert code == 0 and out.strip() == str(target)
    assert "c1" in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.svg"], "no temporary left"


@pytest.mark.parametrize("scale", ["nan", "inf", "-inf", "1000", "0", "-1"])
def test_render_refuses_a_scale_out_of_range(tmp_path: Path, scale: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "g.png"
    code, _, err = run(capsys, "render", str(EXAMPLE), "-o", str(target), f"--scale={scale}")
    assert "--scale" in assert_one_line(code, err) and "0.1" in err and "10" in err
    assert not target.exists()


@pytest.mark.parametrize("name", ["nn", "super", "torch", "tuple", "print", "getattr",
                                  "object"])
def test_export_refuses_class_names_that_shadow_what_the_source_uses(
        tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "net.py"
    code, _, err = run(capsys, "export", "lenet5", "-o", str(target), "--class-name", name)
    assert repr(name) in assert_one_line(code, err)
    assert not target.exists()


def test_export_still_takes_a_fresh_class_name(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "net.py"
    code, _, err = run(capsys, "export", "lenet5", "-o", str(target), "--class-name", "Tiny")
    assert code == 0, err
    assert "class Tiny(nn.Module)" in target.read_text()


def test_weights_for_a_template_without_torchvision_weights_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    weights = tmp_path / "file.pt"
    torch.save({"a": torch.zeros(2)}, weights)
    code, _, err = run(capsys, "export", "lenet5", "-o", str(tmp_path / "x.py"),
                       "--weights", str(weights))
    assert "lenet5" in assert_one_line(code, err)


def test_weights_that_torch_refuses_are_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "file.pt"
    weights.write_text("print('hello')\n")
    code, _, err = run(capsys, "export", "resnet18", "-o", str(tmp_path / "x.py"),
                       "--weights", str(weights))
    assert_one_line(code, err)


# -- sources -----------------------------------------------------------------------------------
def test_summary_of_a_pipe_with_no_writer_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.nbproj"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "netbuilder", "summary", str(fifo)],
                          capture_output=True, text=True, timeout=60)
    assert_one_line(done.returncode, done.stderr)
    assert "not a regular file" in done.stderr


def test_a_folder_as_the_project_is_one_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "summary", str(tmp_path))
    assert "is a folder" in assert_one_line(code, err)


def test_summary_prints_the_graph_errors_in_the_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "noout.nbproj"
    path.write_text(json.dumps({"format": "netbuilder-project", "format_version": 1, "graph": {
        "nodes": [{"id": "in", "type": "input", "name": "image", "params": {"shape": [4]}},
                  {"id": "l", "type": "linear", "name": "l", "params": {"out_features": 2}}],
        "edges": [{"source": "in", "target": "l"}]}}))
    code, out, _ = run(capsys, "summary", str(path))
    assert code == 1 and "1 error:" in out and "no output node" in out


def test_control_characters_from_a_file_are_escaped(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    odd = tmp_path / "odd\x1b[2Jname\x07.nbproj"
    odd.write_text("{")
    code, _, err = run(capsys, "summary", str(odd))
    assert "\\x1b[2J" in assert_one_line(code, err) and "\\x07" in err


def test_messages_are_escaped_and_joined_by_one_helper() -> None:
    assert printable("a\x00b\x1bc\u202ed") == "a\\x00b\\x1bc\\u202ed"
    assert printable("a\nb", keep_newlines=True) == "a\nb"
    assert one_line("cannot compile (1 error):\n  no output\r\n") == \
        "cannot compile (1 error): no output"
    assert one_line("tab\there") == "tab\\there"


# -- the writer itself --------------------------------------------------------------------------
def test_write_output_replaces_atomically_and_keeps_the_old_file_on_failure(
        tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_output(target, lambda p: p.write_text("new"))
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640

    def fail(path: Path) -> None:
        path.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="no space left on device"):
        write_output(target, fail)
    with pytest.raises(OutputError, match="nothing was written"):
        write_output(target, lambda p: p.write_text(""))
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_output_maps_torchs_write_errors(tmp_path: Path) -> None:
    def torch_fails(path: Path) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc:747] . open file failed "
                           "with strerror: No such file or directory")

    with pytest.raises(OutputError, match="No such file or directory"):
        write_output(tmp_path / "w.pt", torch_fails)
    with pytest.raises(ValueError, match="a bug"):
        write_output(tmp_path / "w.pt", lambda p: (_ for _ in ()).throw(ValueError("a bug")))


def test_prepare_output_folder(tmp_path: Path) -> None:
    assert prepare_output_folder(tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="it is a file"):
        prepare_output_folder(tmp_path / "file")
    with pytest.raises(OutputError, match="cannot create"):
        prepare_output_folder("/proc/netbuilder-test/ck")
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == []


def test_import_writes_the_project_and_weights_through_the_writer(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *TINY, "-o", str(tmp_path / "net.nbproj"))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.nbproj", "net.pt"]
    assert "wrote" in out


def test_import_help_says_the_factory_runs_as_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["import", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "runs whatever code that is" in text and "only code you trust" in text
