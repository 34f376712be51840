"""Long work off the GUI thread: a job on a worker thread, polled by the GUI.

:class:`BackgroundJob` runs a function on a daemon thread and keeps its result or error
for the GUI thread to collect; widgets poll :attr:`BackgroundJob.done` on a ``QTimer``
(the worker never touches Qt). :func:`run_busy` is the blocking form for commands: it
waits briefly under a wait cursor (most work ends there), then shows a cancellable busy
dialog while events keep the window painted.

A cancelled job cannot be interrupted (tracing a model or reading a weights file has no
stop flag); it is told through :attr:`BackgroundJob.cancelled`, runs to its end on its
thread, and its result is dropped.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import QEventLoop, Qt
from PySide6.QtWidgets import QApplication, QProgressDialog, QPushButton, QWidget

T = TypeVar("T")

#: How often the GUI looks whether a job has finished.
POLL_MS = 30
#: How long :func:`run_busy` waits under a wait cursor before showing its dialog.
QUICK_WAIT_MS = 400
#: How long the process waits at exit for abandoned jobs (a thread killed inside torch's
#: C++ code aborts the process with "terminate called without an active exception").
EXIT_WAIT_S = 10.0
_running: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


class JobCancelled(Exception):
    """The user cancelled a background job; its result is dropped."""


class BackgroundJob(Generic[T]):
    """``work(cancelled)`` on a daemon thread, with its result or error kept for the GUI.

    Args:
        work: The function to run; it gets the job's cancel flag (a ``threading.Event``)
            to check between steps, and must not touch Qt.
        name: The worker thread's name.
    """

    def __init__(self, work: Callable[[threading.Event], T], name: str = "netbuilder-job"
                 ) -> None:
        self._work = work
        self.cancelled = threading.Event()
        self._finished = threading.Event()
        self._result: T | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        _running.add(self._thread)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._work(self.cancelled)
        except Exception as error:  # handed to the GUI thread by result()
            self._error = error
        finally:
            self._finished.set()

    @property
    def done(self) -> bool:
        """Whether the work has finished (successfully or not)."""
        return self._finished.is_set()

    def wait(self, seconds: float) -> bool:
        """Block for at most ``seconds``; return whether the work has finished."""
        return self._finished.wait(seconds)

    def cancel(self) -> None:
        """Ask the work to stop; its result will not be used."""
        self.cancelled.set()

    def result(self) -> T:
        """The work's return value.

        Raises:
            JobCancelled: when the job was cancelled.
            Exception: whatever the work raised.
        """
        if self.cancelled.is_set():
            raise JobCancelled("cancelled")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


@atexit.register
def _wait_for_jobs(limit: float = EXIT_WAIT_S) -> None:
    """At exit, give unfinished jobs up to ``limit`` seconds in all to end."""
    deadline = time.monotonic() + limit
    for thread in list(_running):
        thread.join(max(0.0, deadline - time.monotonic()))


def run_busy(parent: QWidget, text: str, work: Callable[[], T], *,
             quick_ms: int = QUICK_WAIT_MS) -> T:
    """Run ``work()`` off the GUI thread and return its result.

    The first ``quick_ms`` pass under a wait cursor; longer work shows a window-modal busy
    dialog with a Cancel button while events keep the window painted.

    Args:
        parent: The window the busy dialog belongs to.
        text: What the dialog says is happening (``Reading the weights…``).
        work: The function (it must not touch Qt).
        quick_ms: How long to wait before showing the dialog.

    Raises:
        JobCancelled: when the user pressed Cancel.
        Exception: whatever ``work`` raised.
    """
    job: BackgroundJob[T] = BackgroundJob(lambda _cancelled: work())
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        job.start()
        finished = job.wait(quick_ms / 1000)
    finally:
        QApplication.restoreOverrideCursor()
    if not finished:
        _wait_with_dialog(parent, text, job)
    return job.result()


def busy_dialog(parent: QWidget, text: str) -> QProgressDialog:
    """A window-modal, indeterminate progress dialog with a Cancel button."""
    dialog = QProgressDialog(text, "Cancel", 0, 0, parent)
    dialog.setObjectName("busyDialog")
    dialog.setAccessibleName("Working")
    dialog.setToolTip(text)
    cancel = QPushButton("Cancel", dialog)
    cancel.setObjectName("busyCancel")
    cancel.setAccessibleName("Cancel")
    cancel.setToolTip("Stop waiting: the result of the work is dropped")
    dialog.setCancelButton(cancel)
    dialog.setWindowTitle("NetBuilder")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    return dialog


def _wait_with_dialog(parent: QWidget, text: str, job: BackgroundJob[T]) -> None:
    """Show the busy dialog until ``job`` finishes or the user cancels it.

    Events are processed between short waits on the job rather than in a nested event
    loop, so the wait also ends when some earlier code has asked the application to quit.
    """
    dialog = busy_dialog(parent, text)
    dialog.canceled.connect(job.cancel)
    dialog.show()
    while not job.done and not job.cancelled.is_set():
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, POLL_MS)
        job.wait(POLL_MS / 1000)
    dialog.canceled.disconnect()  # closing a progress dialog emits canceled
    dialog.close()
    dialog.deleteLater()
