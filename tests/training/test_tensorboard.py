"""TensorBoard event files from ``netbuilder train --tensorboard`` and the job."""

from __future__ import annotations

from pathlib import Path

import pytest

from netbuilder.training.cli import main

pytest.importorskip("tensorboard")


def _events(folder: Path) -> tuple[set[str], set[str], bool]:
    """Scalar tags, histogram tags, and whether a graph was written."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"histograms": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    return set(tags["scalars"]), set(tags["histograms"]), bool(tags["graph"])


def test_train_writes_scalars_histograms_and_graph(tmp_path: Path) -> None:
    code = main(["lenet5", "--dataset", "digits", "--epochs", "1", "--batch-size", "64",
                 "--quiet", "--no-checkpoint", "--tensorboard", str(tmp_path / "tb")])
    assert code == 0
    scalars, histograms, graph = _events(tmp_path / "tb")
    assert {"train/loss", "train/acc", "train/lr", "val/loss", "val/acc"} <= scalars
    assert any(tag.startswith("weights/") for tag in histograms)
    assert any(tag.startswith("grads/") for tag in histograms)
    assert graph


def test_unwritable_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["lenet5", "--epochs", "1", "--quiet", "--no-checkpoint",
                 "--tensorboard", str(blocker)])
    assert code == 2 and "cannot write into" in capsys.readouterr().err
