"""``netbuilder train`` run in-process as a user would: JSON log, checkpoints, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netbuilder import cli
from netbuilder.core import serialize

from .graphs import LENET5, ROOT, small_cnn


def train(argv: list[str]) -> int:
    """Run ``netbuilder train ARGV``; return its exit status."""
    return cli.main(["train", *argv])


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_lenet5_on_digits_reaches_90_percent_in_10_epochs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = train([str(LENET5), "--dataset", "digits", "--epochs", "10", "--json-log",
                    "--checkpoint-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 0, err
    records = json_lines(out)
    assert [r["epoch"] for r in records] == list(range(1, 11))
    assert set(records[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                               "lr", "samples_per_s", "seconds"}
    assert records[-1]["val_acc"] >= 0.90, records[-1]
    assert "epoch 10/10" in err and "completed" in err
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "best.pt").is_file()


@pytest.mark.slow
def test_the_lenet5_template_with_its_own_settings_reaches_90_percent(
        capsys: pytest.CaptureFixture[str]) -> None:
    status = train(["lenet5", "--dataset", "digits", "--epochs", "10", "--json-log",
                    "--no-checkpoint", "--quiet"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert json_lines(out)[-1]["val_acc"] >= 0.90


def test_resume_goes_on_from_the_checkpoint(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "small.nbproj"
    serialize.save(serialize.Project(small_cnn(), {"epochs": 2, "batch_size": 128}), project)
    assert train([str(project), "--json-log", "--checkpoint-dir", str(tmp_path / "ck"),
                  "--quiet"]) == 0
    first = json_lines(capsys.readouterr().out)
    assert train(["--resume", str(tmp_path / "ck" / "last.pt"), "--epochs", "3",
                  "--json-log", "--checkpoint-dir", str(tmp_path / "ck"), "--quiet"]) == 0
    second = json_lines(capsys.readouterr().out)
    assert [r["epoch"] for r in first + second] == [1, 2, 3]
    assert train([str(project), "--resume", str(tmp_path / "ck" / "last.pt"), "--epochs",
                  "4", "--json-log", "--no-checkpoint", "--quiet"]) == 0
    assert [r["epoch"] for r in json_lines(capsys.readouterr().out)] == [4]


def test_errors_are_one_line_with_the_exit_status(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert train([str(tmp_path / "missing.nbproj")]) == 2
    assert "no such file or template" in capsys.readouterr().err
    assert train([str(LENET5), "--lr", "-1", "--no-checkpoint"]) == 2
    assert "lr: must be greater than 0" in capsys.readouterr().err
    assert train([str(LENET5), "--dataset", "mnist", "--data-dir", str(tmp_path),
                  "--no-checkpoint"]) == 2
    assert str(tmp_path / "MNIST" / "raw") in capsys.readouterr().err
    broken = small_cnn()
    broken.by_name("conv").params["kernel_size"] = 11
    broken.by_name("conv").resolved["kernel_size"] = 11
    project = tmp_path / "broken.nbproj"
    serialize.save(serialize.Project(broken), project)
    assert train([str(project), "--no-checkpoint"]) == 1
    err = capsys.readouterr().err
    assert "does not compile" in err and "conv" in err
    assert train([]) == 2


def test_importing_the_command_does_not_import_torch() -> None:
    code = ("import sys\nimport netbuilder.training.cli\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
