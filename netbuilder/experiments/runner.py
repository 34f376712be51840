"""Starts sweep workers as processes and looks after them. No torch, no Qt.

The command line waits on a :class:`SweepRunner`; the Experiments panel polls one from a
timer. A worker that dies (killed, out of memory) leaves its trial running in the study;
:meth:`SweepRunner.poll` records that trial as failed with the reason, and the other
workers go on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from netbuilder.core.errors import ProjectFileError
from netbuilder.core.serialize import load
from netbuilder.experiments.study import (
    SweepStudy,
    create_or_open,
    fail_trial,
    open_storage,
    started_trials,
    trial_budget,
)

#: How much lower than the caller's the workers' CPU priority is (the editor stays smooth
#: while every core trains).
WORKER_NICE = 10


#: Popen's arguments that put a worker in a process group of its own (POSIX only).
_OWN_GROUP: dict[str, Any] = {"process_group": 0} if os.name == "posix" else {}


def lower_priority(pid: int, steps: int) -> None:
    """Make process ``pid`` (0: this one) ``steps`` nicer than this process, where the
    operating system allows it; a process already gone is left alone."""
    if steps <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        target = min(os.getpriority(os.PRIO_PROCESS, 0) + steps, 19)
        os.setpriority(os.PRIO_PROCESS, pid, max(target, os.getpriority(os.PRIO_PROCESS, pid)))
    except OSError:  # gone already, or not ours to change
        pass


def default_jobs(gpus: int = 0) -> int:
    """Workers to run at once: one per GPU, else one per CPU core."""
    return gpus if gpus > 0 else max(os.cpu_count() or 1, 1)


def shares(total: int, jobs: int) -> list[int]:
    """``total`` trials split as evenly as possible over ``jobs`` workers (none empty)."""
    jobs = max(min(jobs, total), 1)
    return [total // jobs + (1 if i < total % jobs else 0) for i in range(jobs)]


#: Records the trials a dead worker left: ``(storage, study, pid, how it ended)``.
OrphanHandler = Callable[[str, str, int, str], object]


@dataclass
class WorkerProcess:
    """One worker process and what became of it."""

    process: subprocess.Popen[bytes]
    reaped: bool = False
    #: How it ended when that was not a clean exit ("was killed (SIGKILL)", ...).
    ending: str | None = None

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid


@dataclass(frozen=True)
class LaunchPlan:
    """Which workers to start for a study (plain data: it may be made in another process).

    Attributes:
        storage: The study's storage URL (what the workers open).
        study: The study's name.
        artifacts: Folder where trials write their weights.
        counts: Trials per worker (``None``: until the study's budget or time ends).
        seed_offset: Added to each worker's index to seed its sampler.
        threads: CPU threads per worker.
        devices: The GPUs the workers take turns on, as ``CUDA_VISIBLE_DEVICES`` names
            them (worker ``i`` sees only ``devices[i % len(devices)]``); empty: the
            workers see what this process sees.
    """

    storage: str
    study: str
    artifacts: Path
    counts: tuple[int | None, ...]
    seed_offset: int
    threads: int
    devices: tuple[str, ...] = ()


def plan_launch(sweep: SweepStudy, storage: str, jobs: int) -> LaunchPlan:
    """Share the study's remaining budget over ``jobs`` workers (and note the launch:
    the time budget counts from it, so a resumed sweep gets its time again)."""
    study = sweep.study
    study.set_user_attr("started", time.time())
    budget = trial_budget(sweep)
    done = started_trials(study)
    jobs = max(jobs, 1)
    if budget is None:
        counts: tuple[int | None, ...] = (None,) * jobs
    else:
        left = max(budget - done, 0)
        counts = tuple(shares(left, jobs)) if left else ()
    threads = max((os.cpu_count() or 1) // max(len(counts), 1), 1)
    device = sweep.space.training.get("device")
    devices = cuda_devices() if device in (None, "auto", "cuda") else ()
    # a resumed sweep's workers draw from seeds its earlier workers did not use
    return LaunchPlan(storage, study.study_name, sweep.artifacts, counts, done, threads,
                      devices)


def cuda_devices() -> tuple[str, ...]:
    """The GPUs this process sees, named as a child's ``CUDA_VISIBLE_DEVICES`` would name
    them: this process's own list where it has one, else ``0``…``n-1``; none without CUDA.

    Imports torch (the plan is made in the command line or the panel's helper process,
    never in the editor's).
    """
    import torch

    count = torch.cuda.device_count()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return tuple(name.strip() for name in visible.split(",") if name.strip())[:count]
    return tuple(str(index) for index in range(count))


class SweepRunner:
    """Runs a study's trials in worker processes.

    Attributes:
        plan: The workers to start.
        workers: The worker processes started.
    """

    def __init__(self, plan: LaunchPlan, *, log_dir: Path | None = None) -> None:
        self.plan, self.log_dir = plan, log_dir
        self.workers: list[WorkerProcess] = []

    def start(self) -> None:
        """Start the workers (none when the budget is already spent)."""
        for index, count in enumerate(self.plan.counts):
            self.workers.append(self._spawn(index, count))

    def _spawn(self, index: int, trials: int | None) -> WorkerProcess:
        plan = self.plan
        command = [sys.executable, "-m", "netbuilder.experiments.worker",
                   "--storage", plan.storage, "--study", plan.study,
                   "--threads", str(plan.threads), "--artifacts", str(plan.artifacts),
                   "--index", str(index + plan.seed_offset)]
        if trials is not None:
            command += ["--trials", str(trials)]
        env = dict(os.environ)
        if plan.devices:  # one GPU each, in turn
            env["CUDA_VISIBLE_DEVICES"] = plan.devices[index % len(plan.devices)]
        # a process group of their own: a Ctrl-C in the terminal reaches only this
        # process, which then stops the workers with SIGTERM (their trials end recorded as
        # stopped). Not a session of their own: on Linux a new session is a new scheduler
        # autogroup, whose nice value is not theirs, and each worker's group would get
        # the CPU on equal terms with the editor's whatever the workers' nice value.
        # Niced from their first moment, so importing torch already yields to the editor.
        if self.log_dir is None:
            process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, **_OWN_GROUP)
        else:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_dir / f"worker-{index}.log", "ab") as log:
                process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                           stdout=log, stderr=log, **_OWN_GROUP)
        lower_priority(process.pid, WORKER_NICE)
        return WorkerProcess(process)

    @property
    def running(self) -> bool:
        """Whether a worker is still alive."""
        return any(w.process.poll() is None for w in self.workers)

    def poll(self, fail: OrphanHandler | None = None) -> bool:
        """Reap finished workers; whether all ended.

        Args:
            fail: Called as ``fail(storage, study, pid, how)`` for each worker that died
                (default :func:`fail_orphans`, here and now; the editor passes one that
                runs it in a helper process).
        """
        for worker in self.workers:
            code = worker.process.poll()
            if code is None or worker.reaped:
                continue
            worker.reaped = True
            if code != 0:
                worker.ending = _ending(code)
                (fail or fail_orphans)(self.plan.storage, self.plan.study, worker.pid,
                                       worker.ending)
        return not self.running

    def failures(self) -> list[str]:
        """A line for each worker reaped that did not end cleanly."""
        return [f"worker process {w.pid} {w.ending}" for w in self.workers if w.ending]

    def stop(self) -> None:
        """Ask every worker to stop (their trials under way end as failed: stopped)."""
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)

    def wait(self, interval_s: float = 0.5) -> None:
        """Block until every worker ended."""
        while not self.poll():
            time.sleep(interval_s)


def fail_orphans(storage: str, name: str, pid: int, how: str) -> None:
    """Fail the trials of study ``name`` that the dead worker ``pid`` left running."""
    study = optuna.load_study(study_name=name, storage=open_storage(storage))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("worker_pid") == pid:
            fail_trial(study._storage, trial._trial_id,
                       f"its worker process ({pid}) {how} mid-trial")


def _ending(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed ({name})"
    return f"exited with status {code}"


def prepare_sweep(project_file: Path, space_file: Path, storage: str, name: str, jobs: int,
                  artifacts: Path) -> LaunchPlan:
    """Create or go on with the study of a saved project and a space file; its plan.

    What the editor's Start runs in a helper process. A study that exists with another
    space goes on with the new one (pressing Start again resumes a sweep).

    Raises:
        ProjectFileError: when the project or the space cannot be read.
        SpaceError: when the space does not fit the project.
        StudyError: when the storage cannot be reached.
    """
    try:
        space = json.loads(space_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectFileError(f"{space_file.name}: not a JSON space ({exc})") from None
    sweep = create_or_open(storage, name, load(project_file), space, artifacts, resume=True)
    return plan_launch(sweep, storage, jobs)
