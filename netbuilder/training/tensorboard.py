"""TensorBoard event files of a run, through ``torch.utils.tensorboard.SummaryWriter``.

:class:`TensorBoardLogger` is a trainer callback: every step's loss, accuracy and
learning rate, every epoch's validation loss and accuracy, per-node weight and gradient
histograms at the end of each epoch (named by the node's path in the graph), and the
graph of the network once, when training starts. ``netbuilder train --tensorboard DIR``
and the editor's TensorBoard setting add one; the exported job's ``train.py`` writes the
same scalars and histograms. It needs the ``tensorboard`` package (the ``export`` extra).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netbuilder.training.callbacks import BatchEnd, Callback, EpochEnd, FitResult
from netbuilder.training.errors import TrainingError

if TYPE_CHECKING:
    from netbuilder.training.trainer import Trainer


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package (needed by SummaryWriter) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLogger(Callback):
    """Writes a run's scalars, histograms and graph to TensorBoard event files."""

    def __init__(self, log_dir: str | os.PathLike[str], *, histograms: bool = True,
                 graph: bool = True) -> None:
        """Write into ``log_dir`` (created when needed).

        Args:
            log_dir: The run's TensorBoard folder.
            histograms: Write weight and gradient histograms each epoch.
            graph: Write the network's graph when training starts.

        Raises:
            TrainingError: when the ``tensorboard`` package is missing.
        """
        if not tensorboard_available():
            raise TrainingError("TensorBoard logging needs the tensorboard package: "
                                "pip install 'netbuilder[export]'")
        self.log_dir = Path(log_dir)
        self.histograms = histograms
        self.graph = graph
        self.writer: Any = None

    def on_train_start(self, trainer: Trainer) -> None:
        """Open the writer and write the graph."""
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(self.log_dir))
        if self.graph:
            self._write_graph(trainer)

    def _write_graph(self, trainer: Trainer) -> None:
        if trainer.data is None:
            return
        inputs, _labels = trainer.data.samples(1)
        model = trainer.model
        was_training = model.training
        model.eval()
        try:
            with warnings.catch_warnings():  # add_graph traces with torch.jit (deprecated)
                warnings.simplefilter("ignore", FutureWarning)
                self.writer.add_graph(model, inputs.to(trainer.device))
        except Exception as error:  # a graph TensorBoard cannot trace is not fatal
            self.writer.add_text("graph", f"the graph could not be traced: {error}")
        finally:
            model.train(was_training)

    def on_batch_end(self, trainer: Trainer, batch: BatchEnd) -> None:
        """Write the step's loss, accuracy and learning rate."""
        step = batch.global_step
        self.writer.add_scalar("train/loss", batch.loss, step)
        self.writer.add_scalar("train/acc", batch.acc, step)
        self.writer.add_scalar("train/lr", batch.lr, step)

    def on_epoch_end(self, trainer: Trainer, epoch: EpochEnd) -> None:
        """Write the epoch's validation results and the weight and gradient histograms."""
        for key in ("val_loss", "val_acc"):
            value = getattr(epoch, key)
            if value is not None:
                self.writer.add_scalar(key.replace("_", "/"), value, epoch.epoch)
        self.writer.add_scalar("epoch/train_loss", epoch.train_loss, epoch.epoch)
        self.writer.add_scalar("epoch/samples_per_s", epoch.samples_per_s, epoch.epoch)
        if self.histograms:
            self._write_histograms(trainer, epoch.epoch)
        self.writer.flush()

    def _write_histograms(self, trainer: Trainer, epoch: int) -> None:
        """One weight and one gradient histogram per parameter, named by node path."""
        for name, param in trainer.model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", param.detach().float().cpu(), epoch)
            if param.grad is not None:
                self.writer.add_histogram(f"grads/{name}", param.grad.detach().float().cpu(),
                                          epoch)

    def on_train_end(self, trainer: Trainer, result: FitResult) -> None:
        """Close the writer."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
