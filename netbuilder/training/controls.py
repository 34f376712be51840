"""Requests to a running trainer from other threads: stop, pause, resume, new rates, tasks.

Any thread may call the request methods; the training loop reads :attr:`Controls.pending`
(a plain attribute, free to read) before every batch and, only when it is set, takes the
requests under the lock with :meth:`Controls.take` and runs submitted tasks with
:meth:`Controls.run_tasks` — also while paused.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Requests:
    """What other threads asked for since the last :meth:`Controls.take`.

    Attributes:
        stop: Stop the run.
        pause: Pause the run.
        lr: A new learning rate, or ``None``.
        momentum: A new momentum, or ``None``.
    """

    stop: bool
    pause: bool
    lr: float | None
    momentum: float | None


class Controls:
    """Thread-safe flags and values set by other threads and read by the training loop.

    Attributes:
        pending: Whether anything was requested (read without the lock in the hot loop).
    """

    def __init__(self) -> None:
        """No requests yet."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.pending = False
        self._stop = self._pause = False
        self._lr: float | None = None
        self._momentum: float | None = None
        self._tasks: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._accepting = False

    @property
    def stop_requested(self) -> bool:
        """Whether a stop was asked for."""
        return self._stop

    def stop(self) -> None:
        """Ask the run to stop before the next batch (also ends a pause)."""
        with self._lock:
            self._stop = self.pending = True
        self._wake.set()

    def pause(self) -> None:
        """Ask the run to pause before the next batch."""
        with self._lock:
            self._pause = self.pending = True
            self._wake.clear()

    def resume(self) -> None:
        """Let a paused run go on."""
        with self._lock:
            self._pause = False
        self._wake.set()

    def set_lr(self, lr: float) -> None:
        """Ask for learning rate ``lr``.

        Raises:
            ValueError: when ``lr`` is not a positive number.
        """
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"the learning rate must be a positive number, got {lr!r}")
        with self._lock:
            self._lr, self.pending = float(lr), True

    def set_momentum(self, momentum: float) -> None:
        """Ask for momentum ``momentum``.

        Raises:
            ValueError: when ``momentum`` is not in [0, 1).
        """
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        with self._lock:
            self._momentum, self.pending = float(momentum), True

    def submit(self, task: Callable[[], Any]) -> Future[Any]:
        """Run ``task`` in the training thread between two batches (or while paused).

        When no run is going on, ``task`` runs at once in the calling thread. The returned
        future holds its result or its exception.
        """
        future: Future[Any] = Future()
        with self._lock:
            queued = self._accepting
            if queued:
                self._tasks.append((task, future))
                self.pending = True
        if queued:
            self._wake.set()
        else:
            _run(task, future)
        return future

    def accept_tasks(self, accepting: bool) -> None:
        """Start queueing submitted tasks (``True``), or stop and run those queued."""
        with self._lock:
            self._accepting = accepting
        if not accepting:
            self.run_tasks()

    def run_tasks(self) -> None:
        """Run the queued tasks, in order (in the training thread)."""
        while True:
            with self._lock:
                if not self._tasks:
                    return
                task, future = self._tasks.popleft()
            _run(task, future)

    def take(self) -> Requests:
        """The requests; new values are handed over once, stop and pause stay set."""
        with self._lock:
            requests = Requests(self._stop, self._pause, self._lr, self._momentum)
            self._lr = self._momentum = None
            self.pending = self._stop or self._pause or bool(self._tasks)
        return requests

    def wait_while_paused(self, poll: float = 0.1) -> bool:
        """Block until resumed (``False``) or stopped (``True``), running submitted tasks."""
        while True:
            self._wake.wait(poll)
            self.run_tasks()
            with self._lock:
                if self._stop:
                    return True
                self._wake.clear()
                if not self._pause:
                    self.pending = self._lr is not None or self._momentum is not None
                    return False


def _run(task: Callable[[], Any], future: Future[Any]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(task())
    except BaseException as exc:  # handed to whoever waits on the future
        future.set_exception(exc)
