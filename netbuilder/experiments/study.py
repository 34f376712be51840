"""The Optuna study a sweep lives in: storage, creation, samplers, pruners, results.

The study holds everything a worker needs — the project (as JSON), the space and where
trial artefacts go — in its user attributes, so ``netbuilder sweep worker --storage URL
--study NAME`` on another machine needs nothing else. No torch, no Qt.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from netbuilder.core.errors import NetBuilderError
from netbuilder.core.serialize import Project, graph_from_dict, graph_to_dict
from netbuilder.experiments.space import Space, parse_space

#: Seconds between heartbeats of a running trial (a trial whose heartbeat stops for
#: :data:`GRACE_S` is failed by the next worker that looks).
HEARTBEAT_S = 5
GRACE_S = 30
#: Seconds a connection waits: for SQLite's write lock (workers busy on a loaded machine
#: take turns, they do not fail), for a database server to answer (then it is unreachable).
SQLITE_BUSY_S = 60
CONNECT_TIMEOUT_S = 10
#: User attribute holding why a trial failed.
FAIL_REASON = "fail_reason"


class StudyError(NetBuilderError):
    """A study that cannot be opened, created or continued."""


def default_storage(project_file: Path) -> str:
    """The SQLite file beside a project: ``NAME.sweeps.db`` in the project's folder."""
    path = project_file.absolute().with_name(f"{project_file.stem}.sweeps.db")
    return f"sqlite:///{path}"


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """Connect to an Optuna storage URL, with heartbeats so dead workers' trials fail.

    Raises:
        StudyError: when the storage cannot be reached (one line, no traceback).
    """
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(url, engine_kwargs=_engine_options(url),
                                                 heartbeat_interval=HEARTBEAT_S,
                                                 grace_period=GRACE_S)
        if storage.engine.dialect.name == "sqlite":
            _lock_on_begin(storage.engine)
        return storage
    except Exception as exc:  # SQLAlchemy raises many kinds, all meaning "unreachable"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, ImportError) and exc.__cause__ is not None:  # the driver's name
            reason = f"{reason} ({exc.__cause__})"
        raise StudyError(f"cannot reach the storage {shown_url(url)}: {reason}") from None


def _lock_on_begin(engine: sqlalchemy.engine.Engine) -> None:
    """Make each transaction on a SQLite storage take the database's write lock first.

    Optuna claims a queued trial by reading it (``WAITING``?) and writing it ``RUNNING``
    in one transaction, locking the row for update. SQLite has no row locks, and Python's
    driver begins a transaction only at the first write, so the read ran outside it: two
    workers asking at once both read ``WAITING`` and both ran the same grid point (seen:
    9 of 60 queued trials claimed twice by three processes asking together). SQLAlchemy's
    recipe for pysqlite: the driver begins nothing itself and each transaction starts
    with ``BEGIN IMMEDIATE``, so the read and the write are one turn at the lock (others
    wait, up to :data:`SQLITE_BUSY_S`).
    """
    @sqlalchemy.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin(connection: sqlalchemy.engine.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before (checking the schema) reopen with both


def shown_url(url: str) -> str:
    """``url`` as messages show it: a password in it replaced by ``***``."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can read: nothing in it to hide
        return url


def missing_study(backend: optuna.storages.BaseStorage, name: str, url: str) -> str:
    """The message for a study ``name`` that ``backend`` does not hold (its studies named)."""
    names = sorted(study.study_name for study in backend.get_all_studies())
    there = f"studies there: {', '.join(names)}" if names else "it holds no study"
    return f"no study {name!r} in {shown_url(url)} ({there})"


def _engine_options(url: str) -> dict[str, Any]:
    """SQLAlchemy engine options of a storage URL: how long a connection may wait."""
    dialect = url.split(":", 1)[0].split("+", 1)[0].lower()
    if dialect == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_S}}
    if dialect in ("postgresql", "mysql"):  # libpq, mysqlclient and PyMySQL all take it
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}}
    return {}


def sampler_for(space: Space, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler of a space's search method.

    Args:
        space: The space.
        worker: The worker's index, added to the seed so parallel workers draw
            different values.
    """
    seed = None if space.seed is None else space.seed + worker
    if space.method in ("grid", "random"):  # a grid's points are queued (_enqueue_grid)
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def pruner_for(space: Space) -> optuna.pruners.BasePruner:
    """The pruner of a space (never prunes before ``warmup_epochs`` epochs)."""
    if space.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2,
                                           n_warmup_steps=space.warmup_epochs)
    if space.pruner == "hyperband":
        epochs = int(space.training.get("epochs", 10))
        return optuna.pruners.HyperbandPruner(min_resource=max(space.warmup_epochs, 1),
                                              max_resource=epochs)
    return optuna.pruners.NopPruner()


@dataclass
class SweepStudy:
    """An opened study with its project and space.

    Attributes:
        study: The Optuna study.
        project: The project swept (its graph and training settings).
        space: The checked space.
        artifacts: Folder where trials write their weights and variant projects.
    """

    study: optuna.Study
    project: Project
    space: Space
    artifacts: Path


def create_or_open(storage: str, name: str, project: Project, space_data: Mapping[str, Any],
                   artifacts: Path, *, resume: bool = False) -> SweepStudy:
    """Create the study ``name``, or open it when it exists with the same space.

    Raises:
        SpaceError: when the space does not fit the project.
        StudyError: when the storage cannot be reached, or the study exists with a
            different space and ``resume`` is false.
    """
    space = parse_space(space_data, project.graph, project.training)
    backend = open_storage(storage)
    try:
        existing = optuna.load_study(study_name=name, storage=backend)
    except KeyError:
        existing = None
    if existing is not None:
        _check_same(existing, space, name, resume)
    study = optuna.create_study(
        study_name=name, storage=backend, load_if_exists=True, directions=_directions(space),
        sampler=sampler_for(space), pruner=pruner_for(space))
    attrs = {"space": dict(space_data), "fingerprint": space.fingerprint(),
             "project": {"graph": graph_to_dict(project.graph),
                         "training": dict(project.training), "meta": dict(project.meta)},
             "artifacts": str(artifacts.absolute()), "objectives": list(space.objectives)}
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    if space.method == "grid":
        _enqueue_grid(study, space)
    return SweepStudy(study, project, space, artifacts)


def _enqueue_grid(study: optuna.Study, space: Space) -> None:
    """Queue every grid point once, so parallel workers each take a different one.

    Optuna's GridSampler alone may hand the same point to two workers that ask at once
    (and then skip another); a queued trial is claimed by one worker only.
    """
    grid = space.grid()
    for values in itertools.product(*grid.values()):
        study.enqueue_trial(dict(zip(grid, values)), skip_if_exists=True)


def _directions(space: Space) -> list[StudyDirection]:
    return [StudyDirection.MAXIMIZE if d == "maximize" else StudyDirection.MINIMIZE
            for d in space.directions]


def _check_same(study: optuna.Study, space: Space, name: str, resume: bool) -> None:
    if study.user_attrs.get("objectives", list(space.objectives)) != list(space.objectives):
        raise StudyError(f"study {name!r} optimises {study.user_attrs.get('objectives')}; "
                         f"a study cannot change its objectives: choose another --study")
    if study.user_attrs.get("fingerprint") != space.fingerprint() and not resume:
        raise StudyError(f"study {name!r} exists with a different space: pass --resume to "
                         f"go on with this space, or choose another --study")


def load_sweep(storage: str, name: str, artifacts: Path | None = None,
               worker: int = 0) -> SweepStudy:
    """Open an existing study as a worker does (project and space from the study).

    Raises:
        StudyError: when the storage cannot be reached or holds no such sweep.
    """
    backend = open_storage(storage)
    try:
        probe = optuna.load_study(study_name=name, storage=backend)
    except KeyError:
        raise StudyError(missing_study(backend, name, storage)) from None
    attrs = probe.user_attrs
    if "space" not in attrs or "project" not in attrs:
        raise StudyError(f"study {name!r} was not made by netbuilder sweep")
    data = attrs["project"]
    project = Project(graph_from_dict(data["graph"]), dict(data.get("training") or {}),
                      dict(data.get("meta") or {}))
    space = parse_space(attrs["space"], project.graph, project.training)
    study = optuna.load_study(study_name=name, storage=backend,
                              sampler=sampler_for(space, worker),
                              pruner=pruner_for(space))
    return SweepStudy(study, project, space, artifacts or Path(attrs["artifacts"]))


def started_trials(study: optuna.Study) -> int:
    """Trials taken by a worker so far (queued grid points still waiting do not count)."""
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING)


def trial_budget(sweep: SweepStudy) -> int | None:
    """Trials the sweep runs in all: the space's budget, else a grid's size."""
    if sweep.space.trials is not None:
        return sweep.space.trials
    if sweep.space.method == "grid":
        return math.prod(len(values) for values in sweep.space.grid().values())
    return None


# -- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrialRow:
    """One trial as the results table shows it.

    Attributes:
        number: Optuna's trial number.
        state: ``complete``, ``pruned``, ``fail``, ``running`` or ``waiting``.
        params: The values drawn.
        values: The objective values (``None`` unless complete).
        metrics: Last epoch's metrics, parameters and MACs.
        reason: Why a trial failed or was pruned.
        curve: One dict per epoch (``epoch``, ``train_loss``, ``val_loss``, ``val_acc``...).
        project_file: The trained variant's project file (its weights beside it).
        seconds: Wall time of the trial.
    """

    number: int
    state: str
    params: dict[str, Any]
    values: tuple[float, ...] | None
    metrics: dict[str, Any]
    reason: str
    curve: list[dict[str, Any]]
    project_file: str | None
    seconds: float | None


def trial_row(trial: FrozenTrial) -> TrialRow:
    """A finished or running trial as a table row."""
    attrs = trial.user_attrs
    seconds = (trial.duration.total_seconds() if trial.duration is not None else None)
    return TrialRow(
        trial.number, trial.state.name.lower(), dict(trial.params),
        tuple(trial.values) if trial.values is not None else None,
        dict(attrs.get("metrics", {})), str(attrs.get(FAIL_REASON, "")),
        list(attrs.get("curve", [])), attrs.get("project_file"), seconds)


def ranked(rows: list[TrialRow], objectives: list[str]) -> list[TrialRow]:
    """Rows best first by the first objective: completed trials, then pruned ones (by
    their last reported value, which Optuna keeps), then running and failed ones."""
    better_high = bool(objectives) and objectives[0] in ("val_acc", "train_acc")

    def key(row: TrialRow) -> tuple[int, float, int]:
        if row.values is None or not math.isfinite(row.values[0]):
            return 2, 0.0, row.number
        value = row.values[0]
        return 0 if row.state == "complete" else 1, -value if better_high else value, \
            row.number

    return sorted(rows, key=key)


def pareto_numbers(study: optuna.Study) -> set[int]:
    """Numbers of the trials on the Pareto front (the best trial of one objective)."""
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        return set()
    return {t.number for t in study.best_trials}


def fail_trial(storage: optuna.storages.BaseStorage, trial_id: int, reason: str) -> None:
    """Record a running trial as failed with ``reason`` (its worker is gone)."""
    storage.set_trial_user_attr(trial_id, FAIL_REASON, reason)
    storage.set_trial_state_values(trial_id, TrialState.FAIL)


@dataclass(frozen=True)
class Snapshot:
    """What the Experiments panel shows of a study, read in one go (off the GUI thread).

    Attributes:
        rows: Every trial, best first.
        keys: The parameters varied, in the space's order.
        objectives: The metrics optimised.
        pareto: Numbers of the trials on the Pareto front (or the best trial).
        importance: Optuna's parameter importance (empty before two trials complete).
    """

    rows: list[TrialRow]
    keys: list[str]
    objectives: list[str]
    pareto: set[int]
    importance: dict[str, float]


#: What a long-lived reader (the Experiments panel's helper process) keeps between looks:
#: the storages it opened (connecting and checking the schema again each look costs more
#: than the look) and the last importance of each study with the trials it was fitted on
#: (a forest refitted only when a trial completes).
_READER_STORAGES: dict[str, optuna.storages.BaseStorage] = {}
_IMPORTANCE: dict[tuple[str, str], tuple[tuple[int, ...], dict[str, float]]] = {}


def read_snapshot(storage: str, name: str, *, importance: bool = True) -> Snapshot:
    """Read a study's trials (and, with ``importance``, the parameters' importance).

    Raises:
        StudyError: when the storage cannot be reached or holds no such study.
    """
    backend = _READER_STORAGES.get(storage) or open_storage(storage)
    _READER_STORAGES[storage] = backend
    try:
        return _snapshot(backend, storage, name, importance)
    except BaseException:
        _READER_STORAGES.pop(storage, None)  # connect afresh next time
        raise


def _snapshot(backend: optuna.storages.BaseStorage, storage: str, name: str,
              importance: bool) -> Snapshot:
    try:
        study = optuna.load_study(study_name=name, storage=backend)
    except KeyError:
        raise StudyError(missing_study(backend, name, storage)) from None
    objectives = list(study.user_attrs.get("objectives", ["value"]))
    space = study.user_attrs.get("space", {})
    keys = list(space.get("parameters", {})) if isinstance(space, dict) else []
    trials = study.get_trials(deepcopy=False)
    rows = ranked([trial_row(t) for t in trials], objectives)
    scores = _importance_of(study, (storage, name), trials) if importance else {}
    return Snapshot(rows, keys, objectives, pareto_numbers(study), scores)


def _importance_of(study: optuna.Study, key: tuple[str, str],
                   trials: list[FrozenTrial]) -> dict[str, float]:
    """The study's importance, refitted only when its completed trials changed."""
    fitted_on = tuple(t.number for t in trials if t.state == TrialState.COMPLETE)
    cached = _IMPORTANCE.get(key)
    if cached is not None and cached[0] == fitted_on:
        return dict(cached[1])
    scores = _importance(study)
    _IMPORTANCE[key] = (fitted_on, scores)
    return dict(scores)


def _importance(study: optuna.Study) -> dict[str, float]:
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(complete) < 2 or len({tuple(sorted(t.params.items())) for t in complete}) < 2:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = optuna.importance.get_param_importances(
                study, target=lambda t: t.values[0])
    except (RuntimeError, ValueError):  # too few distinct values to tell
        return {}
    return {key: float(value) for key, value in scores.items()}
