"""Search methods, trial and time budgets, the Hyperband pruner: each through the real loop
(a worker's ask–train–tell on the digits, in this process unless a test needs processes)."""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from netbuilder.cli import main
from netbuilder.core.serialize import Project
from netbuilder.experiments.runner import SweepRunner, plan_launch
from netbuilder.experiments.study import (
    SweepStudy,
    TrialRow,
    create_or_open,
    default_storage,
    load_sweep,
    open_storage,
    ranked,
    started_trials,
    trial_row,
)
from netbuilder.experiments.worker import EXIT_OK, Worker, run_worker, time_budget_end
from tests.experiments.conftest import small_graph, write_space

GRID = {"lr": {"values": [0.01, 0.003, 0.001]}, "c1.out_channels": {"values": [4, 8]}}


def _sweep(tmp_path: Path, search: dict[str, Any], parameters: dict[str, Any] | None = None,
           *, epochs: int = 1, name: str = "s", **rest: Any) -> SweepStudy:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    project = Project(small_graph(), {"dataset": "digits", "epochs": epochs, "seed": 0,
                                      "device": "cpu", "val_split": 0.2})
    space = {"parameters": parameters or GRID, "search": search, **rest}
    return create_or_open(_storage(tmp_path), name, project, space, tmp_path / "runs")


def _storage(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def _states(study: optuna.Study) -> list[TrialState]:
    return [t.state for t in study.get_trials()]


@pytest.fixture
def sigterm_kept() -> Iterator[None]:
    """Restores SIGTERM's handler after a test that runs a worker in this process."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


# -- search methods and the trial budget -------------------------------------------------------
def test_random_search_draws_in_range_and_repeats_with_its_seed(tmp_path: Path) -> None:
    parameters = {"lr": {"low": 1e-4, "high": 0.1, "log": True},
                  "c1.out_channels": {"low": 2, "high": 16, "step": 2}}
    search = {"method": "random", "trials": 3, "seed": 5}
    first = _sweep(tmp_path, search, parameters, name="a")
    assert Worker(first).run() == 3
    drawn = [t.params for t in first.study.get_trials()]
    assert _states(first.study) == [TrialState.COMPLETE] * 3
    assert all(1e-4 <= p["lr"] <= 0.1 for p in drawn)
    assert all(p["c1.out_channels"] in range(2, 17, 2) for p in drawn)
    assert len({p["lr"] for p in drawn}) == 3
    widths = {t.params["c1.out_channels"]: t.user_attrs["metrics"]["params"]
              for t in first.study.get_trials()}
    assert sorted(widths.values()) == [widths[w] for w in sorted(widths)]  # wider: more
    again = _sweep(tmp_path, search, parameters, name="b")
    Worker(again).run(2)
    assert [t.params for t in again.study.get_trials()] == drawn[:2]


@pytest.mark.parametrize("method", ["grid", "random", "tpe"])
def test_every_method_stops_at_the_budget_of_started_trials(tmp_path: Path,
                                                            method: str) -> None:
    sweep = _sweep(tmp_path, {"method": method, "trials": 3})
    assert Worker(sweep).run() == 3  # no share of its own: the study's budget stops it
    study = sweep.study
    assert started_trials(study) == 3
    waiting = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert len(waiting) == (3 if method == "grid" else 0)  # queued grid points: not started
    assert plan_launch(sweep, _storage(tmp_path), 2).counts == ()
    assert Worker(load_sweep(_storage(tmp_path), "s", worker=1)).run() == 0
    assert started_trials(study) == 3


@pytest.mark.slow
@pytest.mark.parametrize("method", ["grid", "random", "tpe"])
def test_two_worker_processes_share_the_budget(tmp_path: Path, method: str) -> None:
    sweep = _sweep(tmp_path, {"method": method, "trials": 3})
    runner = SweepRunner(plan_launch(sweep, _storage(tmp_path), 2), log_dir=tmp_path / "logs")
    runner.start()
    runner.wait(0.1)
    trials = [t for t in sweep.study.get_trials() if t.state != TrialState.WAITING]
    logs = "\n".join(f.read_text() for f in sorted((tmp_path / "logs").iterdir()))
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3, logs
    assert len({t.user_attrs["worker_pid"] for t in trials}) == 2
    if method == "grid":  # each queued point taken by one worker only
        assert len({tuple(sorted(t.params.items())) for t in trials}) == 3


# -- the time budget ------------------------------------------------------------------------
@pytest.mark.timeout(120)
@pytest.mark.usefixtures("sigterm_kept")
def test_no_trial_starts_after_the_time_budget(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, {"method": "tpe", "timeout_s": 2.0},
                   {"lr": {"low": 1e-3, "high": 0.05, "log": True}})
    plan = plan_launch(sweep, _storage(tmp_path), 1)
    assert plan.counts == (None,)  # no trial budget: the time budget ends the workers
    assert run_worker(_storage(tmp_path), "s") == EXIT_OK
    launched = float(sweep.study.user_attrs["started"])
    starts = [t.datetime_start.timestamp() for t in sweep.study.get_trials()
              if t.datetime_start is not None]
    # The worker decides before Optuna creates the trial and stamps its start: allow the
    # few milliseconds between the two (seen: 10 ms on a loaded machine), not a trial.
    assert starts and all(start < launched + 2.0 + 0.2 for start in starts)
    assert not any(t.state == TrialState.RUNNING for t in sweep.study.get_trials())


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("sigterm_kept")
def test_a_resumed_sweep_gets_its_time_budget_again(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, {"method": "random", "timeout_s": 1.0},
                   {"lr": {"low": 1e-3, "high": 0.05, "log": True}})
    sweep.study.set_user_attr("started", time.time() - 3600)  # launched an hour ago
    assert run_worker(_storage(tmp_path), "s") == EXIT_OK
    assert sweep.study.get_trials() == []
    plan_launch(sweep, _storage(tmp_path), 1)  # Start pressed again
    assert run_worker(_storage(tmp_path), "s") == EXIT_OK
    assert started_trials(sweep.study) >= 1


def test_a_worker_timeout_and_the_space_budget_end_it_whichever_is_first(
        tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, {"method": "random", "timeout_s": 60.0})
    launched = time.time() - 3600
    sweep.study.set_user_attr("started", launched)
    opened = load_sweep(_storage(tmp_path), "s")
    assert time_budget_end(opened, 600.0) == launched + 60.0
    before = time.time()
    unlimited = _sweep(tmp_path, {"method": "random"}, name="u")
    end = time_budget_end(unlimited, 30.0)
    assert end is not None and before + 30.0 <= end <= time.time() + 30.0
    assert time_budget_end(unlimited) is None


def test_the_command_lines_timeout_is_the_sweeps_time_budget(
        project_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = write_space(project_file.parent, {
        "parameters": {"lr": {"low": 1e-3, "high": 0.05, "log": True}},
        "search": {"method": "random"}})
    code = main(["sweep", str(project_file), "--space", str(space), "--timeout", "0.001"])
    assert code == 1 and "no trial completed" in capsys.readouterr().out
    study = optuna.load_study(study_name="space", storage=default_storage(project_file))
    assert study.get_trials() == []  # the budget ended before a worker could take one
    assert study.user_attrs["space"]["search"]["timeout_s"] == 0.001


# -- pruning ---------------------------------------------------------------------------------
def test_the_hyperband_pruner_stops_a_poor_trial_at_its_first_rung(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, {"method": "grid"}, {"lr": {"values": [0.01, 1e-7]}},
                   epochs=3, pruner={"kind": "hyperband", "warmup_epochs": 1})
    assert isinstance(sweep.study.pruner, optuna.pruners.HyperbandPruner)
    Worker(sweep).run()
    rows = {row.params["lr"]: row for row in map(trial_row, sweep.study.get_trials())}
    assert rows[0.01].state == "complete" and len(rows[0.01].curve) == 3
    assert rows[1e-7].state == "pruned" and len(rows[1e-7].curve) == 1
    assert rows[1e-7].reason == "pruned after epoch 1"
    assert rows[1e-7].project_file is None


def test_pruned_trials_rank_below_completed_ones() -> None:
    def row(number: int, state: str, value: float | None) -> TrialRow:
        values = (value,) if value is not None else None
        return TrialRow(number, state, {}, values, {}, "", [], None, None)

    rows = [row(0, "pruned", 0.9), row(1, "complete", 0.5), row(2, "fail", None),
            row(3, "complete", 0.7), row(4, "pruned", 0.95)]
    assert [r.number for r in ranked(rows, ["val_acc"])] == [3, 1, 4, 0, 2]
    assert [r.number for r in ranked(rows, ["val_loss"])] == [1, 3, 0, 4, 2]


def _claim(url: str, asks: int, claimed: Any) -> None:
    """A process asking ``asks`` times for a trial of study ``r`` (queued ones first)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="r", storage=open_storage(url))
    claimed.put([study.ask()._trial_id for _ in range(asks)])


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_processes_asking_at_once_never_claim_one_queued_trial_twice(tmp_path: Path) -> None:
    """SQLite has no row locks: before each transaction took the write lock at its start,
    three processes asking together claimed 6-9 of 60 queued trials twice."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    study = optuna.create_study(study_name="r", storage=open_storage(url))
    for x in range(60):
        study.enqueue_trial({"x": x})
    context = multiprocessing.get_context("spawn")
    claimed = context.Queue()
    processes = [context.Process(target=_claim, args=(url, 20, claimed)) for _ in range(3)]
    for process in processes:
        process.start()
    ids = [trial_id for _ in processes for trial_id in claimed.get(timeout=120)]
    for process in processes:
        process.join()
    assert len(ids) == 60 and len(set(ids)) == 60
    assert _states(study) == [TrialState.RUNNING] * 60


def test_a_trial_another_worker_finished_first_does_not_end_the_worker(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two workers may claim one queued grid point at once; the one that tells second
    (Optuna: "Cannot tell a COMPLETE trial") goes on with the queue instead of dying."""
    sweep = _sweep(tmp_path, {"method": "grid"})
    worker = Worker(sweep)
    objective, raced = worker.runner, []

    def finished_elsewhere_once(trial: optuna.Trial) -> Any:
        if not raced:  # the other worker's tell lands first
            raced.append(trial.number)
            storage = sweep.study._storage
            storage.set_trial_state_values(trial._trial_id, TrialState.COMPLETE, [0.5])
            return 0.25
        return objective(trial)

    worker.runner = finished_elsewhere_once  # type: ignore[assignment]
    assert worker.run() == 5  # five trials of its own; the raced one was the other's
    assert _states(sweep.study) == [TrialState.COMPLETE] * 6
    assert sweep.study.trials[raced[0]].values == [0.5]
    assert "another worker finished this trial first" in capsys.readouterr().err
