"""Trials run in this process (a worker's loop): results, failures with reasons, pruning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from netbuilder.core.serialize import Project, load
from netbuilder.experiments.study import FAIL_REASON, create_or_open, trial_row
from netbuilder.experiments.worker import Worker
from tests.experiments.conftest import small_graph


def _sweep(tmp_path: Path, parameters: dict[str, Any], epochs: int = 1,
           **rest: Any) -> Worker:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    project = Project(small_graph(), {"dataset": "digits", "epochs": epochs, "seed": 0,
                                      "device": "cpu"})
    space = {"parameters": parameters, "search": {"method": "grid"}, **rest}
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    return Worker(create_or_open(storage, "s", project, space, tmp_path / "runs"))


def test_a_variant_that_no_longer_analyses_fails_with_its_reason(tmp_path: Path) -> None:
    worker = _sweep(tmp_path, {"s2.kernel_size": {"values": [2, 16]}})
    assert worker.run(2) == 2
    rows = {row.params["s2.kernel_size"]: row
            for row in map(trial_row, worker.sweep.study.get_trials())}
    assert rows[2].state == "complete" and rows[2].values is not None
    assert rows[16].state == "fail"
    assert "no longer analyses" in rows[16].reason


def test_a_non_finite_loss_fails_the_trial_and_the_next_one_runs(tmp_path: Path) -> None:
    worker = _sweep(tmp_path, {"lr": {"values": [100.0, 0.01]}},
                    training={"optimizer": "sgd", "momentum": 0.0})
    worker.run(2)
    trials = {t.params["lr"]: t for t in worker.sweep.study.get_trials()}
    assert trials[100.0].state == TrialState.FAIL
    assert "loss" in trials[100.0].user_attrs[FAIL_REASON].lower()
    assert trials[0.01].state == TrialState.COMPLETE


def test_a_completed_trial_opens_as_a_project_with_its_weights(tmp_path: Path) -> None:
    worker = _sweep(tmp_path, {"c1.out_channels": {"values": [4]}})
    worker.run(1)
    row = trial_row(worker.sweep.study.get_trials()[0])
    assert row.project_file is not None and len(row.curve) == 1
    variant = load(row.project_file)
    c1 = next(n for n in variant.graph.nodes.values() if n.name == "c1")
    assert c1.params["out_channels"] == 4
    assert c1.init is not None and Path(c1.init["file"]).is_file()
    assert row.metrics["params"] < 1386


def test_two_objectives_give_a_pareto_front(tmp_path: Path) -> None:
    worker = _sweep(tmp_path, {"c1.out_channels": {"values": [2, 16]}},
                    objectives=["val_acc", "params"])
    worker.run(2)
    study = worker.sweep.study
    assert len(study.directions) == 2
    assert {t.number for t in study.best_trials} <= {0, 1}
    assert all(len(t.values) == 2 for t in study.get_trials())


def test_the_median_pruner_stops_a_poor_trial(tmp_path: Path) -> None:
    worker = _sweep(tmp_path, {"lr": {"values": [0.01, 0.003, 1e-7]}}, epochs=3,
                    pruner={"kind": "median", "warmup_epochs": 0})
    worker.run(3)
    rows = {row.params["lr"]: row for row in map(trial_row, worker.sweep.study.get_trials())}
    assert rows[0.01].state == rows[0.003].state == "complete"  # the pruner's first two
    assert rows[1e-7].state == "pruned" and rows[1e-7].reason == "pruned after epoch 1"
