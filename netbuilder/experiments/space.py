"""The search space of a sweep: what varies, how it is searched, what is optimised.

A space is JSON (documented in ``docs/sweep-space.md``)::

    {"training": {"dataset": "digits", "epochs": 2},
     "parameters": {"lr": {"low": 1e-4, "high": 0.1, "log": true},
                    "c1.out_channels": {"values": [6, 16, 32]},
                    "layer*.0.conv1.out_channels": {"values": [32, 64]},
                    "bn1.enabled": {"values": [true, false]}},
     "search": {"method": "tpe", "trials": 20, "timeout_s": 600, "seed": 0},
     "pruner": {"kind": "median", "warmup_epochs": 1},
     "objectives": ["val_acc", "macs"]}

A parameter whose first dotted part is a training setting (``lr``, ``augment.hflip``) sets
that setting; any other key is ``NODE.PARAM``: ``NODE`` the qualified name of a node
(group names joined by dots, ``*`` and ``?`` matching as in file names), ``PARAM`` one of
its parameters or ``enabled`` (``false`` takes a one-input node out of the network and
wires its input to its consumers). :func:`parse_space` checks every entry against the
project before any trial starts and raises :class:`SpaceError` naming the first bad one.

No torch, no Qt.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netbuilder.core import commands
from netbuilder.core.errors import NetBuilderError
from netbuilder.core.graph import Graph, Node
from netbuilder.training.config import TrainConfig

#: Search methods: every combination, independent random draws, Optuna's TPE.
METHODS = ("grid", "random", "tpe")
#: Pruners of unpromising trials (on the first objective's validation curve).
PRUNERS = ("none", "median", "hyperband")
#: Metric → the direction that is better.
METRICS = {"val_acc": "maximize", "val_loss": "minimize", "train_loss": "minimize",
           "train_acc": "maximize", "params": "minimize", "macs": "minimize"}
#: The pseudo-parameter switching a node on or off.
ENABLED = "enabled"
_TRAINING_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


class SpaceError(NetBuilderError):
    """A search space that cannot be used; the message names the entry."""


@dataclass(frozen=True)
class Dimension:
    """One varied setting.

    Attributes:
        key: The entry's name in the space (``lr``, ``c1.out_channels``).
        values: The choices of a categorical dimension (``None`` for a range).
        low: Lower bound of a range.
        high: Upper bound of a range.
        log: Whether a range is sampled on a log scale.
        step: Step of a range (integers when bounds and step are integers).
        nodes: Ids of the nodes a node entry matched (empty for a training setting).
    """

    key: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    nodes: tuple[str, ...] = ()

    @property
    def is_training(self) -> bool:
        """Whether the dimension sets a training setting."""
        return not self.nodes

    @property
    def is_int(self) -> bool:
        """Whether a range draws integers."""
        bounds = (self.low, self.high, 1 if self.step is None else self.step)
        return all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)

    @property
    def param(self) -> str:
        """The node parameter a node entry sets (its last dotted part)."""
        return self.key.rsplit(".", 1)[-1]

    def extremes(self) -> tuple[Any, ...]:
        """The values to try when checking the entry: every choice, or both bounds."""
        return self.values if self.values is not None else (self.low, self.high)


@dataclass(frozen=True)
class Space:
    """A parsed and checked search space.

    Attributes:
        dimensions: What varies, in the file's order.
        training: Fixed training settings applied before the varied ones.
        method: ``grid``, ``random`` or ``tpe``.
        trials: Budget of trials (``None``: grid size, or until the time budget ends).
        timeout_s: Budget of seconds (``None``: no limit).
        seed: Seed of the sampler.
        pruner: ``none``, ``median`` or ``hyperband``.
        warmup_epochs: Epochs reported before a trial may be pruned.
        objectives: Metrics optimised (two give a Pareto front).
        raw: The JSON the space was read from.
    """

    dimensions: tuple[Dimension, ...]
    training: dict[str, Any] = field(default_factory=dict)
    method: str = "tpe"
    trials: int | None = None
    timeout_s: float | None = None
    seed: int | None = 0
    pruner: str = "none"
    warmup_epochs: int = 1
    objectives: tuple[str, ...] = ("val_acc",)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def directions(self) -> list[str]:
        """Optuna directions, one per objective."""
        return [METRICS[name] for name in self.objectives]

    def fingerprint(self) -> str:
        """A short hash of what defines the study (parameters, fixed settings, objectives)."""
        keys = {k: self.raw.get(k) for k in ("parameters", "training", "objectives")}
        text = json.dumps(keys, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def grid(self) -> dict[str, list[Any]]:
        """The grid of a grid search: each dimension's values."""
        return {d.key: list(_grid_values(d)) for d in self.dimensions}


# -- reading ---------------------------------------------------------------------------------
def parse_space(data: Any, graph: Graph, training: Mapping[str, Any] | None = None) -> Space:
    """Read and check a space against the project it sweeps.

    Args:
        data: The space's JSON data.
        graph: The project's network.
        training: The project's own training settings (the space's ``training`` goes on
            top of them).

    Raises:
        SpaceError: naming the first entry that is malformed, names a node or parameter
            that does not exist, or holds a value the setting or block refuses.
    """
    data = _object(data, "the space")
    _known_keys(data, ("training", "parameters", "search", "pruner", "objectives"), "the space")
    fixed = {**dict(training or {}), **_object(data.get("training", {}), "training")}
    base = _config(fixed, "training")
    entries = _object(data.get("parameters", {}), "parameters")
    if not entries:
        raise SpaceError("parameters: name at least one setting or node parameter to vary")
    dimensions = tuple(_dimension(key, spec, graph, base) for key, spec in entries.items())
    search = _object(data.get("search", {}), "search")
    _known_keys(search, ("method", "trials", "timeout_s", "seed"), "search")
    pruner = _object(data.get("pruner", {}), "pruner")
    _known_keys(pruner, ("kind", "warmup_epochs"), "pruner")
    space = Space(
        dimensions, fixed, method=_choice(search.get("method", "tpe"), METHODS, "search.method"),
        trials=_optional_int(search.get("trials"), "search.trials"),
        timeout_s=_optional_number(search.get("timeout_s"), "search.timeout_s"),
        seed=_optional_int(search.get("seed", 0), "search.seed", low=0),
        pruner=_choice(pruner.get("kind", "none"), PRUNERS, "pruner.kind"),
        warmup_epochs=_optional_int(pruner.get("warmup_epochs", 1), "pruner.warmup_epochs",
                                    low=0) or 0,
        objectives=_objectives(data.get("objectives", ["val_acc"])), raw=dict(data))
    _check_combination(space)
    return space


def _check_combination(space: Space) -> None:
    if space.method == "grid":
        for dim in space.dimensions:
            _grid_values(dim)
    if len(space.objectives) > 1 and space.pruner != "none":
        raise SpaceError("pruner: pruning needs a single objective (Optuna cannot prune a "
                         "multi-objective study)")


def _grid_values(dim: Dimension) -> Sequence[Any]:
    if dim.values is not None:
        return dim.values
    if dim.is_int and dim.step is not None:
        assert dim.low is not None and dim.high is not None
        return tuple(range(int(dim.low), int(dim.high) + 1, int(dim.step)))
    raise SpaceError(f"parameters.{dim.key}: a grid search needs a list of values (or an "
                     f"integer range with a step)")


def _objectives(value: Any) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not 1 <= len(names) <= 2:
        raise SpaceError("objectives: give one metric or a list of two")
    for name in names:
        _choice(name, tuple(METRICS), "objectives")
    if len(set(names)) != len(names):
        raise SpaceError("objectives: the two objectives must differ")
    return tuple(names)


def _dimension(key: str, spec: Any, graph: Graph, base: TrainConfig) -> Dimension:
    where = f"parameters.{key}"
    spec = _object(spec, where)
    _known_keys(spec, ("values", "low", "high", "log", "step"), where)
    dim = _distribution(key, spec, where)
    if key.split(".", 1)[0] in _TRAINING_FIELDS:
        for value in dim.extremes():
            _config_with(base, key, value, where)
        return dim
    dim = dataclasses.replace(dim, nodes=tuple(_matching_nodes(graph, key, where)))
    for value in dim.extremes():
        apply_to_graph(graph.copy(), {key: value}, (dim,))
    return dim


def _distribution(key: str, spec: Mapping[str, Any], where: str) -> Dimension:
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise SpaceError(f"{where}.values: give a non-empty list of values")
        if len(spec) > 1:
            raise SpaceError(f"{where}: give either values or low/high, not both")
        return Dimension(key, values=tuple(values))
    if "low" not in spec or "high" not in spec:
        raise SpaceError(f"{where}: give values (a list) or a range (low and high)")
    low, high = spec["low"], spec["high"]
    step, log = spec.get("step"), spec.get("log", False)
    for name, number in (("low", low), ("high", high), ("step", step)):
        if number is not None and (isinstance(number, bool)
                                   or not isinstance(number, (int, float))):
            raise SpaceError(f"{where}.{name}: must be a number (got {number!r})")
    if not isinstance(log, bool):
        raise SpaceError(f"{where}.log: must be true or false")
    if not low < high:
        raise SpaceError(f"{where}: low must be below high (got {low} and {high})")
    if log and (low <= 0 or step is not None):
        raise SpaceError(f"{where}: a log range needs low > 0 and no step")
    return Dimension(key, low=low, high=high, log=log, step=step)


# -- applying ----------------------------------------------------------------------------------
def qualified_names(graph: Graph, prefix: str = "") -> dict[str, tuple[Graph, Node]]:
    """Every node's qualified name (group names joined by dots) → its graph level and node."""
    names: dict[str, tuple[Graph, Node]] = {}
    for node in graph.nodes.values():
        name = f"{prefix}{node.name}"
        names[name] = (graph, node)
        if node.body is not None:
            names.update(qualified_names(node.body, f"{name}."))
    return names


def _matching_nodes(graph: Graph, key: str, where: str) -> list[str]:
    if "." not in key:
        raise SpaceError(f"{where}: not a training setting, nor NODE.PARAM")
    pattern, param = key.rsplit(".", 1)
    found = [node for name, (_level, node) in qualified_names(graph).items()
             if fnmatch.fnmatchcase(name, pattern)]
    if not found:
        raise SpaceError(f"{where}: no node named {pattern!r} in the network")
    for node in found:
        if param != ENABLED and param not in {p.name for p in graph.spec(node).params}:
            raise SpaceError(f"{where}: node {node.name!r} ({node.type}) has no parameter "
                             f"{param!r}")
    return [node.id for node in found]


def apply_to_graph(graph: Graph, values: Mapping[str, Any],
                   dimensions: Sequence[Dimension]) -> Graph:
    """Set the node entries of ``values`` on ``graph`` (in place) and return it.

    Raises:
        SpaceError: naming the entry a block refuses.
    """
    for dim in dimensions:
        if dim.is_training or dim.key not in values:
            continue
        for node_id in dim.nodes:
            try:
                _set_on_node(graph, node_id, dim.param, values[dim.key])
            except NetBuilderError as exc:
                raise SpaceError(f"parameters.{dim.key} = {values[dim.key]!r}: "
                                 f"{exc}") from None
    return graph


def _set_on_node(graph: Graph, node_id: str, param: str, value: Any) -> None:
    level, node = graph.find(node_id)
    if param != ENABLED:
        commands.SetParams(level, node_id, {param: value}).redo()
        return
    if not isinstance(value, bool):
        raise SpaceError(f"enabled takes true or false (got {value!r})")
    if not value:
        _bypass(level, node)


def _bypass(level: Graph, node: Node) -> None:
    """Take ``node`` out, wiring its one input to everything its output fed."""
    feeding = level.in_edges(node.id)
    if len(feeding) != 1:
        raise SpaceError(f"node {node.name!r} has {len(feeding)} inputs; only a node with "
                         f"one input can be switched off")
    source = feeding[0]
    consumers = [(e.target, e.target_port) for e in level.out_edges(node.id)]
    commands.remove_nodes(level, [node.id]).redo()
    for target, port in consumers:
        commands.connect(level, source.source, target, source.source_port, port).redo()


def training_settings(space: Space, values: Mapping[str, Any]) -> TrainConfig:
    """The trial's training settings: the fixed ones, then the drawn ones.

    Raises:
        SpaceError: naming the entry whose value the settings refuse.
    """
    config = _config(space.training, "training")
    for dim in space.dimensions:
        if dim.is_training and dim.key in values:
            config = _config_with(config, dim.key, values[dim.key], f"parameters.{dim.key}")
    return config


def _config(settings: Mapping[str, Any], where: str) -> TrainConfig:
    try:
        return TrainConfig.from_dict(settings)
    except NetBuilderError as exc:
        raise SpaceError(f"{where}: {exc}") from None


def _config_with(config: TrainConfig, key: str, value: Any, where: str) -> TrainConfig:
    name, _, sub = key.partition(".")
    try:
        if name == "augment" and sub:
            return config.updated(augment={sub: value})
        if sub:
            raise SpaceError(f"{where}: {name} has no part {sub!r}")
        return config.updated(**{name: value})
    except SpaceError:
        raise
    except NetBuilderError as exc:
        raise SpaceError(f"{where} = {value!r}: {exc}") from None


# -- small checks ----------------------------------------------------------------------------
def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SpaceError(f"{where}: must be a JSON object")
    return dict(value)


def _known_keys(data: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    for key in data:
        if key not in known:
            raise SpaceError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")


def _choice(value: Any, choices: Sequence[str], where: str) -> str:
    if value not in choices:
        raise SpaceError(f"{where}: {value!r} is not one of {', '.join(choices)}")
    return str(value)


def _optional_int(value: Any, where: str, low: int = 1) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpaceError(f"{where}: must be an integer ≥ {low} (got {value!r})")
    return value


def _optional_number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SpaceError(f"{where}: must be a positive number (got {value!r})")
    return float(value)
