"""Mixed precision on the CPU, where torch runs it too: bf16 autocast, fp16 with a scaler.

A GPU runs the same code with ``device_type="cuda"``; what these check — the forward
really runs in the reduced type, the loss is scaled, overflowing steps are skipped rather
than faulting, and the scaler resumes from a checkpoint — does not depend on the device.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from netbuilder.training.checkpoint import ModelCheckpoint, load_checkpoint
from netbuilder.training.config import TrainConfig
from netbuilder.training.trainer import Trainer

from .graphs import Recorder, small_cnn

FAST = TrainConfig(epochs=2, batch_size=128, lr=0.01, device="cpu")  # 12 steps per epoch


def conv_output_types(trainer: Trainer) -> list[torch.dtype]:
    """Collect the dtype of every training forward's convolution output."""
    seen: list[torch.dtype] = []
    conv = next(m for m in trainer.model.modules() if isinstance(m, nn.Conv2d))

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        if module.training:
            seen.append(output.dtype)

    conv.register_forward_hook(hook)
    return seen


def test_bf16_runs_the_forward_in_bfloat16_without_a_scaler_and_learns() -> None:
    recorder = Recorder()
    trainer = Trainer(small_cnn(), FAST.updated(amp="bf16", epochs=3), [recorder])
    trainer.setup()
    seen = conv_output_types(trainer)
    result = trainer.fit()
    assert result.status == "completed"
    assert trainer.scaler is None
    assert seen and set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # master weights
    assert recorder.epochs[-1].train_loss < recorder.epochs[0].train_loss
    assert (recorder.epochs[-1].val_acc or 0) > 0.6


def test_fp16_scales_the_loss_and_skips_the_steps_whose_gradients_overflow() -> None:
    recorder = Recorder()
    trainer = Trainer(small_cnn(), FAST.updated(amp="fp16"), [recorder])
    trainer.setup()
    seen = conv_output_types(trainer)
    assert trainer.scaler is not None
    # A scale far too large for float16: the first steps' gradients overflow.
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 40)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    kept: dict[str, list[torch.Tensor]] = {}
    recorder.actions[1] = lambda t: kept.setdefault(
        "after_first", [p.detach().clone() for p in t.model.parameters()])
    result = trainer.fit()
    assert result.status == "completed" and not recorder.faults
    assert set(seen) == {torch.float16}
    assert all(torch.equal(a, b) for a, b in zip(before, kept["after_first"]))  # skipped
    scale = trainer.scaler.get_scale()
    assert scale < 2.0 ** 40  # backed off on every overflow
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert not all(torch.equal(a, p) for a, p in zip(before, trainer.model.parameters()))
    assert all(math.isfinite(loss) for loss in recorder.losses)
    assert recorder.epochs[-1].train_loss < recorder.epochs[0].train_loss


def test_fp16_resumed_from_a_checkpoint_continues_the_same_run(tmp_path: Path) -> None:
    config = FAST.updated(amp="fp16", epochs=4)
    straight = Recorder()
    whole = Trainer(small_cnn(), config, [straight])
    whole.fit()
    first = Recorder()
    Trainer(small_cnn(), config.updated(epochs=2), [first, ModelCheckpoint(tmp_path)]).fit()
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["scaler"] and state["scaler"]["scale"] > 0
    second = Recorder()
    resumed = Trainer.from_checkpoint(tmp_path / "last.pt", [second], epochs=4)
    resumed.setup()
    assert resumed.scaler is not None
    assert resumed.scaler.state_dict() == state["scaler"]
    resumed.fit()
    assert first.losses + second.losses == straight.losses
    assert resumed.scaler.state_dict() == whole.scaler.state_dict()  # type: ignore[union-attr]
