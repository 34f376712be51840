"""Sweeps in worker processes sharing one SQLite study, through ``netbuilder sweep``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from netbuilder.cli import main
from netbuilder.core.serialize import Project, load
from netbuilder.experiments.runner import LaunchPlan, SweepRunner, plan_launch, shares
from netbuilder.experiments.study import FAIL_REASON, create_or_open, default_storage
from tests.experiments.conftest import small_graph, write_project, write_space

SENSIBLE, SILLY = 0.01, 1e-6


def _study(project: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=default_storage(project))


def test_six_trials_on_two_workers_rank_a_sensible_rate_first(
        project_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = write_space(project_file.parent, {
        "parameters": {"lr": {"values": [SENSIBLE, SILLY]},
                       "c1.out_channels": {"values": [4, 8, 16]}},
        "search": {"method": "grid", "trials": 6}})
    started = time.perf_counter()
    code = main(["sweep", str(project_file), "--space", str(space), "--jobs", "2"])
    seconds = time.perf_counter() - started
    out = capsys.readouterr().out
    assert code == 0, out
    trials = _study(project_file, "space").get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert len({t.user_attrs["worker_pid"] for t in trials}) == 2
    sensible = [t.value for t in trials if t.params["lr"] == SENSIBLE]
    silly = [t.value for t in trials if t.params["lr"] == SILLY]
    assert min(sensible) > max(silly)  # type: ignore[type-var]
    table = [line.split() for line in out.splitlines()[1:7]]
    assert all(float(row[2]) == SENSIBLE for row in table[:3]), out
    assert "best trial" in out
    print(f"6 trials, 2 workers: {seconds:.1f} s")


def test_a_killed_worker_leaves_its_trial_failed_and_the_others_finish(
        tmp_path: Path) -> None:
    project = load(write_project(tmp_path, epochs=25))
    storage = default_storage(tmp_path / "small.nbproj")
    space = {"parameters": {"c1.out_channels": {"values": [2, 4, 6, 8]}},
             "search": {"method": "grid"}}
    sweep = create_or_open(storage, "kill", project, space, tmp_path / "runs")
    runner = SweepRunner(plan_launch(sweep, storage, 2))
    runner.start()
    victim = _wait_for_a_trial_mid_run(sweep.study)
    os.kill(victim.user_attrs["worker_pid"], signal.SIGKILL)
    runner.wait(0.2)
    trials = {t.number: t for t in sweep.study.get_trials()}
    assert trials[victim.number].state == TrialState.FAIL
    assert "killed (SIGKILL)" in trials[victim.number].user_attrs[FAIL_REASON]
    others = [t for n, t in trials.items() if n != victim.number]
    assert sum(t.state == TrialState.COMPLETE for t in others) == 2
    assert not any(t.state == TrialState.RUNNING for t in others)


def _wait_for_a_trial_mid_run(study: optuna.Study) -> optuna.trial.FrozenTrial:
    """A running trial that has finished an epoch (polled; the test's timeout bounds it)."""
    while True:
        for trial in study.get_trials(states=(TrialState.RUNNING,)):
            if trial.user_attrs.get("curve") and "worker_pid" in trial.user_attrs:
                return trial
        time.sleep(0.05)


def test_trials_are_shared_out_evenly() -> None:
    assert shares(6, 2) == [3, 3]
    assert shares(5, 2) == [3, 2]
    assert shares(1, 4) == [1]


@pytest.mark.skipif(not hasattr(os, "getsid"), reason="POSIX sessions and priorities")
def test_workers_yield_the_cpu_but_not_the_terminal(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker is niced within the editor's session (on Linux a new session is a new
    scheduler autogroup, where its nice value would not count against the editor), in a
    process group of its own (a Ctrl-C in the terminal does not reach it)."""
    sleeper = tmp_path / "python"
    sleeper.write_text("#!/bin/sh\nexec sleep 30\n")
    sleeper.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(sleeper))
    runner = SweepRunner(plan=LaunchPlan("sqlite://", "s", tmp_path, (1,), 0, 1))
    runner.start()
    try:
        pid = runner.workers[0].pid
        assert os.getsid(pid) == os.getsid(0)
        assert os.getpgid(pid) == pid != os.getpgid(0)
        assert os.getpriority(os.PRIO_PROCESS, pid) > os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        runner.workers[0].process.kill()
        runner.workers[0].process.wait()


@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for Python")
@pytest.mark.parametrize(("visible", "expected"), [(None, ["0", "1", "0"]),
                                                   ("5,7", ["5", "7", "5"])])
def test_workers_take_turns_on_the_gpus(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, visible: str | None,
        expected: list[str]) -> None:
    """Three workers on two GPUs: one GPU each, in turn, named as this process sees them
    (CUDA_VISIBLE_DEVICES, where set, maps a worker's device 0 to the right card)."""
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    project = Project(small_graph(), {"dataset": "digits", "device": "auto"})
    storage = default_storage(tmp_path / "small.nbproj")
    sweep = create_or_open(storage, "gpus", project, {
        "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}}, "search": {"method": "grid"}},
        tmp_path / "runs")
    plan = plan_launch(sweep, storage, 3)
    assert plan.devices == tuple(expected[:2])
    teller = tmp_path / "python"
    teller.write_text(f'#!/bin/sh\necho "$CUDA_VISIBLE_DEVICES" > "{tmp_path}/seen-$$"\n')
    teller.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(teller))
    runner = SweepRunner(plan)
    runner.start()
    runner.wait(0.05)
    seen = {w.pid: (tmp_path / f"seen-{w.pid}").read_text().strip() for w in runner.workers}
    assert [seen[w.pid] for w in runner.workers] == expected
    cpu_sweep = create_or_open(storage, "cpu", project, {
        "parameters": {"lr": {"values": [0.1]}}, "training": {"device": "cpu"}},
        tmp_path / "runs")
    assert plan_launch(cpu_sweep, storage, 2).devices == ()  # trials on the CPU


@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for Python")
def test_a_sweep_whose_workers_die_ends_short_with_status_1(
        project_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Workers that die at once leave the grid queued: said after the table, exit 1 (it
    used to exit 0, as if the sweep had run)."""
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(broken))
    space = write_space(project_file.parent, {
        "parameters": {"lr": {"values": [SENSIBLE, SILLY]}}, "search": {"method": "grid"}})
    assert main(["sweep", str(project_file), "--space", str(space), "--jobs", "2"]) == 1
    err = capsys.readouterr().err
    assert "the sweep ended short" in err and "2 queued trial(s) never ran" in err
    assert err.count("exited with status 3") == 2


def test_a_bad_entry_is_refused_before_any_trial(project_file: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    space = write_space(project_file.parent, {"parameters": {"c7.out_channels": {
        "values": [4]}}})
    assert main(["sweep", str(project_file), "--space", str(space)]) == 2
    err = capsys.readouterr().err
    assert "parameters.c7.out_channels" in err and "no node named 'c7'" in err
    assert not project_file.with_name("small.sweeps.db").exists()


def test_an_unreachable_storage_is_one_message(project_file: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    space = write_space(project_file.parent, {"parameters": {"lr": {"values": [0.01]}}})
    url = f"sqlite:///{tmp_path / 'missing' / 'folder' / 'study.db'}"
    assert main(["sweep", str(project_file), "--space", str(space), "--storage", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the storage" in err[0]


def test_a_study_with_another_space_is_refused_unless_resumed(
        project_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = write_space(project_file.parent, {"parameters": {"lr": {"values": [0.01]}},
                                              "search": {"trials": 1}}, "a.json")
    project = load(project_file)
    create_or_open(default_storage(project_file), "s", project,
                   {"parameters": {"lr": {"values": [0.02]}}}, project_file.parent)
    args = ["sweep", str(project_file), "--space", str(first), "--study", "s"]
    assert main(args) == 2
    assert "exists with a different space" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0
    assert [t.params for t in _study(project_file, "s").get_trials()] == [{"lr": 0.01}]
