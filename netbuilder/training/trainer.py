"""The trainer: compiles a graph, trains it, reports through callbacks. No Qt.

:meth:`Trainer.fit` runs in whichever thread calls it (a worker thread in the editor).
:meth:`Trainer.stop`, :meth:`Trainer.pause`, :meth:`Trainer.resume`,
:meth:`Trainer.set_lr` and :meth:`Trainer.set_momentum` may be called from any other
thread; they set flags that the training loop reads before every batch, so they take
effect within one batch.

The hot loop is what one would write by hand: the batch (already on the device for
in-memory data), forward under autocast, backward, step. Losses are read from the device
every ``log_every`` steps (every step on the CPU, where reading is free; in bursts on a
GPU, where each read is a synchronisation), and every step still reaches the callbacks.

Faults leave the work intact: a non-finite loss pauses the run (``on_fault`` then
``on_pause``) with a message naming the epoch and step — on the CPU before the bad step
touches the weights — and running out of memory stops the run cleanly with a suggestion.
A graph that does not compile, or a data set that cannot be read, raises
:class:`~netbuilder.training.errors.TrainingError` from :meth:`Trainer.setup` before
anything is trained.
"""

from __future__ import annotations

import math
import secrets
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from netbuilder.core.errors import NetBuilderError
from netbuilder.core.graph import Graph
from netbuilder.training import runtime
from netbuilder.training.callbacks import (
    BatchEnd,
    Callback,
    CallbackList,
    EpochEnd,
    FitResult,
    History,
)
from netbuilder.training.checkpoint import capture_state, load_checkpoint, restore_state
from netbuilder.training.config import TrainConfig
from netbuilder.training.controls import Controls
from netbuilder.training.data import PreparedData, prepare_data
from netbuilder.training.errors import TrainingError
from netbuilder.training.optim import (
    LRSchedule,
    build_loss,
    build_optimizer,
    loss_kind,
    set_momentum,
)

#: Weight of auxiliary outputs (a network with several outputs) in the training loss,
#: as GoogLeNet weighted its auxiliary classifiers.
AUX_WEIGHT = 0.3
#: Steps between reads of the loss on a GPU when ``log_every`` is 0.
GPU_LOG_EVERY = 20

#: A step whose loss is still on the device: loss, correct count, batch size, learning
#: rate, step in the epoch, global step.
_Pending = tuple[Tensor, Tensor, int, float, int, int]
#: A step read from the device (the same with the loss and count as numbers).
_Item = tuple[float, float, int, float, int, int]


class Trainer:
    """Trains a graph (or any ``nn.Module``) on a data set with a :class:`TrainConfig`.

    Attributes:
        config: The run's settings (with the seed filled in).
        callbacks: The callbacks, :attr:`history` first.
        history: The curves of the run (restored on resume).
        model: The network being trained (after :meth:`setup`).
        data: The prepared data set (after :meth:`setup`).
        epoch: Epochs completed.
        step: Steps done in the current epoch.
        global_step: Steps done in the run.
        monitor: The metric best checkpoints and early stopping watch.
        best_metric: Best value of :attr:`monitor` so far.
        improved: Whether the latest epoch improved :attr:`monitor`.
        bad_epochs: Epochs since :attr:`monitor` last improved.
        epoch_sums: The current epoch's running sums: loss × samples, correct, samples,
            training seconds.
        state: ``idle``, ``running``, ``paused`` or ``finished`` (set by the training
            thread; other threads may read it).
        started: Whether :meth:`fit` has begun.
        controls: Requests from other threads (see :meth:`stop`, :meth:`pause`...).
    """

    def __init__(self, model: Graph | nn.Module,
                 config: TrainConfig | Mapping[str, Any] | None = None,
                 callbacks: Iterable[Callback] = (), *,
                 input_shape: tuple[int, ...] | None = None, data: PreparedData | None = None,
                 pause_on_fault: bool = True) -> None:
        """Prepare a run; nothing heavy happens until :meth:`setup` or :meth:`fit`.

        Args:
            model: A graph or a ready ``nn.Module``. The trainer takes a copy of the graph
                (same node ids), so the editor may go on changing the original while the
                copy trains.
            config: Settings, or their JSON form (the project's ``training`` section).
            callbacks: Callbacks, called in order after :attr:`history`.
            input_shape: Input shape of an ``nn.Module`` that is not a compiled graph.
            data: An already prepared data set (else read from ``config``).
            pause_on_fault: Pause on a non-finite loss (else stop: for headless runs).

        Raises:
            ConfigError: when ``config`` is a dict with an invalid field.
        """
        if config is None:
            config = TrainConfig()
        elif not isinstance(config, TrainConfig):
            config = TrainConfig.from_dict(config)
        if config.seed is None:
            config = config.updated(seed=secrets.randbelow(2**31))
        self.config = config
        self.graph = model.copy() if isinstance(model, Graph) else None
        self._module = None if isinstance(model, Graph) else model
        self._input_shape = input_shape
        self.data = data
        self.pause_on_fault = pause_on_fault
        self.history = History()
        self.callbacks = CallbackList([self.history, *callbacks])
        self.epoch = self.step = self.global_step = 0
        self.best_metric: float | None = None
        self.improved = False
        self.state = "idle"
        self.started = False
        self.epoch_sums: list[float] = [0.0, 0.0, 0, 0.0]
        self.bad_epochs = 0
        self._resume: dict[str, Any] | None = None
        self._ready = False
        self.controls = Controls()

    # -- control from other threads ------------------------------------------------------
    def stop(self) -> None:
        """Ask the run to stop before the next batch (also ends a pause)."""
        self.controls.stop()

    def pause(self) -> None:
        """Ask the run to pause before the next batch."""
        self.controls.pause()

    def resume(self) -> None:
        """Let a paused run go on."""
        self.controls.resume()

    def set_lr(self, lr: float) -> None:
        """Use learning rate ``lr`` from the next batch on (the schedule goes on from it).

        Raises:
            ValueError: when ``lr`` is not a positive number.
        """
        self.controls.set_lr(lr)

    def set_momentum(self, momentum: float) -> None:
        """Use ``momentum`` (SGD/RMSprop momentum, Adam's β₁) from the next batch on.

        Raises:
            ValueError: when ``momentum`` is not in [0, 1).
        """
        self.controls.set_momentum(momentum)

    def submit(self, task: Callable[[], Any]) -> Future[Any]:
        """Run ``task()`` in the training thread between two batches, or while paused.

        This is how another thread looks into the network while it trains (feature maps,
        statistics: see :mod:`netbuilder.training.probes`) without racing the training
        loop. When no run is going on, ``task`` runs at once in the calling thread.

        Returns:
            A future holding the task's result (or its exception).
        """
        return self.controls.submit(task)

    # -- set-up ---------------------------------------------------------------------------------
    def setup(self) -> None:
        """Compile the network, read the data, build optimiser and schedule (once).

        Raises:
            TrainingError: when the graph does not compile, the data cannot be read or
                does not fit the network, or nothing is trainable.
        """
        if self._ready:
            return
        config = self.config
        torch.manual_seed(config.seed or 0)
        self.device = runtime.pick_device(config.device)
        model = self._build_model()
        if self.data is None:
            shape = runtime.network_input_shape(self.graph, model, self._input_shape)
            self.data = prepare_data(config, shape, device=self.device)
        self.model = model.to(self.device)
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        runtime.check_network(self.model, self.data, self.device, config.channels_last)
        self._build_optimisation()
        self._ready = True
        if self._resume is not None:
            self._restore(self._resume)
            self._resume = None

    def _build_model(self) -> nn.Module:
        if self._module is not None:
            return self._module
        from netbuilder.compiler import CompileError, compile_graph

        assert self.graph is not None
        try:
            runtime.require_output(self.graph)
            _require_trainable(self.graph)
            return compile_graph(self.graph, init=self.config.init, seed=self.config.seed)
        except CompileError as exc:
            problems = "; ".join(i.message for i in exc.issues) if exc.issues else exc.message
            raise TrainingError(f"the graph does not compile: {problems}") from exc
        except NetBuilderError as exc:
            raise TrainingError(f"the graph does not compile: {exc}") from exc

    def _build_optimisation(self) -> None:
        config, data = self.config, self.data
        assert data is not None
        from netbuilder.compiler import trainable_parameters

        self.optimizer = build_optimizer(config, trainable_parameters(self.model))
        self.schedule = LRSchedule(self.optimizer, config, len(data.train))
        self.scaler = runtime.grad_scaler(self.device, config.amp)
        self._autocast = runtime.autocast(self.device, config.amp)
        last = runtime.graph_last_block(self.graph) if self.graph is not None else \
            runtime.module_last_block(self.model)
        self.loss_kind = loss_kind(config, last)
        self.loss_fn = build_loss(self.loss_kind, config.label_smoothing)
        self._forward = torch.compile(self.model) if config.compile else self.model
        self._frozen = runtime.frozen_norms(self.model)
        self.augmenter = data.augmenter(config.augment, seed=config.seed or 0,
                                        device=self.device) if config.augment.enabled else None
        self.monitor = config.early_stopping if config.early_stopping != "none" else \
            ("val_acc" if data.val is not None else "train_loss")
        self.log_every = config.log_every or (GPU_LOG_EVERY if self.device.type == "cuda"
                                              else 1)

    # -- the run --------------------------------------------------------------------------------
    def fit(self, resume_from: str | Path | Mapping[str, Any] | None = None) -> FitResult:
        """Train until the epochs are done, early stopping, :meth:`stop` or a fault.

        Args:
            resume_from: A checkpoint (path or loaded dict) to go on from.

        Raises:
            TrainingError: before training starts (see :meth:`setup`).
            CheckpointError: when ``resume_from`` cannot be loaded.
        """
        if resume_from is not None:
            self._resume = dict(resume_from) if isinstance(resume_from, Mapping) else \
                load_checkpoint(resume_from)
            if self._ready:
                self._restore(self._resume)
                self._resume = None
        self.setup()
        self.started = True
        self.state = "running"
        self.controls.accept_tasks(True)
        self.callbacks.on_train_start(self)
        result = FitResult("fault", "the run did not finish", self.epoch, self.global_step)
        try:
            result = self._run()
        except Exception as exc:
            result = self._failure(exc)
            if not runtime.is_out_of_memory(exc):
                raise
        finally:
            self.state = "finished"
            self.controls.accept_tasks(False)
            self.callbacks.on_train_end(self, result)
        return result

    def _run(self) -> FitResult:
        self.schedule.apply(self.global_step)
        while self.epoch < self.config.epochs:
            self.callbacks.on_epoch_start(self, self.epoch + 1)
            status = self._train_epoch()
            if status is not None:
                return self._result(*status)
            started = time.perf_counter()
            metrics = self._validate()
            if metrics is None:
                return self._result("stopped", "stopped during validation")
            stop = self._end_epoch(*metrics, time.perf_counter() - started)
            if stop:
                return self._result("early_stopped", stop)
        return self._result("completed", f"trained {self.epoch} epochs")

    def _result(self, status: str, message: str) -> FitResult:
        return FitResult(status, message, self.epoch, self.global_step, self.best_metric)

    def _failure(self, error: Exception) -> FitResult:
        """Report an exception escaping the loop as a fault (freeing memory after OOM)."""
        where = f"epoch {self.epoch + 1}, step {self.step + 1}"
        if runtime.is_out_of_memory(error):
            traceback.clear_frames(error.__traceback__)
            self.optimizer.zero_grad(set_to_none=True)
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            size = self.config.batch_size
            message = (f"out of memory on {self.device} at {where} with batch size {size}: "
                       f"try a smaller batch size (e.g. {max(size // 2, 1)})")
        else:
            message = f"training failed at {where}: {type(error).__name__}: {error}"
        self.callbacks.on_fault(self, message)
        return self._result("fault", message)

    # -- one epoch -------------------------------------------------------------------------------
    def _train_epoch(self) -> tuple[str, str] | None:
        """Train the rest of the current epoch; a ``(status, message)`` when the run ends."""
        assert self.data is not None
        self.model.train()
        for module in self._frozen:
            module.eval()
        batches = self.data.train
        steps = len(batches)
        on_device = isinstance(getattr(batches, "x", None), Tensor)
        device, augment, schedule = self.device, self.augmenter, self.schedule
        flat = self.data.fitter.flatten
        every = self.log_every
        relayout = self.config.channels_last and not flat and (augment is not None
                                                                or not on_device)
        pending: list[_Pending] = []
        controls = self.controls
        self._clock = time.perf_counter()
        for x, y in batches.epoch(self.epoch, self.step):
            if controls.pending and self._controls():
                return "stopped", f"stopped at epoch {self.epoch + 1}, step {self.step + 1}"
            if not on_device:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if augment is not None:
                x = self._augment(x, flat)
            if relayout:
                x = x.contiguous(memory_format=torch.channels_last)
            if schedule.dynamic:
                schedule.apply(self.global_step)
            lr = self.optimizer.param_groups[0]["lr"]
            with self._autocast:
                out = self._forward(x)
                loss, scores = self._loss(out, y)
            if every == 1:
                value = loss.item()
                if not math.isfinite(value):
                    self._advance()
                    if fault := self._non_finite(value, self.step, self.global_step, 0):
                        return fault
                    continue
                self._update(loss)
                self._advance()
                correct = (scores.argmax(1) == y).sum().item()
                self._report([(value, correct, len(y), lr, self.step, self.global_step)],
                             steps)
            else:
                self._update(loss)
                self._advance()
                pending.append((loss.detach(), (scores.argmax(1) == y).sum(), len(y), lr,
                                self.step, self.global_step))
                if len(pending) >= every and (fault := self._flush(pending, steps)):
                    return fault
        return self._flush(pending, steps) if pending else None

    def _to_device(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """A loaded batch on the training device (from pinned memory on CUDA)."""
        x = x.to(self.device, non_blocking=True)
        if self.config.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)

    def _advance(self) -> None:
        self.step += 1
        self.global_step += 1

    def _augment(self, x: Tensor, flat: bool) -> Tensor:
        assert self.augmenter is not None and self.data is not None
        if not flat:
            return self.augmenter(x)
        fitter = self.data.fitter
        return self.augmenter(x.view(len(x), fitter.channels, *fitter.size)).flatten(1)

    def _loss(self, out: Tensor | tuple[Tensor, ...], y: Tensor) -> tuple[Tensor, Tensor]:
        if not isinstance(out, tuple):
            return self.loss_fn(out, y), out
        loss = self.loss_fn(out[0], y)
        for aux in out[1:]:
            loss = loss + AUX_WEIGHT * self.loss_fn(aux, y)
        return loss, out[0]

    def _update(self, loss: Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()

    def _flush(self, pending: list[_Pending], steps: int) -> tuple[str, str] | None:
        """Read a burst of losses from the device (one synchronisation) and report them."""
        losses = torch.stack([p[0].float() for p in pending])
        correct = torch.stack([p[1].float() for p in pending])
        values, hits = torch.stack((losses, correct)).tolist()
        items = [(v, c, *p[2:]) for v, c, p in zip(values, hits, pending)]
        pending.clear()
        good: list[_Item] = []
        for k, item in enumerate(items):
            if math.isfinite(item[0]):
                good.append(item)
                continue
            self._report(good, steps)
            good = []
            if fault := self._non_finite(item[0], item[4], item[5], len(items) - k - 1):
                return fault
        self._report(good, steps)
        return None

    def _report(self, items: list[_Item], steps: int) -> None:
        """Add steps to the epoch's sums and pass them to the callbacks."""
        if not items:
            return
        now = time.perf_counter()
        samples = sum(item[2] for item in items)
        elapsed = now - self._clock
        self._clock = now
        sums = self.epoch_sums
        sums[3] += elapsed
        rate = samples / elapsed if elapsed > 0 else 0.0
        epoch = self.epoch + 1
        for value, correct, n, lr, step, global_step in items:
            sums[0] += value * n
            sums[1] += correct
            sums[2] += n
            self.callbacks.on_batch_end(self, BatchEnd(epoch, step, steps, global_step, value,
                                                       correct / n, lr, rate))

    def _validate(self) -> tuple[float | None, float | None] | None:
        """Loss and accuracy on the validation split; ``None`` when stopped meanwhile."""
        assert self.data is not None
        if self.data.val is None:
            return None, None
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        hits = torch.zeros((), device=self.device)
        on_device = isinstance(getattr(self.data.val, "x", None), Tensor)
        count = 0
        with torch.no_grad(), self._autocast:
            for x, y in self.data.val.epoch(0):
                if self.controls.stop_requested:
                    return None
                if not on_device:
                    x, y = self._to_device(x, y)
                out = self._forward(x)
                out = out[0] if isinstance(out, tuple) else out
                loss_sum += self.loss_fn(out, y).float() * len(y)
                hits += (out.argmax(1) == y).sum()
                count += len(y)
        total, correct = torch.stack((loss_sum, hits)).tolist()
        return total / max(count, 1), correct / max(count, 1)

    def _end_epoch(self, val_loss: float | None, val_acc: float | None,
                   val_seconds: float) -> str | None:
        """Close the epoch: callbacks, schedule, best metric; a message to stop early."""
        loss_n, correct, seen, seconds = self.epoch_sums
        train_loss = loss_n / seen if seen else math.nan
        train_acc = correct / seen if seen else math.nan
        epoch = self.epoch + 1
        if val_loss is not None and val_acc is not None:
            self.callbacks.on_validation_end(self, epoch, val_loss, val_acc)
        if self.schedule.end_epoch(val_loss if val_loss is not None else train_loss):
            self.schedule.apply(self.global_step)
        values = {"val_loss": val_loss, "val_acc": val_acc, "train_loss": train_loss}
        self._track(values.get(self.monitor))
        self.epoch, self.step, self.epoch_sums = epoch, 0, [0.0, 0.0, 0, 0.0]
        self.callbacks.on_epoch_end(self, EpochEnd(
            epoch, self.config.epochs, train_loss, train_acc, val_loss, val_acc,
            self.optimizer.param_groups[0]["lr"], seen / seconds if seconds > 0 else 0.0,
            seconds + val_seconds))
        patience = self.config.early_stopping_patience
        if self.config.early_stopping != "none" and self.bad_epochs >= patience:
            return f"{self.monitor} has not improved for {patience} epochs"
        return None

    def _track(self, metric: float | None) -> None:
        """Update the best value of the monitored metric."""
        self.improved = False
        if metric is None or not math.isfinite(metric):
            self.bad_epochs += 1
            return
        higher = self.monitor == "val_acc"
        best = self.best_metric
        if best is None or (metric > best if higher else metric < best):
            self.best_metric, self.improved, self.bad_epochs = metric, True, 0
        else:
            self.bad_epochs += 1

    # -- controls and faults ---------------------------------------------------------------------
    def _controls(self) -> bool:
        """Apply requests from other threads; ``True`` when the run must stop."""
        self.controls.run_tasks()
        requests = self.controls.take()
        if requests.stop:
            return True
        if requests.lr is not None:
            self.schedule.set_lr(requests.lr, self.global_step)
        if requests.momentum is not None:
            set_momentum(self.optimizer, requests.momentum)
        if requests.pause:
            return self._wait("paused by the user")
        return False

    def _wait(self, reason: str) -> bool:
        """Stay paused until resumed (``False``) or stopped (``True``)."""
        self.state = "paused"
        self.callbacks.on_pause(self, reason)
        if self.controls.wait_while_paused():
            return True
        self.state = "running"
        self.callbacks.on_resume(self)
        self._clock = time.perf_counter()
        return self.controls.pending and self._controls()

    def _non_finite(self, value: float, step: int, global_step: int,
                    later: int) -> tuple[str, str] | None:
        """A non-finite loss: report it, then pause (or end the run when headless)."""
        where = f"epoch {self.epoch + 1}, step {step} (global step {global_step})"
        if later:
            state = (f"the weights were updated {later} more step(s) before the loss was read"
                     f"; reload the last checkpoint")
        else:
            state = "the weights are as they were before that step"
        message = (f"the loss became {value} at {where}; {state}. Lower the learning rate "
                   f"and resume, or stop")
        self.callbacks.on_fault(self, message)
        if not self.pause_on_fault:
            return "fault", message
        self.controls.pause()
        if self._wait(message):
            return "stopped", message
        return None

    # -- checkpoints ----------------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        """Everything a resumed run needs (see :mod:`netbuilder.training.checkpoint`)."""
        return capture_state(self)

    def _restore(self, state: Mapping[str, Any]) -> None:
        """Load a checkpoint into the set-up run."""
        restore_state(self, state)

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path | Mapping[str, Any],
                        callbacks: Iterable[Callback] = (), *, pause_on_fault: bool = True,
                        **overrides: Any) -> Trainer:
        """A trainer that resumes the run saved in ``checkpoint``.

        Args:
            checkpoint: A checkpoint path or loaded dict.
            callbacks: Callbacks of the resumed run.
            pause_on_fault: See :class:`Trainer`.
            **overrides: Settings to change (e.g. ``epochs=20`` to train longer).

        Raises:
            CheckpointError: when the checkpoint cannot be loaded.
            TrainingError: when it holds no graph.
        """
        from netbuilder.core.serialize import graph_from_dict

        state = dict(checkpoint) if isinstance(checkpoint, Mapping) else \
            load_checkpoint(checkpoint)
        if state.get("graph") is None:
            raise TrainingError("the checkpoint holds no graph: build the network and pass "
                                "the checkpoint to fit(resume_from=...)")
        graph = graph_from_dict(state["graph"])
        config = TrainConfig.from_dict(state.get("config", {})).updated(**overrides)
        trainer = cls(graph, config, callbacks, pause_on_fault=pause_on_fault)
        trainer._resume = state
        return trainer


def _require_trainable(graph: Graph) -> None:
    """Refuse a graph whose outputs no trainable parameter feeds (backward has nothing to do).

    Raises:
        TrainingError: naming the output, as the analysis words it.
    """
    from netbuilder.core.analysis import UNTRAINABLE, analyze

    untrainable = [i for i in analyze(graph).issues if i.kind == UNTRAINABLE]
    if untrainable:
        raise TrainingError(untrainable[0].message)
