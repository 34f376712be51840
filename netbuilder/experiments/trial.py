"""One trial: draw values, build the variant, train it, report to the study. No Qt.

Runs in a worker process (:mod:`netbuilder.experiments.worker`). Every epoch's metrics go
to the trial's ``curve`` attribute (the panel draws it live) and, for a single objective,
to Optuna's pruner. A trial that cannot run — the variant no longer analyses, a non-finite
loss, out of memory, a stop — is recorded as failed with its reason in the
``fail_reason`` attribute; the sweep goes on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
import torch

from netbuilder.core.analysis import analyze
from netbuilder.core.errors import NetBuilderError
from netbuilder.core.graph import Graph
from netbuilder.core.serialize import Project, save
from netbuilder.experiments.space import Dimension, Space, apply_to_graph, training_settings
from netbuilder.experiments.study import FAIL_REASON, SweepStudy
from netbuilder.training.callbacks import Callback, EpochEnd
from netbuilder.training.config import TrainConfig
from netbuilder.training.trainer import Trainer


class TrialFailed(Exception):
    """A trial that could not give a result; the message says why."""


def suggest(trial: optuna.Trial, dimensions: tuple[Dimension, ...]) -> dict[str, Any]:
    """Draw every dimension's value for ``trial``."""
    values: dict[str, Any] = {}
    for dim in dimensions:
        if dim.values is not None:
            values[dim.key] = trial.suggest_categorical(dim.key, list(dim.values))
        elif dim.is_int:
            assert dim.low is not None and dim.high is not None
            values[dim.key] = trial.suggest_int(dim.key, int(dim.low), int(dim.high),
                                                step=int(dim.step or 1), log=dim.log)
        else:
            assert dim.low is not None and dim.high is not None
            values[dim.key] = trial.suggest_float(dim.key, float(dim.low), float(dim.high),
                                                  step=dim.step, log=dim.log)
    return values


class TrialReporter(Callback):
    """Sends each epoch to the trial: its curve, and the pruner's intermediate value."""

    def __init__(self, trial: optuna.Trial, metric: str, prune: bool) -> None:
        self.trial, self.metric, self.prune = trial, metric, prune
        self.curve: list[dict[str, Any]] = []
        self.pruned_at: int | None = None

    def on_epoch_end(self, trainer: Trainer, epoch: EpochEnd) -> None:
        self.curve.append(epoch.as_json())
        self.trial.set_user_attr("curve", self.curve)
        value = getattr(epoch, self.metric, None)
        if not self.prune or value is None or not math.isfinite(value):
            return
        self.trial.report(value, epoch.epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch.epoch
            trainer.stop()


class TrialRunner:
    """The objective Optuna calls in a worker: one trial of a sweep.

    Attributes:
        sweep: The opened study.
        current: The trainer of the trial under way (so a stop request reaches it).
    """

    def __init__(self, sweep: SweepStudy, on_trainer: Callable[[Trainer | None], None]
                 | None = None) -> None:
        self.sweep = sweep
        self.current: Trainer | None = None
        self._on_trainer = on_trainer

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        """Run ``trial``; its objective values.

        Raises:
            TrialFailed: when the trial cannot give a result (the reason is recorded).
            optuna.TrialPruned: when the pruner stopped it.
        """
        trial.set_user_attr("worker_pid", os.getpid())
        try:
            return self._run(trial)
        except TrialFailed as exc:
            trial.set_user_attr(FAIL_REASON, str(exc))
            raise

    def _run(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        space = self.sweep.space
        values = suggest(trial, space.dimensions)
        graph, config = self._variant(values)
        analysis = analyze(graph)
        if not analysis.ok:
            raise TrialFailed(f"the graph no longer analyses: {analysis.errors[0].message}")
        metrics: dict[str, Any] = {"params": analysis.total_params,
                                   "macs": analysis.total_macs}
        trial.set_user_attr("metrics", metrics)
        reporter = TrialReporter(trial, space.objectives[0],
                                 prune=len(space.objectives) == 1 and space.pruner != "none")
        trainer = self._train(graph, config, reporter)
        metrics.update(_last_metrics(reporter.curve))
        trial.set_user_attr("metrics", metrics)
        if reporter.pruned_at is not None:
            trial.set_user_attr(FAIL_REASON, f"pruned after epoch {reporter.pruned_at}")
            raise optuna.TrialPruned(f"pruned after epoch {reporter.pruned_at}")
        trial.set_user_attr("project_file", str(self._save(trial.number, graph, config,
                                                           trainer)))
        return _objective_values(space, metrics)

    def _variant(self, values: Mapping[str, Any]) -> tuple[Graph, TrainConfig]:
        space = self.sweep.space
        try:
            graph = apply_to_graph(self.sweep.project.graph.copy(), values, space.dimensions)
            return graph, training_settings(space, values).updated(device=_device(space))
        except NetBuilderError as exc:
            raise TrialFailed(str(exc)) from None

    def _train(self, graph: Graph, config: TrainConfig, reporter: TrialReporter) -> Trainer:
        trainer = Trainer(graph, config, [reporter], pause_on_fault=False)
        self._set_current(trainer)
        try:
            result = trainer.fit()
        except NetBuilderError as exc:
            raise TrialFailed(str(exc)) from None
        except Exception as exc:  # any error ends this trial, not the sweep
            raise TrialFailed(f"{type(exc).__name__}: {exc}") from None
        finally:
            self._set_current(None)
        if result.status == "stopped" and reporter.pruned_at is None:
            raise TrialFailed("stopped before it finished (the sweep was stopped)")
        if result.status == "fault":
            raise TrialFailed(result.message)
        return trainer

    def _set_current(self, trainer: Trainer | None) -> None:
        self.current = trainer
        if self._on_trainer is not None:
            self._on_trainer(trainer)

    def _save(self, number: int, graph: Graph, config: TrainConfig, trainer: Trainer) -> Path:
        """Write the trained variant: ``trial-N.pt`` weights and ``trial-N.nbproj``."""
        from netbuilder.compiler.importer import attach_checkpoint

        folder = self.sweep.artifacts / self.sweep.study.study_name
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / f"trial-{number:04d}.pt"
        state = {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()}
        torch.save(state, weights)
        variant = graph.copy()
        attach_checkpoint(variant, weights)
        meta = dict(self.sweep.project.meta)
        meta["title"] = f"{meta.get('title', 'Sweep')} — trial {number}"
        project_file = folder / f"trial-{number:04d}.nbproj"
        save(Project(variant, config.to_dict(compact=True), meta), project_file)
        return project_file


def _device(space: Space) -> str:
    """The trial's device: the space's own, else CUDA when this worker has a GPU."""
    device = space.training.get("device")
    if isinstance(device, str) and device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _last_metrics(curve: list[dict[str, Any]]) -> dict[str, Any]:
    if not curve:
        return {}
    last = curve[-1]
    return {key: last.get(key) for key in ("train_loss", "train_acc", "val_loss", "val_acc")}


def _objective_values(space: Space, metrics: Mapping[str, Any]) -> float | tuple[float, ...]:
    values = []
    for name in space.objectives:
        value = metrics.get(name)
        if value is None or not math.isfinite(float(value)):
            raise TrialFailed(f"no finite {name} to report (does the data set have a "
                              f"validation split?)")
        values.append(float(value))
    return values[0] if len(values) == 1 else tuple(values)
