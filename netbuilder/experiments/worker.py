"""A sweep worker: a process that takes trials from a study until its share is done.

``python -m netbuilder.experiments.worker --storage URL --study NAME [--trials N]`` (what
``netbuilder sweep worker`` runs). Workers on several machines may share one study. A
worker stops asking for trials when the study's trial budget is reached, its own ``--trials``
are done, the time budget is spent, or it receives SIGTERM (the trial under way stops
after its current batch and is recorded as failed: stopped).

Exit status: 0 done; 2 the storage or study cannot be opened.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import optuna

from netbuilder.core.errors import NetBuilderError
from netbuilder.core.messages import one_line
from netbuilder.experiments.study import SweepStudy, load_sweep, started_trials, trial_budget
from netbuilder.experiments.trial import TrialFailed, TrialRunner
from netbuilder.training.trainer import Trainer

EXIT_OK, EXIT_USAGE = 0, 2


class Worker:
    """Takes trials from a study one after another (ask, run, tell).

    Attributes:
        sweep: The study and what it sweeps.
        runner: The objective.
        stopping: Whether a stop was asked for.
    """

    def __init__(self, sweep: SweepStudy) -> None:
        self.sweep = sweep
        self.runner = TrialRunner(sweep)
        self.stopping = False

    def stop(self) -> None:
        """Finish now: the trial under way stops after its batch and is recorded failed."""
        self.stopping = True
        trainer: Trainer | None = self.runner.current
        if trainer is not None:
            trainer.stop()

    def run(self, trials: int | None = None, deadline: float | None = None) -> int:
        """Run trials until a budget ends or :meth:`stop`; how many ran."""
        done = 0
        while not self.stopping and (trials is None or done < trials):
            if (deadline is not None and time.time() >= deadline) or self._budget_spent():
                break
            if self._one():
                done += 1
        return done

    def _budget_spent(self) -> bool:
        budget = trial_budget(self.sweep)
        if budget is None:
            return False
        return started_trials(self.sweep.study) >= budget

    def _one(self) -> bool:
        """One trial through ``optimize`` (heartbeats, pruning and the grid's end work).

        Returns False when another worker finished the same trial first: two workers asking
        at once may both claim one queued trial (SQLite has no row locks; seen in CI as
        "Cannot tell a COMPLETE trial", which used to end the worker and leave its share of
        the queue waiting). The other worker's result stands; this one goes on.
        """
        try:
            self.sweep.study.optimize(self.runner, n_trials=1, catch=(TrialFailed,),
                                      gc_after_trial=True)
        except ValueError as error:
            if not str(error).startswith("Cannot tell a"):
                raise
            print(f"netbuilder sweep worker: another worker finished this trial first "
                  f"({one_line(str(error))}); going on", file=sys.stderr)
            return False
        return True


def run_worker(storage: str, study: str, *, trials: int | None = None,
               timeout_s: float | None = None, artifacts: Path | None = None,
               threads: int | None = None, index: int = 0, nice: int = 0) -> int:
    """Open the study and run trials in this process; the exit status."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if nice > 0 and hasattr(os, "nice"):  # trials yield the CPU to the editor
        os.nice(nice)
    if threads is not None:
        import torch

        torch.set_num_threads(max(threads, 1))
    try:
        sweep = load_sweep(storage, study, artifacts, index)
    except NetBuilderError as exc:
        print(f"netbuilder sweep worker: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    worker = Worker(sweep)

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, on_term)
    worker.run(trials, time_budget_end(sweep, timeout_s))
    return EXIT_OK


def time_budget_end(sweep: SweepStudy, own_timeout_s: float | None = None) -> float | None:
    """When a worker takes no new trial (``time.time()`` seconds; ``None``: never).

    The space's time budget counts from the launch of the sweep (its ``started``
    attribute: the latest ``netbuilder sweep`` or Start), so a resumed sweep gets its time
    again; a worker's own ``--timeout`` counts from now. The earlier of the two ends it.
    """
    ends = []
    if sweep.space.timeout_s is not None:
        ends.append(_sweep_start(sweep) + sweep.space.timeout_s)
    if own_timeout_s is not None:
        ends.append(time.time() + own_timeout_s)
    return min(ends, default=None)


def _sweep_start(sweep: SweepStudy) -> float:
    """When the sweep was launched (now, for a study no launcher has noted)."""
    first = sweep.study.user_attrs.get("started")
    return float(first) if isinstance(first, (int, float)) else time.time()


def configure_worker(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of a sweep worker on ``parser``."""
    parser.add_argument("--storage", required=True, help="Optuna storage URL of the study")
    parser.add_argument("--study", required=True, help="name of the study")
    parser.add_argument("--trials", type=int, help="trials this worker runs at most")
    parser.add_argument("--timeout", type=float,
                        help="seconds from now before taking no new trial (the space's "
                             "time budget ends it too)")
    parser.add_argument("--artifacts", type=Path,
                        help="folder for trained weights (default: the study's)")
    parser.add_argument("--threads", type=int, help="CPU threads of this worker")
    parser.add_argument("--index", type=int, default=0,
                        help="this worker's number (offsets the sampler's seed)")
    parser.add_argument("--nice", type=int, default=0,
                        help="lower this process's CPU priority by this much")


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process."""
    parser = argparse.ArgumentParser(prog="netbuilder sweep worker")
    configure_worker(parser)
    args = parser.parse_args(argv)
    return run_worker(args.storage, args.study, trials=args.trials, timeout_s=args.timeout,
                      artifacts=args.artifacts, threads=args.threads, index=args.index,
                      nice=args.nice)


if __name__ == "__main__":
    sys.exit(main())
