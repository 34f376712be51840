"""Small graphs and recording callbacks the training tests share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netbuilder.core import serialize
from netbuilder.core.graph import Graph
from netbuilder.training.callbacks import BatchEnd, Callback, EpochEnd, FitResult
from netbuilder.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
LENET5 = ROOT / "resources" / "examples" / "lenet5.nbproj"


def lenet5() -> Graph:
    """The bundled LeNet-5 example project's graph (1×28×28 → 10)."""
    return serialize.load(LENET5).graph


def small_cnn(shape: tuple[int, ...] = (1, 8, 8), classes: int = 10, *, frozen: bool = False,
              batchnorm: bool = False, head: str | None = None, dropout: float = 0.0) -> Graph:
    """input → conv 3×3 (8) [→ batch norm] → relu → flatten [→ dropout] → linear [→ head].

    Args:
        shape: Input shape.
        classes: Outputs of the linear layer.
        frozen: Freeze the convolution (and the batch norm).
        batchnorm: Put a batch norm after the convolution.
        head: A block after the linear layer (``log_softmax``, ``softmax``).
        dropout: Dropout probability before the linear layer (0: none).
    """
    graph = Graph()
    last = graph.add("input", "input", shape=shape)
    conv = last = graph.add("conv2d", "conv", after=last, out_channels=8, kernel_size=3,
                            padding=1)
    conv.frozen = frozen
    if batchnorm:
        last = graph.add("batchnorm2d", "bn", after=last)
        last.frozen = frozen
    last = graph.add("relu", "relu", after=last)
    last = graph.add("flatten", "flatten", after=last)
    if dropout:
        last = graph.add("dropout", "drop", after=last, p=dropout)
    last = graph.add("linear", "fc", after=last, out_features=classes)
    if head is not None:
        last = graph.add(head, "head", after=last)
    graph.add("output", "output", after=last)
    return graph


class Recorder(Callback):
    """Records every hook call; optional actions run at given global steps."""

    def __init__(self, actions: dict[int, Callable[[Trainer], Any]] | None = None) -> None:
        self.calls: list[str] = []
        self.batches: list[BatchEnd] = []
        self.epochs: list[EpochEnd] = []
        self.faults: list[str] = []
        self.pauses: list[str] = []
        self.result: FitResult | None = None
        self.actions = actions or {}
        self.paused = threading.Event()
        #: How many batches had ended at each resume (none may end while paused).
        self.batches_at_resume: list[int] = []
        self.checkpoints: list[tuple[str, str]] = []

    def on_train_start(self, trainer: Trainer) -> None:
        self.calls.append("train_start")

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.calls.append(f"epoch_start {epoch}")

    def on_batch_end(self, trainer: Trainer, batch: BatchEnd) -> None:
        self.batches.append(batch)
        action = self.actions.get(batch.global_step)
        if action is not None:
            action(trainer)

    def on_validation_end(self, trainer: Trainer, epoch: int, val_loss: float,
                          val_acc: float) -> None:
        self.calls.append(f"validation_end {epoch}")

    def on_epoch_end(self, trainer: Trainer, epoch: EpochEnd) -> None:
        self.calls.append(f"epoch_end {epoch.epoch}")
        self.epochs.append(epoch)

    def on_train_end(self, trainer: Trainer, result: FitResult) -> None:
        self.calls.append("train_end")
        self.result = result

    def on_pause(self, trainer: Trainer, reason: str) -> None:
        self.calls.append("pause")
        self.pauses.append(reason)
        self.paused.set()

    def on_resume(self, trainer: Trainer) -> None:
        self.calls.append("resume")
        self.batches_at_resume.append(len(self.batches))
        self.paused.clear()

    def on_fault(self, trainer: Trainer, message: str) -> None:
        self.calls.append("fault")
        self.faults.append(message)

    def on_checkpoint(self, trainer: Trainer, path: str, kind: str) -> None:
        self.checkpoints.append((path, kind))

    @property
    def losses(self) -> list[float]:
        """Every step's loss, in order."""
        return [b.loss for b in self.batches]
