"""The trainer as the editor drives it: controls from another thread, faults, freezing."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from netbuilder.core import commands
from netbuilder.training.config import TrainConfig
from netbuilder.training.errors import DataError, TrainingError
from netbuilder.training.trainer import Trainer

from .graphs import Recorder, small_cnn

FAST = TrainConfig(epochs=2, batch_size=128, lr=0.01)  # digits at 8×8: 12 steps per epoch


def run_in_thread(trainer: Trainer) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``trainer.fit()`` in a worker thread; the dict receives the result or error."""
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["result"] = trainer.fit()
        except BaseException as exc:  # surfaced by the test
            out["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, out


def handshake(trainer: Trainer, step: int) -> tuple[threading.Event, threading.Event,
                                                     Callable[[Trainer], None]]:
    """An action that, at ``step``, tells the test and waits for its go-ahead."""
    reached, proceed = threading.Event(), threading.Event()

    def action(_: Trainer) -> None:
        reached.set()
        assert proceed.wait(10)

    return reached, proceed, action


def test_a_run_calls_the_hooks_in_order_and_learns() -> None:
    recorder = Recorder()
    result = Trainer(small_cnn(), FAST.updated(epochs=3), [recorder]).fit()
    assert result.status == "completed" and result.epochs_completed == 3
    assert recorder.calls[:2] == ["train_start", "epoch_start 1"]
    assert recorder.calls[2:5] == ["validation_end 1", "epoch_end 1", "epoch_start 2"]
    assert recorder.calls[-1] == "train_end"
    assert [b.step for b in recorder.batches[:12]] == list(range(1, 13))
    assert [b.global_step for b in recorder.batches] == list(range(1, 37))
    assert (recorder.epochs[-1].val_acc or 0) > 0.8
    assert recorder.epochs[-1].train_loss < recorder.epochs[0].train_loss


def test_pause_resume_and_stop_from_another_thread_act_within_one_batch() -> None:
    trainer = Trainer(small_cnn(), FAST.updated(epochs=50))
    reached_pause, go_pause, at_pause = handshake(trainer, 5)
    reached_stop, go_stop, at_stop = handshake(trainer, 17)
    recorder = Recorder({5: at_pause, 17: at_stop})
    trainer.callbacks.append(recorder)
    thread, out = run_in_thread(trainer)
    assert reached_pause.wait(30)
    trainer.pause()
    go_pause.set()
    assert recorder.paused.wait(10)
    assert trainer.state == "paused" and trainer.global_step == 5
    trainer.resume()
    assert reached_stop.wait(30)
    assert recorder.batches_at_resume == [5]  # no batch ran while it was paused
    trainer.stop()
    go_stop.set()
    thread.join(10)
    assert not thread.is_alive() and "error" not in out
    assert out["result"].status == "stopped" and trainer.global_step == 17
    assert recorder.calls.count("pause") == recorder.calls.count("resume") == 1
    assert recorder.calls[-1] == "train_end" and trainer.state == "finished"


def test_stop_while_paused_ends_the_run() -> None:
    trainer = Trainer(small_cnn(), FAST.updated(epochs=50))
    reached, proceed, action = handshake(trainer, 3)
    recorder = Recorder({3: action})
    trainer.callbacks.append(recorder)
    thread, out = run_in_thread(trainer)
    assert reached.wait(30)
    trainer.pause()
    proceed.set()
    assert recorder.paused.wait(10)
    trainer.stop()
    thread.join(10)
    assert not thread.is_alive() and out["result"].status == "stopped"
    assert trainer.global_step == 3


def test_learning_rate_and_momentum_changes_apply_at_the_next_batch() -> None:
    config = FAST.updated(optimizer="sgd", schedule="cosine")

    def change(trainer: Trainer) -> None:
        trainer.set_lr(0.0123)
        trainer.set_momentum(0.5)

    recorder = Recorder({4: change})
    trainer = Trainer(small_cnn(), config, [recorder])
    trainer.fit()
    rates = [b.lr for b in recorder.batches]
    assert rates[3] != pytest.approx(0.0123) and rates[4] == pytest.approx(0.0123)
    assert rates[5] < rates[4]  # the cosine goes on from the new rate
    assert trainer.optimizer.param_groups[0]["momentum"] == 0.5
    with pytest.raises(ValueError):
        trainer.set_lr(-1.0)


class NanAt:
    """A loss that returns NaN at given global steps (counting training calls only)."""

    def __init__(self, loss: Callable[[Tensor, Tensor], Tensor], steps: set[int]) -> None:
        self.loss, self.steps, self.calls = loss, steps, 0

    def __call__(self, output: Tensor, labels: Tensor) -> Tensor:
        value = self.loss(output, labels)
        if torch.is_grad_enabled():
            self.calls += 1
            if self.calls in self.steps:
                return value * math.nan
        return value


def test_a_nan_loss_pauses_with_the_step_and_keeps_the_weights() -> None:
    snapshots: dict[str, dict[str, Tensor]] = {}

    def snapshot(trainer: Trainer) -> None:
        snapshots["before"] = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    recorder = Recorder({6: snapshot})
    trainer = Trainer(small_cnn(), FAST.updated(epochs=5), [recorder])
    trainer.setup()
    trainer.loss_fn = NanAt(trainer.loss_fn, {7})
    thread, out = run_in_thread(trainer)
    assert recorder.paused.wait(30)
    assert len(recorder.faults) == 1 and "epoch 1, step 7" in recorder.faults[0]
    assert "nan" in recorder.faults[0] and recorder.pauses == recorder.faults
    assert trainer.state == "paused"
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, snapshots["before"][key]), key
    trainer.set_lr(0.001)
    trainer.resume()
    thread.join(30)
    assert out["result"].status == "completed" and out["result"].epochs_completed == 5
    assert 7 not in [b.global_step for b in recorder.batches]
    assert recorder.batches[6].lr == pytest.approx(0.001)


@pytest.mark.parametrize("log_every", [1, 5])
def test_a_headless_run_ends_on_a_nan_loss(log_every: int) -> None:
    recorder = Recorder()
    trainer = Trainer(small_cnn(), FAST.updated(log_every=log_every), [recorder],
                      pause_on_fault=False)
    trainer.setup()
    trainer.loss_fn = NanAt(trainer.loss_fn, {8})
    result = trainer.fit()
    assert result.status == "fault" and "epoch 1, step 8 (global step 8)" in result.message
    assert [b.global_step for b in recorder.batches] == list(range(1, 8))
    if log_every > 1:
        assert "updated 2 more step(s)" in result.message
    assert recorder.calls[-2:] == ["fault", "train_end"]


def test_out_of_memory_stops_cleanly_and_suggests_a_smaller_batch() -> None:
    recorder = Recorder()
    trainer = Trainer(small_cnn(), FAST, [recorder])
    trainer.setup()
    step = trainer.optimizer.step

    def failing_step(*args: Any, **kwargs: Any) -> Any:
        if trainer.global_step == 3:  # three steps done: the fourth runs out of memory
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return step(*args, **kwargs)

    trainer.optimizer.step = failing_step  # type: ignore[method-assign]
    result = trainer.fit()
    assert result.status == "fault"
    assert "out of memory" in result.message and "batch size 128" in result.message
    assert "smaller batch size (e.g. 64)" in result.message
    assert "epoch 1, step 4" in result.message
    assert recorder.faults == [result.message] and recorder.result == result


def test_other_errors_are_reported_then_raised() -> None:
    recorder = Recorder()
    trainer = Trainer(small_cnn(), FAST, [recorder])
    trainer.setup()

    def broken(output: Tensor, labels: Tensor) -> Tensor:
        raise ValueError("broken loss")

    trainer.loss_fn = broken
    with pytest.raises(ValueError, match="broken loss"):
        trainer.fit()
    assert "ValueError: broken loss" in recorder.faults[0]
    assert recorder.result is not None and recorder.result.status == "fault"


# -- failing before training ---------------------------------------------------------------
def test_a_graph_that_does_not_compile_fails_before_training() -> None:
    graph = small_cnn()  # its 3×3 convolution becomes 11×11, too big for the 8×8 input
    commands.SetParams(graph, graph.by_name("conv").id, {"kernel_size": 11}).redo()
    recorder = Recorder()
    with pytest.raises(TrainingError, match="does not compile") as caught:
        Trainer(graph, FAST, [recorder]).fit()
    assert "conv" in str(caught.value)
    assert recorder.calls == []


def test_a_data_set_that_cannot_be_read_fails_before_training(tmp_path: Any) -> None:
    recorder = Recorder()
    config = FAST.updated(dataset="mnist", data_dir=str(tmp_path))
    with pytest.raises(DataError, match="MNIST/raw"):
        Trainer(small_cnn((1, 28, 28)), config, [recorder]).fit()
    assert recorder.calls == []


def test_too_few_outputs_for_the_classes_fail_before_training() -> None:
    with pytest.raises(TrainingError, match="outputs 4 scores but digits has 10 classes"):
        Trainer(small_cnn(classes=4), FAST).setup()


def test_a_network_without_a_class_vector_fails_before_training() -> None:
    module = nn.Sequential(nn.Conv2d(1, 2, 3))
    with pytest.raises(TrainingError, match="one score per class"):
        Trainer(module, FAST, input_shape=(1, 8, 8)).setup()


def test_everything_frozen_is_nothing_to_train() -> None:
    module = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).requires_grad_(False)
    with pytest.raises(TrainingError, match="nothing to train"):
        Trainer(module, FAST, input_shape=(1, 8, 8)).setup()


# -- what is trained -------------------------------------------------------------------------
def test_frozen_nodes_keep_their_weights_and_batch_norm_statistics() -> None:
    graph = small_cnn(frozen=True, batchnorm=True)
    trainer = Trainer(graph, FAST)
    trainer.setup()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    for key in ("conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
                "bn.running_var"):
        assert torch.equal(before[key], after[key]), key
    assert not torch.equal(before["fc.weight"], after["fc.weight"])
    trained = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    fc = trainer.model.get_submodule("fc")
    assert trained == {id(fc.weight), id(fc.bias)}


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    def losses(seed: int) -> list[float]:
        recorder = Recorder()
        Trainer(small_cnn(dropout=0.3), FAST.updated(seed=seed), [recorder]).fit()
        return recorder.losses

    first = losses(3)
    assert first == losses(3)
    assert first != losses(4)


def test_log_softmax_networks_train_with_nll_and_others_with_cross_entropy() -> None:
    trainer = Trainer(small_cnn(head="log_softmax"), FAST)
    trainer.setup()
    assert trainer.loss_kind == "nll"
    assert trainer.fit().status == "completed"
    softmax = Trainer(small_cnn(head="softmax"), FAST)
    softmax.setup()
    assert softmax.loss_kind == "nll_of_probs"
    plain = Trainer(small_cnn(), FAST.updated(label_smoothing=0.1))
    plain.setup()
    assert plain.loss_kind == "cross_entropy"


def test_a_plain_module_trains_with_augmentation_and_mse() -> None:
    module = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    config = FAST.updated(dataset="shapes", shapes_samples=200, loss="mse",
                          augment={"horizontal_flip": True, "random_crop": True,
                                   "crop_padding": 1})
    trainer = Trainer(module, config, input_shape=(3, 8, 8))
    result = trainer.fit()
    assert result.status == "completed" and trainer.loss_kind == "mse"
    assert trainer.augmenter is not None


def test_early_stopping_ends_the_run_when_the_metric_stalls() -> None:
    config = FAST.updated(epochs=30, lr=1e-6, early_stopping="val_acc",
                          early_stopping_patience=2)
    result = Trainer(small_cnn(), config).fit()
    assert result.status == "early_stopped" and result.epochs_completed < 30
    assert "val_acc has not improved for 2 epochs" in result.message
