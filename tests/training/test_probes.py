"""Looking into the network while it trains: tasks run in the training thread, probes."""

from __future__ import annotations

import threading

import torch

from netbuilder.training import probes
from netbuilder.training.config import TrainConfig
from netbuilder.training.trainer import Trainer

from .graphs import Recorder, small_cnn

FAST = TrainConfig(epochs=2, batch_size=128, lr=0.01)


def test_capture_returns_node_outputs_and_leaves_the_model_as_it_was() -> None:
    graph = small_cnn(batchnorm=True, dropout=0.5)
    trainer = Trainer(graph, FAST)
    trainer.setup()
    model = trainer.model
    model.train()
    x, _ = trainer.data.samples(3)  # type: ignore[union-attr]
    conv, fc = graph.by_name("conv").id, graph.by_name("fc").id
    out = probes.capture(model, x, [conv, fc])
    assert out[conv].shape == (3, 8, 8, 8) and out[fc].shape == (3, 10)
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks for m in model.modules())
    again = probes.capture(model, x, [fc])[fc]
    assert torch.equal(out[fc], again)  # eval mode: dropout off, batch norm statistics fixed
    stats = probes.activation_stats(model, x)
    assert set(stats) == set(probes.node_modules(model)) and stats[conv][1] > 0
    assert probes.weights(model, conv).shape == (8, 1, 3, 3)  # type: ignore[union-attr]
    assert probes.weights(model, graph.by_name("relu").id) is None


def test_tasks_run_in_the_training_thread_between_batches_and_while_paused() -> None:
    graph = small_cnn(frozen=True)
    trainer = Trainer(graph, FAST.updated(epochs=50))
    reached, seen = threading.Event(), {}
    recorder = Recorder({3: lambda _: reached.set()})
    trainer.callbacks.append(recorder)
    worker = threading.Thread(target=trainer.fit, daemon=True)
    worker.start()
    assert reached.wait(30)

    def look() -> dict[str, float]:
        seen["thread"] = threading.current_thread()
        return probes.gradient_norms(trainer.model)

    norms = trainer.submit(look).result(10)
    assert seen["thread"] is worker
    assert set(norms) == {graph.by_name("fc").id} and norms[graph.by_name("fc").id] > 0
    trainer.pause()
    assert recorder.paused.wait(10)
    step = trainer.global_step
    assert trainer.submit(lambda: trainer.global_step).result(10) == step
    failing = trainer.submit(lambda: 1 / 0)
    assert isinstance(failing.exception(10), ZeroDivisionError)
    trainer.stop()
    worker.join(10)
    assert trainer.submit(threading.current_thread).result(1) is threading.current_thread()


def test_evaluation_gives_the_confusion_matrix_and_the_worst_errors() -> None:
    trainer = Trainer(small_cnn(head="log_softmax"), FAST)
    trainer.fit()
    data = trainer.data
    assert data is not None and data.val is not None
    result = probes.evaluate(trainer.model, data.val.epoch(0), trainer.loss_kind)
    assert len(result.labels) == data.val.num_samples == 359
    assert result.accuracy == trainer.history.epochs[-1]["val_acc"]
    matrix = probes.confusion_matrix(result, data.num_classes)
    assert matrix.shape == (10, 10) and int(matrix.sum()) == 359
    assert int(matrix.trace()) == int((result.predictions == result.labels).sum())
    worst = probes.worst_errors(result, 5)
    assert all(result.predictions[i] != result.labels[i] for i in worst)
    losses = [float(result.losses[i]) for i in worst]
    assert losses == sorted(losses, reverse=True)
    assert bool(((result.confidence > 0) & (result.confidence <= 1)).all())


def test_gradient_flags() -> None:
    flags = probes.flag_gradients({"a": 1e-9, "b": 0.5, "c": 1e6, "d": float("nan")})
    assert flags == {"a": "vanishing", "c": "exploding", "d": "exploding"}
