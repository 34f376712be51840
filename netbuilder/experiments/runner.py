"""Starts sweep workers as processes and looks after them. No torch, no Qt.

The command line waits on a :class:`SweepRunner`; the Experiments panel polls one from a
timer. A worker that dies (killed, out of memory) leaves its trial running in the study;
:meth:`SweepRunner.poll` records that trial as failed with the reason, and the other
workers go on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from optuna.trial import TrialState

from netbuilder.experiments.study import SweepStudy, fail_trial, trial_budget


def default_jobs(gpus: int = 0) -> int:
    """Workers to run at once: one per GPU, else one per CPU core."""
    return gpus if gpus > 0 else max(os.cpu_count() or 1, 1)


def shares(total: int, jobs: int) -> list[int]:
    """``total`` trials split as evenly as possible over ``jobs`` workers (none empty)."""
    jobs = max(min(jobs, total), 1)
    return [total // jobs + (1 if i < total % jobs else 0) for i in range(jobs)]


@dataclass
class WorkerProcess:
    """One worker process and what became of it."""

    process: subprocess.Popen[bytes]
    reaped: bool = False

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid


class SweepRunner:
    """Runs a study's trials in worker processes.

    Attributes:
        sweep: The study (opened by the caller, its space checked).
        storage: The study's storage URL (what the workers open).
        workers: The worker processes started.
    """

    def __init__(self, sweep: SweepStudy, storage: str, *, jobs: int = 1, gpus: int = 0,
                 log_dir: Path | None = None) -> None:
        self.sweep, self.storage = sweep, storage
        self.jobs, self.gpus = max(jobs, 1), gpus
        self.log_dir = log_dir
        self.workers: list[WorkerProcess] = []
        self._seed_offset = 0

    def remaining(self) -> int | None:
        """Trials left in the budget (``None``: no trial budget)."""
        budget = trial_budget(self.sweep)
        if budget is None:
            return None
        return max(budget - len(self.sweep.study.get_trials(deepcopy=False)), 0)

    def start(self) -> None:
        """Start the workers (none when the budget is already spent)."""
        study = self.sweep.study
        if "started" not in study.user_attrs:
            study.set_user_attr("started", time.time())
        left = self.remaining()
        counts: list[int | None] = list(shares(left, self.jobs)) if left is not None else \
            [None] * self.jobs
        if left == 0:
            counts = []
        threads = max((os.cpu_count() or 1) // max(len(counts), 1), 1)
        # a resumed sweep's workers draw from seeds its earlier workers did not use
        self._seed_offset = len(study.get_trials(deepcopy=False))
        for index, count in enumerate(counts):
            self.workers.append(self._spawn(index, count, threads))

    def _spawn(self, index: int, trials: int | None, threads: int) -> WorkerProcess:
        command = [sys.executable, "-m", "netbuilder.experiments.worker",
                   "--storage", self.storage, "--study", self.sweep.study.study_name,
                   "--threads", str(threads), "--artifacts", str(self.sweep.artifacts),
                   "--index", str(index + self._seed_offset)]
        if trials is not None:
            command += ["--trials", str(trials)]
        env = dict(os.environ)
        if self.gpus > 0:
            env["CUDA_VISIBLE_DEVICES"] = str(index % self.gpus)
        if self.log_dir is None:
            return WorkerProcess(subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"worker-{index}.log", "ab") as log:
            return WorkerProcess(subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                                  stdout=log, stderr=log))

    @property
    def running(self) -> bool:
        """Whether a worker is still alive."""
        return any(w.process.poll() is None for w in self.workers)

    def poll(self) -> bool:
        """Reap finished workers (failing the trials dead ones left); whether all ended."""
        for worker in self.workers:
            code = worker.process.poll()
            if code is None or worker.reaped:
                continue
            worker.reaped = True
            if code != 0:
                self._fail_orphans(worker.pid, _ending(code))
        return not self.running

    def _fail_orphans(self, pid: int, how: str) -> None:
        study = self.sweep.study
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.user_attrs.get("worker_pid") == pid:
                fail_trial(study._storage, trial._trial_id,
                           f"its worker process ({pid}) {how} mid-trial")

    def stop(self) -> None:
        """Ask every worker to stop (their trials under way end as failed: stopped)."""
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)

    def wait(self, interval_s: float = 0.5) -> None:
        """Block until every worker ended."""
        while not self.poll():
            time.sleep(interval_s)


def _ending(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed ({name})"
    return f"exited with status {code}"
