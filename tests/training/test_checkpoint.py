"""Checkpoints: a resumed run continues the same curve; unsafe files are refused."""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

import pytest
import torch

from netbuilder.core.graph import Graph
from netbuilder.training.checkpoint import (
    ModelCheckpoint,
    load_checkpoint,
    save_checkpoint,
)
from netbuilder.training.config import AugmentConfig, TrainConfig
from netbuilder.training.errors import CheckpointError
from netbuilder.training.trainer import Trainer

from .graphs import Recorder, small_cnn

#: Dropout, augmentation, a schedule, batch norm: every random stream and state must resume.
#: (The step schedule does not depend on the number of epochs, so 2 epochs then 2 more
#: follow the same rates as 4.)
CONFIG = TrainConfig(epochs=4, batch_size=128, lr=0.01, schedule="step", step_size=1,
                     gamma=0.7, warmup_epochs=1,
                     augment=AugmentConfig(random_crop=True, crop_padding=1,
                                           horizontal_flip=True))


def graph() -> Graph:
    return small_cnn(dropout=0.2, batchnorm=True)


def test_two_plus_two_epochs_resumed_equal_four_straight(tmp_path: Path) -> None:
    straight = Recorder()
    Trainer(graph(), CONFIG, [straight]).fit()
    first = Recorder()
    Trainer(graph(), CONFIG.updated(epochs=2), [first, ModelCheckpoint(tmp_path)]).fit()
    second = Recorder()
    resumed = Trainer.from_checkpoint(tmp_path / "last.pt", [second], epochs=4)
    result = resumed.fit()
    assert result.status == "completed" and result.epochs_completed == 4
    assert first.losses + second.losses == straight.losses
    assert [e.val_loss for e in first.epochs + second.epochs] == \
        [e.val_loss for e in straight.epochs]
    assert resumed.history.loss == straight.losses
    assert len(resumed.history.epochs) == 4


def test_a_run_stopped_mid_epoch_resumes_at_the_same_step(tmp_path: Path) -> None:
    config = CONFIG.updated(epochs=2, schedule="cosine")
    straight = Recorder()
    Trainer(graph(), config, [straight]).fit()
    first = Recorder({17: lambda trainer: trainer.stop()})
    result = Trainer(graph(), config, [first, ModelCheckpoint(tmp_path)]).fit()
    assert result.status == "stopped" and result.global_step == 17
    second = Recorder()
    Trainer.from_checkpoint(tmp_path / "last.pt", [second]).fit()
    assert first.losses + second.losses == straight.losses
    assert second.epochs[-1].train_loss == straight.epochs[-1].train_loss
    assert second.epochs[-1].val_acc == straight.epochs[-1].val_acc


def test_last_and_best_checkpoints_hold_the_whole_run(tmp_path: Path) -> None:
    recorder = Recorder()
    trainer = Trainer(graph(), CONFIG.updated(epochs=2), [ModelCheckpoint(tmp_path), recorder])
    trainer.fit()
    kinds = [kind for _, kind in recorder.checkpoints]
    assert kinds.count("last") == 3 and kinds.count("best") >= 1
    state = load_checkpoint(tmp_path / "best.pt")
    assert {"graph", "config", "model", "optimizer", "schedule", "history", "progress",
            "rng", "data"} <= set(state)
    assert state["config"] == trainer.config.to_dict()
    assert state["graph"]["nodes"][0]["type"] == "input"
    assert state["data"]["classes"] == [str(d) for d in range(10)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]


def test_a_fault_leaves_the_last_good_checkpoint(tmp_path: Path) -> None:
    trainer = Trainer(graph(), CONFIG.updated(epochs=3), [ModelCheckpoint(tmp_path)],
                      pause_on_fault=False)
    trainer.setup()
    loss = trainer.loss_fn
    calls = [0]

    def nan_in_epoch_two(output: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            calls[0] += 1
            if calls[0] == 15:
                return loss(output, labels) * float("nan")
        return loss(output, labels)

    trainer.loss_fn = nan_in_epoch_two
    assert trainer.fit().status == "fault"
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["progress"]["epoch"] == 1 and state["progress"]["step"] == 0


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (os.getcwd, ())


def test_a_checkpoint_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "netbuilder-checkpoint", "version": 1, "model": _Payload()}, path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(path)
    with open(tmp_path / "plain.pkl", "wb") as stream:
        pickle.dump({"format": "netbuilder-checkpoint", "x": _Payload()}, stream)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "plain.pkl")


def test_foreign_damaged_and_missing_files_are_refused(tmp_path: Path) -> None:
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a NetBuilder checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "damaged.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "damaged.pt")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    save_checkpoint({"version": 99}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="newer NetBuilder"):
        load_checkpoint(tmp_path / "future.pt")


def test_a_failed_write_keeps_the_old_checkpoint(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = save_checkpoint({"value": 1}, tmp_path / "last.pt")

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"value": 2}, target)
    monkeypatch.undo()
    assert load_checkpoint(target)["value"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_closing_during_training_writes_the_checkpoint(tmp_path: Path) -> None:
    reached = threading.Event()
    trainer = Trainer(graph(), CONFIG.updated(epochs=50), [
        Recorder({5: lambda _: reached.set()}), ModelCheckpoint(tmp_path)])
    thread = threading.Thread(target=trainer.fit, daemon=True)
    thread.start()
    assert reached.wait(30)
    trainer.stop()
    thread.join(10)
    assert not thread.is_alive()
    progress = load_checkpoint(tmp_path / "last.pt")["progress"]
    assert progress["global_step"] == trainer.global_step >= 5
