"""Lightning-style callbacks: typed no-op hooks the trainer calls, with plain values.

Every hook runs in the thread that runs :meth:`~netbuilder.training.trainer.Trainer.fit`
(a worker thread in the editor). Payloads are small frozen dataclasses of Python numbers
and strings, safe to put on a queue for another thread. A hook must return quickly: the
next training step waits for it.

Order of calls in a run::

    on_train_start
      (on_epoch_start, on_batch_end × steps, on_validation_end, on_epoch_end) × epochs
      on_pause / on_resume, on_fault, on_checkpoint wherever they happen
    on_train_end
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from netbuilder.training.trainer import Trainer


@dataclass(frozen=True, slots=True)
class BatchEnd:
    """One training step.

    Attributes:
        epoch: Epoch number, from 1.
        step: Step within the epoch, from 1.
        steps: Steps per epoch.
        global_step: Steps since the run began, from 1.
        loss: Mean loss over the batch.
        acc: Accuracy over the batch (0..1).
        lr: Learning rate the step used (of the first parameter group).
        samples_per_s: Training throughput over the latest read-out window.
    """

    epoch: int
    step: int
    steps: int
    global_step: int
    loss: float
    acc: float
    lr: float
    samples_per_s: float


@dataclass(frozen=True, slots=True)
class EpochEnd:
    """One finished epoch.

    Attributes:
        epoch: Epoch number, from 1.
        epochs: Epochs the run is set to do.
        train_loss: Mean training loss over the epoch.
        train_acc: Training accuracy over the epoch.
        val_loss: Validation loss, ``None`` without validation data.
        val_acc: Validation accuracy, ``None`` without validation data.
        lr: Learning rate at the end of the epoch.
        samples_per_s: Training throughput over the epoch (validation excluded).
        seconds: Wall time of the epoch, validation included, pauses excluded.
    """

    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    lr: float
    samples_per_s: float
    seconds: float

    def as_json(self) -> dict[str, Any]:
        """The JSON log record: non-finite numbers become ``null``."""
        return {key: _finite(value) for key, value in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class FitResult:
    """How a run ended.

    Attributes:
        status: ``completed``, ``stopped`` (by :meth:`Trainer.stop`), ``early_stopped``
            or ``fault`` (out of memory, a non-finite loss in a headless run, an error).
        message: One sentence for the user.
        epochs_completed: Epochs finished, counting those of a resumed run.
        global_step: Steps taken, counting those of a resumed run.
        best_metric: Best value of the monitored metric (``None`` without one).
    """

    status: str
    message: str
    epochs_completed: int
    global_step: int
    best_metric: float | None = None


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Callback:
    """Base class: override the hooks you need; each receives the trainer first."""

    def on_train_start(self, trainer: Trainer) -> None:
        """The run begins (after the model, data and optimiser are ready)."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """An epoch begins (``epoch`` from 1)."""

    def on_batch_end(self, trainer: Trainer, batch: BatchEnd) -> None:
        """A training step ended (delivered in bursts when losses are read every N steps)."""

    def on_validation_end(self, trainer: Trainer, epoch: int, val_loss: float,
                          val_acc: float) -> None:
        """The validation pass of ``epoch`` ended."""

    def on_epoch_end(self, trainer: Trainer, epoch: EpochEnd) -> None:
        """An epoch ended, validation included."""

    def on_train_end(self, trainer: Trainer, result: FitResult) -> None:
        """The run ended, for whatever reason (always called once ``on_train_start`` was)."""

    def on_pause(self, trainer: Trainer, reason: str) -> None:
        """The run paused (``reason``: "paused by the user" or a fault message)."""

    def on_resume(self, trainer: Trainer) -> None:
        """The run resumed after a pause."""

    def on_fault(self, trainer: Trainer, message: str) -> None:
        """Something went wrong (non-finite loss, out of memory); ``message`` says what."""

    def on_checkpoint(self, trainer: Trainer, path: str, kind: str) -> None:
        """A checkpoint was written to ``path`` (``kind``: ``last`` or ``best``)."""


_HOOKS = ("on_train_start", "on_epoch_start", "on_batch_end", "on_validation_end",
          "on_epoch_end", "on_train_end", "on_pause", "on_resume", "on_fault",
          "on_checkpoint")


class CallbackList(Callback):
    """Several callbacks called in order; hooks nobody overrides cost nothing."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        """Hold ``callbacks`` (called in that order)."""
        self.callbacks: list[Callback] = []
        self._bound: dict[str, tuple[Any, ...]] = {}
        for callback in callbacks:
            self.append(callback)

    def append(self, callback: Callback) -> None:
        """Add ``callback`` at the end."""
        self.callbacks.append(callback)
        self._bound = {
            hook: tuple(getattr(cb, hook) for cb in self.callbacks
                        if getattr(type(cb), hook) is not getattr(Callback, hook))
            for hook in _HOOKS}

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def _fire(self, hook: str, *args: Any) -> None:
        for method in self._bound[hook]:
            method(*args)

    def on_train_start(self, trainer: Trainer) -> None:
        """Call every callback's ``on_train_start``."""
        self._fire("on_train_start", trainer)

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Call every callback's ``on_epoch_start``."""
        self._fire("on_epoch_start", trainer, epoch)

    def on_batch_end(self, trainer: Trainer, batch: BatchEnd) -> None:
        """Call every callback's ``on_batch_end``."""
        for method in self._bound["on_batch_end"]:
            method(trainer, batch)

    def on_validation_end(self, trainer: Trainer, epoch: int, val_loss: float,
                          val_acc: float) -> None:
        """Call every callback's ``on_validation_end``."""
        self._fire("on_validation_end", trainer, epoch, val_loss, val_acc)

    def on_epoch_end(self, trainer: Trainer, epoch: EpochEnd) -> None:
        """Call every callback's ``on_epoch_end``."""
        self._fire("on_epoch_end", trainer, epoch)

    def on_train_end(self, trainer: Trainer, result: FitResult) -> None:
        """Call every callback's ``on_train_end``."""
        self._fire("on_train_end", trainer, result)

    def on_pause(self, trainer: Trainer, reason: str) -> None:
        """Call every callback's ``on_pause``."""
        self._fire("on_pause", trainer, reason)

    def on_resume(self, trainer: Trainer) -> None:
        """Call every callback's ``on_resume``."""
        self._fire("on_resume", trainer)

    def on_fault(self, trainer: Trainer, message: str) -> None:
        """Call every callback's ``on_fault``."""
        self._fire("on_fault", trainer, message)

    def on_checkpoint(self, trainer: Trainer, path: str, kind: str) -> None:
        """Call every callback's ``on_checkpoint``."""
        self._fire("on_checkpoint", trainer, path, kind)


class History(Callback):
    """The curves of a run: every step's loss, accuracy and rate, and every epoch's record.

    The trainer keeps one (``trainer.history``) and stores it in checkpoints, so a resumed
    run continues the same curves.

    Attributes:
        steps: Global step numbers.
        loss: Training loss per step.
        acc: Training accuracy per step.
        lr: Learning rate per step.
        epochs: One :meth:`EpochEnd.as_json` record per epoch.
    """

    def __init__(self) -> None:
        """Start empty."""
        self.steps: list[int] = []
        self.loss: list[float] = []
        self.acc: list[float] = []
        self.lr: list[float] = []
        self.epochs: list[dict[str, Any]] = []

    def on_batch_end(self, trainer: Trainer, batch: BatchEnd) -> None:
        """Record the step."""
        self.steps.append(batch.global_step)
        self.loss.append(batch.loss)
        self.acc.append(batch.acc)
        self.lr.append(batch.lr)

    def on_epoch_end(self, trainer: Trainer, epoch: EpochEnd) -> None:
        """Record the epoch."""
        self.epochs.append(epoch.as_json())

    def epoch_values(self, key: str) -> list[Any]:
        """One field of every epoch record (``"val_acc"``...), in order."""
        return [record.get(key) for record in self.epochs]

    def state_dict(self) -> dict[str, Any]:
        """The curves as plain lists (what checkpoints store)."""
        return {"steps": list(self.steps), "loss": list(self.loss), "acc": list(self.acc),
                "lr": list(self.lr), "epochs": [dict(r) for r in self.epochs]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore curves saved by :meth:`state_dict`."""
        self.steps = [int(v) for v in state.get("steps", [])]
        self.loss = [float(v) for v in state.get("loss", [])]
        self.acc = [float(v) for v in state.get("acc", [])]
        self.lr = [float(v) for v in state.get("lr", [])]
        self.epochs = [dict(r) for r in state.get("epochs", [])]

    def truncate(self, global_step: int, epochs: int) -> None:
        """Forget what came after ``global_step`` steps and ``epochs`` epochs."""
        keep = sum(1 for s in self.steps if s <= global_step)
        del self.steps[keep:], self.loss[keep:], self.acc[keep:], self.lr[keep:]
        del self.epochs[epochs:]


#: The epoch record fields :class:`JsonLogger` prints, in order.
JSON_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
               "samples_per_s", "seconds")


class JsonLogger(Callback):
    """Prints one JSON object per epoch (see :data:`JSON_FIELDS`), one per line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        """Write to ``stream`` (default: standard output at the time of each write)."""
        self.stream = stream

    def on_epoch_end(self, trainer: Trainer, epoch: EpochEnd) -> None:
        """Print the epoch's record."""
        record = epoch.as_json()
        stream = self.stream or sys.stdout
        stream.write(json.dumps({key: record[key] for key in JSON_FIELDS}) + "\n")
        stream.flush()


class ProgressBar(Callback):
    """A one-line progress bar for the terminal (plain text, redrawn at most 10 × a second).

    On a terminal the line is redrawn in place; elsewhere (a log file) only epoch lines
    are written.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 24,
                 interval: float = 0.1) -> None:
        """Draw on ``stream`` (default: standard error), ``width`` characters of bar."""
        self.stream = stream
        self.width = width
        self.interval = interval
        self._last = 0.0
        self._start = 0.0
        self._drawn = False

    @property
    def _out(self) -> TextIO:
        return self.stream or sys.stderr

    def _interactive(self) -> bool:
        isatty = getattr(self._out, "isatty", None)
        return bool(isatty and isatty())

    def on_train_start(self, trainer: Trainer) -> None:
        """Remember when the run started."""
        self._start = time.perf_counter()

    def on_batch_end(self, trainer: Trainer, batch: BatchEnd) -> None:
        """Redraw the bar (throttled)."""
        now = time.perf_counter()
        if now - self._last < self.interval and batch.step != batch.steps:
            return
        self._last = now
        if self._interactive():
            self._out.write("\r" + self.line(trainer, batch) + "\x1b[K")
            self._out.flush()
            self._drawn = True

    def line(self, trainer: Trainer, batch: BatchEnd) -> str:
        """The text of the bar for ``batch``."""
        epochs = trainer.config.epochs
        done = int(self.width * batch.step / max(batch.steps, 1))
        bar = "#" * done + "." * (self.width - done)
        left = (epochs - batch.epoch) * batch.steps + batch.steps - batch.step
        rate = batch.samples_per_s / max(trainer.config.batch_size, 1)
        eta = _duration(left / rate) if rate > 0 else "?"
        return (f"epoch {batch.epoch}/{epochs} [{bar}] {batch.step}/{batch.steps} "
                f"loss {batch.loss:.4f} acc {batch.acc:.3f} "
                f"{batch.samples_per_s:,.0f} samples/s ETA {eta}")

    def on_epoch_end(self, trainer: Trainer, epoch: EpochEnd) -> None:
        """Write the epoch's summary on its own line."""
        val = ""
        if epoch.val_loss is not None and epoch.val_acc is not None:
            val = f" val_loss {epoch.val_loss:.4f} val_acc {epoch.val_acc:.3f}"
        self._write(f"epoch {epoch.epoch}/{epoch.epochs} loss {epoch.train_loss:.4f} "
                    f"acc {epoch.train_acc:.3f}{val} lr {epoch.lr:.3g} "
                    f"{epoch.samples_per_s:,.0f} samples/s {epoch.seconds:.1f}s")

    def on_fault(self, trainer: Trainer, message: str) -> None:
        """Write the fault."""
        self._write(f"fault: {message}")

    def on_train_end(self, trainer: Trainer, result: FitResult) -> None:
        """Write how the run ended."""
        took = _duration(time.perf_counter() - self._start)
        self._write(f"{result.status}: {result.message} ({took})")

    def _write(self, text: str) -> None:
        prefix = "\r\x1b[K" if self._drawn else ""
        self._drawn = False
        self._out.write(prefix + text + "\n")
        self._out.flush()


def _duration(seconds: float) -> str:
    seconds = max(round(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else \
        f"{rest // 60}:{rest % 60:02d}"
