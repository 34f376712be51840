"""A training run seen from the GUI: the trainer in a worker thread, news on a timer.

:class:`TrainingSession` owns one run at a time. :meth:`TrainingSession.start` copies the
graph in the GUI thread (so the editor may go on changing the original) and starts a
worker thread that builds the :class:`~netbuilder.training.trainer.Trainer`, trains and,
when the run ends, evaluates the validation set for the results panel.

While a run goes on, the objects alive when it started are moved out of the garbage
collector's reach (``gc.freeze``): a full collection otherwise walks every object of the
application (torch, pyqtgraph, the editor) and stops both threads for 50–250 ms, which a
user sees as a stutter. They are handed back (``gc.unfreeze``) when the last run ends.

The trainer knows nothing of Qt. Its callbacks (:class:`_QueueCallback`, in the training
thread) only put small values on queues: every step's :class:`BatchEnd` on a bounded
queue (dropped when full, never blocking training), the rare events (epoch ends, pauses,
faults, the end) on an unbounded deque. A ``QTimer`` in the GUI thread drains both at
:data:`DRAIN_HZ` and turns them into signals, one bundle of numpy arrays per tick; a rare
event also wakes the GUI at once (a queued signal), so that it shows without delay.

Panels look into the network with :meth:`TrainingSession.probe`: the task runs in the
training thread between two batches (:meth:`Trainer.submit`), and its result is handed
back in the GUI thread by the drain timer. The GUI thread never touches the model while
the worker is alive.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import gc
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from netbuilder.core.graph import Graph
from netbuilder.training.callbacks import BatchEnd, Callback, EpochEnd, FitResult
from netbuilder.training.config import TrainConfig
from netbuilder.ui.training.records import (
    BatchChunk,
    RunInfo,
    collect_results,
    run_info,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from netbuilder.training.trainer import Trainer

#: Drains of the queues per second (the panels redraw at most this often). Ten is more
#: than the curves (4 Hz) and the progress strip (5 Hz) draw, and each wake-up of the GUI
#: thread takes a core from training: 20 drains a second cost 0.3 % more of a core.
DRAIN_HZ = 10
#: Steps held on the queue before new ones are dropped (the GUI is not draining).
QUEUE_SIZE = 20_000
#: How much lower the training threads' priority is than the GUI's (Linux niceness).
TRAINING_NICENESS = 10
IDLE, PREPARING, RUNNING, PAUSED, STOPPING, EVALUATING = (
    "idle", "preparing", "running", "paused", "stopping", "evaluating")


class _Freezer:
    """Freezes the garbage collector's old objects while any run goes on (a count)."""

    runs = 0

    @classmethod
    def enter(cls) -> None:
        if cls.runs == 0:
            gc.freeze()
        cls.runs += 1

    @classmethod
    def leave(cls) -> None:
        cls.runs = max(cls.runs - 1, 0)
        if cls.runs == 0:
            gc.unfreeze()


@dataclass
class _Probe:
    future: Future[Any]
    done: Callable[[Any], None]
    failed: Callable[[BaseException], None] | None = None


class _Skipped(Exception):
    """A probe that would have touched the model outside the training thread."""


class _QueueCallback(Callback):
    """The UI's callback: copies small values onto queues (runs in the training thread)."""

    def __init__(self, session: TrainingSession) -> None:
        self.batches = session._batches
        self.post = session._post
        self.dropped = 0

    def on_train_start(self, trainer: Trainer) -> None:
        """Send what the panels need to know about the run."""
        self.post("start", run_info(trainer))

    def on_batch_end(self, trainer: Trainer, batch: BatchEnd) -> None:
        """Queue the step (dropped when the GUI is not keeping up)."""
        try:
            self.batches.put_nowait(batch)
        except queue.Full:
            self.dropped += 1

    def on_epoch_end(self, trainer: Trainer, epoch: EpochEnd) -> None:
        """Send the epoch's record."""
        self.post("epoch", epoch)

    def on_pause(self, trainer: Trainer, reason: str) -> None:
        """Say that the run paused."""
        self.post("pause", reason)

    def on_resume(self, trainer: Trainer) -> None:
        """Say that the run resumed."""
        self.post("resume", None)

    def on_fault(self, trainer: Trainer, message: str) -> None:
        """Send the fault's message."""
        self.post("fault", message)

    def on_checkpoint(self, trainer: Trainer, path: str, kind: str) -> None:
        """Say where a checkpoint went."""
        self.post("checkpoint", (path, kind))

    def on_train_end(self, trainer: Trainer, result: FitResult) -> None:
        """Send how the run ended."""
        self.post("end", result)


@dataclass
class _Clock:
    """Wall time of the run, pauses excluded, for the time-left estimate."""

    started: float = 0.0
    paused_at: float | None = None
    paused_total: float = 0.0
    first_step: int = 0

    def elapsed(self) -> float:
        """Seconds of training so far."""
        now = self.paused_at if self.paused_at is not None else time.perf_counter()
        return now - self.started - self.paused_total

    def pause(self) -> None:
        """Stop counting."""
        if self.paused_at is None:
            self.paused_at = time.perf_counter()

    def resume(self) -> None:
        """Count again."""
        if self.paused_at is not None:
            self.paused_total += time.perf_counter() - self.paused_at
            self.paused_at = None


class TrainingSession(QObject):
    """One training run at a time, in a worker thread, reported through Qt signals.

    Signals:
        stateChanged(str): ``idle``, ``preparing``, ``running``, ``paused``, ``stopping``
            or ``evaluating``.
        started(RunInfo): Training begins (model, data and optimiser are ready).
        batchesArrived(BatchChunk): Steps since the last drain.
        epochEnded(EpochEnd): An epoch ended, validation included.
        paused(str): The run paused (the reason: the user, or a fault's message).
        resumed(): The run goes on.
        faulted(str): A non-finite loss or out of memory; the message says where.
        failed(str): The run could not start or crashed (the message says why).
        finished(FitResult): The training loop ended.
        resultsReady(Results): The validation set was judged after training.
        checkpointSaved(str, str): A checkpoint was written (path, ``last``/``best``).
        exited(): The worker thread is gone; a new run may start.

    Attributes:
        trainer: The run's trainer (``None`` until the worker built it).
        info: The run's :class:`RunInfo` once it started.
        checkpoint_root: Folder under which each project's checkpoints go.
        torch_threads: Intra-op threads torch uses during the run (``None``: torch's
            default, as headless training uses; torch's setting is restored when the run
            ends). Leaving the GUI thread a core of its own cost a quarter of the
            throughput on a two-core machine; the panels are cheap enough to share
            (``bench/bench_gui_training.py``).
        drain_hz: Drains per second.
    """

    stateChanged = Signal(str)
    started = Signal(object)
    batchesArrived = Signal(object)
    epochEnded = Signal(object)
    paused = Signal(str)
    resumed = Signal()
    faulted = Signal(str)
    failed = Signal(str)
    finished = Signal(object)
    resultsReady = Signal(object)
    checkpointSaved = Signal(str, str)
    exited = Signal()
    _woken = Signal()  # emitted by the worker: a rare event waits (queued to the GUI)

    def __init__(self, checkpoint_root: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingSession")
        self.trainer: Trainer | None = None
        self.info: RunInfo | None = None
        self.result: FitResult | None = None
        self.checkpoint_root = checkpoint_root
        self.checkpoint_dir: Path | None = None
        #: Write TensorBoard events into the run's checkpoint folder (``tensorboard/``).
        self.tensorboard = False
        self.torch_threads: int | None = None
        self.drain_hz = DRAIN_HZ
        self.state = IDLE
        self.clock = _Clock()
        self._thread: threading.Thread | None = None
        self._batches: queue.Queue[BatchEnd] = queue.Queue(QUEUE_SIZE)
        self._events: collections.deque[tuple[str, Any]] = collections.deque()
        self._callback: _QueueCallback | None = None
        self._probes: dict[str, _Probe] = {}
        self._stop_requested = False
        self._closing = False
        self._frozen = False
        self._timer = QTimer(self)
        self._timer.setObjectName("trainingDrainTimer")
        self._timer.timeout.connect(self.drain)
        self._woken.connect(self.drain, Qt.ConnectionType.QueuedConnection)

    # -- state ------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        """Whether the worker thread is running."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def worker(self) -> threading.Thread | None:
        """The worker thread of the latest run."""
        return self._thread

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    # -- control (GUI thread) -----------------------------------------------------------------
    def start(self, graph: Graph, config: TrainConfig, checkpoint_dir: Path | None) -> None:
        """Train a copy of ``graph`` with ``config`` in a new worker thread.

        Raises:
            RuntimeError: when a run is still going on.
        """
        if self.alive:
            raise RuntimeError("a training run is still going on")
        self._reset()
        self.checkpoint_dir = checkpoint_dir
        self._set_state(PREPARING)
        copy = graph.copy()
        self._thread = threading.Thread(target=self._work, args=(copy, config, checkpoint_dir),
                                        name="netbuilder-training", daemon=True)
        self._timer.start(max(1, round(1000 / self.drain_hz)))
        self._freeze(True)
        self._thread.start()

    def _reset(self) -> None:
        self.trainer = None
        self.info = None
        self.result = None
        self.clock = _Clock()
        self._stop_requested = self._closing = False
        self._probes.clear()
        self._events.clear()
        while not self._batches.empty():
            self._batches.get_nowait()
        self._callback = _QueueCallback(self)

    def pause(self) -> None:
        """Ask the run to pause before its next batch."""
        if self.trainer is not None and self.state == RUNNING:
            self.trainer.pause()

    def resume(self) -> None:
        """Let a paused run go on."""
        if self.trainer is not None and self.state == PAUSED:
            self.trainer.resume()

    def stop(self) -> None:
        """Ask the run to stop before its next batch (the worker writes ``last.pt``)."""
        if not self.alive:
            return
        self._stop_requested = True
        trainer = self.trainer
        if trainer is not None:
            trainer.stop()
        if self.state in (PREPARING, RUNNING, PAUSED):
            self._set_state(STOPPING)

    def set_lr(self, lr: float) -> None:
        """Use learning rate ``lr`` from the next batch on (when a run is going on)."""
        if self.trainer is not None and self.alive and lr > 0 and math.isfinite(lr):
            self.trainer.set_lr(lr)

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop the run, wait for the worker (it writes the last checkpoint), stop the timer.

        Returns:
            Whether the worker thread is gone.
        """
        self._closing = True
        self.stop()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._timer.stop()
        gone = thread is None or not thread.is_alive()
        if gone:
            self._probes.clear()
            self.drain()  # the run's last news, ending in ``exited``
            self._freeze(False)
        return gone

    def _freeze(self, frozen: bool) -> None:
        """Take this session's part in freezing the garbage collector (see the module)."""
        if frozen != self._frozen:
            self._frozen = frozen
            _Freezer.enter() if frozen else _Freezer.leave()

    # -- the worker (training thread) ----------------------------------------------------------
    def _work(self, graph: Graph, config: TrainConfig, checkpoint_dir: Path | None) -> None:
        import torch

        post = self._post
        threads = torch.get_num_threads()
        _defer_to_gui()
        try:
            if self.torch_threads:
                torch.set_num_threads(self.torch_threads)
            trainer = self._build(graph, config, checkpoint_dir)
            self.trainer = trainer
            if self._stop_requested:
                trainer.stop()
            result = trainer.fit()
            if not self._closing and result.status != "fault":
                post("evaluating", None)
                post("results", collect_results(trainer))
        except Exception as exc:  # reported to the user; the application goes on
            post("failed", _describe(exc))
        finally:
            torch.set_num_threads(threads)
            post("exit", None)

    def _build(self, graph: Graph, config: TrainConfig, checkpoint_dir: Path | None) -> Trainer:
        from netbuilder.training.checkpoint import ModelCheckpoint
        from netbuilder.training.trainer import Trainer

        assert self._callback is not None
        callbacks: list[Callback] = [self._callback]
        if checkpoint_dir is not None:
            callbacks.append(ModelCheckpoint(checkpoint_dir))
            if self.tensorboard:
                from netbuilder.training.tensorboard import TensorBoardLogger

                callbacks.append(TensorBoardLogger(checkpoint_dir / "tensorboard"))
        return Trainer(graph, config, callbacks)

    # -- probes -----------------------------------------------------------------------------
    def probe(self, key: str, task: Callable[[Trainer], Any], done: Callable[[Any], None],
              failed: Callable[[BaseException], None] | None = None) -> bool:
        """Run ``task(trainer)`` where it may touch the model; hand its result to ``done``.

        While the worker is alive the task runs in the training thread between two batches
        (or while paused) and ``done`` is called by the next drain; after the run it runs
        at once. A probe whose ``key`` is still pending is not queued twice.

        Returns:
            Whether the probe was queued (``False``: no trained model to look into, or a
            probe of that key is still pending).
        """
        trainer = self.trainer
        if trainer is None or key in self._probes or not trainer.started:
            return False
        worker = self._thread
        alive = worker is not None and worker.is_alive()
        if alive and trainer.state not in (RUNNING, PAUSED):
            return False

        def guarded() -> Any:
            if alive and threading.current_thread() is not worker:
                raise _Skipped  # the run ended meanwhile: the worker may be evaluating
            return task(trainer)

        self._probes[key] = _Probe(trainer.submit(guarded), done, failed)
        if not alive:
            self._deliver_probes()
        return True

    def _deliver_probes(self) -> None:
        for key, probe in list(self._probes.items()):
            if not probe.future.done():
                continue
            del self._probes[key]
            error = probe.future.exception()
            if error is None:
                probe.done(probe.future.result())
            elif probe.failed is not None and not isinstance(error, _Skipped):
                probe.failed(error)

    def pending_probe(self, key: str) -> bool:
        """Whether a probe of ``key`` waits for the training thread."""
        return key in self._probes

    def _post(self, kind: str, payload: Any) -> None:
        """Queue a rare event (training thread) and have the GUI drain at once: a pause, a
        resume or the end shows without waiting for the drain timer."""
        self._events.append((kind, payload))
        with contextlib.suppress(RuntimeError):  # the session was deleted (its window closed
            self._woken.emit()                   # while the worker would not stop): no one waits

    # -- the drain (GUI thread) -----------------------------------------------------------------
    def drain(self) -> None:
        """Turn what the worker queued into signals (called by the timer)."""
        if self._events and self._events[0][0] == "start":  # before the run's first steps
            self._handle(*self._events.popleft())
        self._drain_batches()
        exited = False
        while self._events:
            kind, payload = self._events.popleft()
            exited = self._handle(kind, payload) or exited
        self._deliver_probes()
        if exited:
            self._finish()

    def _drain_batches(self) -> None:
        items: list[BatchEnd] = []
        get = self._batches.get_nowait
        try:
            while True:
                items.append(get())
        except queue.Empty:
            pass
        if not items:
            return
        columns = np.array([(b.global_step, b.loss, b.acc, b.lr) for b in items],
                           dtype=np.float64)
        dropped = self._callback.dropped if self._callback is not None else 0
        self.batchesArrived.emit(BatchChunk(columns[:, 0], columns[:, 1], columns[:, 2],
                                            columns[:, 3], items[-1], dropped))

    def _handle(self, kind: str, payload: Any) -> bool:
        """Emit the signal of one event; ``True`` when the worker is gone."""
        if kind == "start":
            self._started(payload)
        elif kind == "epoch":
            self.epochEnded.emit(payload)
        elif kind == "pause":
            self.clock.pause()
            self._set_state(PAUSED)
            self.paused.emit(payload)
        elif kind == "resume":
            self.clock.resume()
            self._set_state(STOPPING if self._stop_requested else RUNNING)
            self.resumed.emit()
        elif kind == "fault":
            self.faulted.emit(payload)
        elif kind == "checkpoint":
            self.checkpointSaved.emit(*payload)
        elif kind == "end":
            self.result = payload
            self.clock.pause()
            self.finished.emit(payload)
        elif kind == "evaluating":
            self._set_state(EVALUATING)
        elif kind == "results":
            if payload is not None:
                self.resultsReady.emit(payload)
        elif kind == "failed":
            self.failed.emit(payload)
        return kind == "exit"

    def _started(self, info: RunInfo) -> None:
        checkpoint_dir = str(self.checkpoint_dir) if self.checkpoint_dir is not None else ""
        self.info = dataclasses.replace(info, checkpoint_dir=checkpoint_dir)
        self.clock = _Clock(time.perf_counter(), first_step=info.start_step)
        self._set_state(STOPPING if self._stop_requested else RUNNING)
        self.started.emit(self.info)

    def _finish(self) -> None:
        self._timer.stop()
        thread = self._thread
        if thread is not None:
            thread.join(1.0)
        self._freeze(False)
        self._set_state(IDLE)
        self.exited.emit()

    # -- progress ---------------------------------------------------------------------------
    def seconds_left(self, global_step: int) -> float | None:
        """Time the run still needs at the pace so far (pauses excluded), or ``None``."""
        info = self.info
        if info is None:
            return None
        done = global_step - self.clock.first_step
        elapsed = self.clock.elapsed()
        if done <= 0 or elapsed <= 0:
            return None
        total = info.epochs * info.steps_per_epoch
        return max(total - global_step, 0) * elapsed / done


def _defer_to_gui() -> None:
    """Lower the calling (training) thread's scheduling priority, where the OS allows it.

    Training uses every core (torch's default threads), so when the GUI thread wakes up
    for a timer or a repaint, every core is busy. At the default priority it waits its turn
    behind the training threads (ticks of a 10 ms timer came up to 80 ms late); at a
    lower priority for the training threads — which torch's intra-op workers, started
    from this thread, inherit — it runs at once. Training loses nothing while the GUI is
    idle. Linux only (``setpriority`` on a thread id); elsewhere nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid)
                                                 + TRAINING_NICENESS, 19))


def _describe(error: BaseException) -> str:
    """A message for the user about an exception that ended the run."""
    from netbuilder.core.errors import NetBuilderError

    if isinstance(error, NetBuilderError):
        return str(error)
    return f"training failed: {type(error).__name__}: {error}"
