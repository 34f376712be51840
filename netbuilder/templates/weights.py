"""Pretrained torchvision weights for templates, and transfer learning in one command.

Where the weights come from, in order (:func:`resolve_weights_file`):

1. a file the user gives: a ``state_dict`` saved with ``torch.save`` (torchvision's
   ``.pth`` files, or a dict holding one under ``"state_dict"`` or ``"model"``), read with
   ``weights_only=True`` — nothing in it is executed;
2. torchvision's file in the user's torch hub cache (``~/.cache/torch/hub/checkpoints``),
   where torchvision keeps what it downloaded;
3. a download through torchvision's weights API, only when asked (``download=True``).

The weights are renamed to the template's keys by :mod:`netbuilder.templates.mapping`
and checked against the template, node by node, before anything changes.

Two ways to use them:

* :func:`load_weights` copies them into an already compiled template (the CLI, scripts,
  tests);
* :func:`init_from_weights` returns an undoable :class:`~netbuilder.core.commands.Macro`
  that records, on every layer with weights, the ``"checkpoint"`` initialisation
  ``{"scheme": "checkpoint", "file": …, "key": …}``, so the weights are loaded whenever
  the graph is compiled and the project file remembers where they come from (see
  :mod:`netbuilder.core.inits`).

:func:`transfer_learning` is the recipe of Zeiler & Fergus (§5.2 of their paper): keep
the pretrained layers fixed and train only a fresh classifier for the new classes. It
freezes every layer with weights except the head, gives the head ``num_classes`` outputs
and fresh weights, all as one undoable command.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import Tensor, nn

from netbuilder.compiler import compile_graph
from netbuilder.core.analysis import Analysis, analyze
from netbuilder.core.commands import Command, Macro, SetAttribute, SetParams
from netbuilder.core.errors import GraphError, NetBuilderError
from netbuilder.core.graph import Graph, Node
from netbuilder.core.inits import checkpoint_init, is_checkpoint_init
from netbuilder.core.spec import GROUP, GROUP_INPUT, OUTPUT
from netbuilder.templates._api import get_template_info
from netbuilder.templates.mapping import KeyMapping, normalize_checkpoint, torchvision_mapping

#: Parameters giving a head's number of outputs, by preference.
_OUTPUT_PARAMS = ("out_features", "out_channels")


class WeightsError(NetBuilderError):
    """Weights that cannot be found, read, or fitted to the template."""


# -- finding and reading --------------------------------------------------------------------
def _torchvision_name(template: str) -> str:
    info = get_template_info(template)
    if info.torchvision is None:
        raise WeightsError(f"template {info.name!r} has no torchvision weights")
    return info.torchvision


def _default_weights(template: str) -> Any:
    from torchvision.models import get_model_weights

    return get_model_weights(_torchvision_name(template)).DEFAULT


def cache_path(template: str) -> Path:
    """Where torchvision keeps the default weights of ``template`` once downloaded."""
    filename = Path(urlparse(_default_weights(template).url).path).name
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def find_cached_weights(template: str) -> Path | None:
    """torchvision's weights file for ``template`` in the torch hub cache, if present."""
    path = cache_path(template)
    return path if path.is_file() else None


def resolve_weights_file(template: str, source: str | Path | None = None, *,
                         download: bool = False, progress: bool = False) -> Path:
    """The weights file to use: ``source``, else the hub cache, else a download.

    Raises:
        WeightsError: when ``source`` does not exist, or nothing is cached and
            ``download`` is off or fails.
    """
    if source is not None:
        path = Path(source).expanduser()
        if not path.is_file():
            raise WeightsError(f"no weights file at {path}")
        return path
    cached = find_cached_weights(template)
    if cached is not None:
        return cached
    if not download:
        raise WeightsError(f"no {template} weights in the torch hub cache "
                           f"({cache_path(template)}); give a file or allow a download")
    try:
        _default_weights(template).get_state_dict(progress=progress, check_hash=True)
    except Exception as error:  # offline, proxy, hash mismatch...
        raise WeightsError(f"could not download the {template} weights: {error}") from error
    return cache_path(template)


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a ``state_dict`` file, read with ``weights_only=True`` on the CPU.

    The file is memory-mapped where its format allows, so a 500 MB VGG file is not copied
    into memory before the tensors are used.

    Raises:
        WeightsError: when the file cannot be read or holds no ``state_dict``.
    """
    try:
        loaded = _load(path)
    except Exception as error:
        raise WeightsError(f"cannot read weights from {path}: {error}") from error
    for wrapper in ("state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(wrapper), Mapping):
            loaded = loaded[wrapper]
    if not isinstance(loaded, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Tensor) for k, v in loaded.items()):
        raise WeightsError(f"{path} does not hold a state_dict (names → tensors)")
    return dict(loaded)


def _load(path: str | Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # torch's legacy (non-zip) format cannot be memory-mapped
        return torch.load(path, map_location="cpu", weights_only=True)


# -- fitting to the template ------------------------------------------------------------------
def expected_state(graph: Graph) -> dict[str, tuple[int, ...]]:
    """The template's ``state_dict`` keys and shapes (compiled on the meta device: no memory)."""
    with torch.device("meta"):
        module = compile_graph(graph)
    return {key: tuple(value.shape) for key, value in module.state_dict().items()}


def template_state_dict(graph: Graph, template: str,
                        state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """torchvision weights renamed to ``graph``'s keys, checked key by key and shape by shape.

    Args:
        graph: The template's graph (possibly edited, as long as it still fits).
        template: The template it was built from.
        state: A torchvision ``state_dict`` (or one already in the template's keys).

    Raises:
        WeightsError: naming the missing, unexpected or mis-shaped entries.
    """
    mapping = torchvision_mapping(graph, template)
    renamed = mapping.to_template_state(normalize_checkpoint(template, state))
    expected = expected_state(graph)
    for key in expected:
        if key.endswith(".num_batches_tracked") and key not in renamed:
            renamed[key] = torch.tensor(0)  # files older than torch 0.4.1 lack the counter
    check_fits(expected, renamed, mapping)
    return renamed


def check_fits(expected: Mapping[str, tuple[int, ...]], state: Mapping[str, Tensor],
               mapping: KeyMapping) -> None:
    """Raise unless ``state`` has exactly the ``expected`` keys with their shapes.

    Raises:
        WeightsError: listing up to five problems, in the template's key names.
    """
    problems = [f"{key}: missing from the weights" for key in expected if key not in state]
    problems += [f"{mapping.to_torchvision(key)}: not in the template"
                 for key in state if key not in expected]
    for key, shape in expected.items():
        if key in state and tuple(state[key].shape) != shape:
            problems.append(f"{key}: the weights are {_fmt(state[key].shape)}, the template "
                            f"needs {_fmt(shape)}")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise WeightsError(f"the {mapping.template} weights do not fit this graph: "
                           + "; ".join(problems[:5]) + more)


def _fmt(shape: tuple[int, ...] | torch.Size) -> str:
    return "×".join(str(d) for d in shape) or "a scalar"


def load_weights(module: nn.Module, graph: Graph, template: str,
                 source: str | Path | Mapping[str, Tensor] | None = None, *,
                 download: bool = False) -> None:
    """Copy torchvision weights into ``module``, the compiled ``graph``.

    A module compiled on the meta device (``with torch.device("meta")``) takes the
    tensors themselves instead of copies: a large network is then never initialised
    randomly only to be overwritten.

    Args:
        module: ``compile_graph(graph)``.
        graph: The template's graph.
        template: The template it was built from.
        source: A weights file, a ``state_dict``, or ``None`` for the hub cache.
        download: Download the weights when they are not cached.

    Raises:
        WeightsError: when the weights cannot be found or do not fit.
    """
    if not isinstance(source, Mapping):
        source = read_state_dict(resolve_weights_file(template, source, download=download))
    state = template_state_dict(graph, template, source)
    meta = any(t.is_meta for t in (*module.parameters(), *module.buffers()))
    module.load_state_dict(state, assign=meta)


# -- as commands -------------------------------------------------------------------------------
def init_from_weights(graph: Graph, template: str, source: str | Path | None = None, *,
                      download: bool = False) -> Macro:
    """The undoable command initialising every layer of ``graph`` from torchvision weights.

    Each block node with weights gets the init ``{"scheme": "checkpoint", "file": …,
    "key": …}`` pointing at its entries in the weights file. The weights are checked
    against the graph first; nothing changes when they do not fit.

    Raises:
        WeightsError: when the weights cannot be found or do not fit.
    """
    path = resolve_weights_file(template, source, download=download).resolve()
    raw = read_state_dict(path)
    template_state_dict(graph, template, raw)
    raw_keys = _raw_keys(template, raw)
    mapping = torchvision_mapping(graph, template)
    with torch.device("meta"):
        module = compile_graph(graph)
    children: list[Command] = []
    for node_id, qualified in module.node_modules().items():
        level, node = graph.find(node_id)
        names = list(module.get_submodule(qualified).state_dict())
        if node.body is not None or not names:
            continue
        first = f"{qualified}.{names[0]}"
        full = raw_keys.get(mapping.to_torchvision(first), first)
        key = full.removesuffix(f".{names[0]}")
        init = checkpoint_init(path, key)
        if node.init != init:
            children.append(SetAttribute(level, node_id, "init", init))
    return Macro(f"Initialise from {path.name}", children)


def _raw_keys(template: str, raw: Mapping[str, Tensor]) -> dict[str, str]:
    """torchvision key (after torchvision's fixes) → key in the file."""
    out: dict[str, str] = {}
    for key in raw:
        fixed = next(iter(normalize_checkpoint(template, {key: None})), None)
        if fixed is not None:
            out[fixed] = key
    return out


def head_node(graph: Graph, analysis: Analysis | None = None) -> tuple[Graph, Node]:
    """The classifier head: the last layer with weights before the output.

    Walks back from the first ``output`` node through layers without weights (flatten,
    pooling, activations, dropout), entering plain groups (``classifier``) but not
    composite blocks (a NiN block is itself the head).

    Returns:
        The graph level holding the head, and the head node.

    Raises:
        GraphError: when no such layer is found on a single path from the output.
    """
    analysis = analysis if analysis is not None else analyze(graph)
    outputs = [n for n in graph.nodes.values() if n.type == OUTPUT]
    if not outputs:
        raise GraphError("the graph has no output node")
    level, node = graph, outputs[0]
    while True:
        edges = level.in_edges(node.id)
        if len(edges) != 1:
            raise GraphError(f"{node.name}: no single layer with weights feeds the output",
                             (node.id,))
        port, node = edges[0].source_port, level.nodes[edges[0].source]
        info = analysis.nodes.get(node.id)
        if node.type == GROUP_INPUT or info is None:
            raise GraphError("no layer with weights feeds the output", (node.id,))
        if info.params == 0:
            continue
        if node.type != GROUP:
            return level, node
        assert node.body is not None
        level, node = node.body, node.body.by_name(port)


def transfer_learning(graph: Graph, num_classes: int, *,
                      analysis: Analysis | None = None) -> Macro:
    """The undoable command freezing every layer but a fresh head with ``num_classes`` outputs.

    Layers with weights beside the path to the head are frozen (a group as a whole), the
    groups on the path and the head are unfrozen, and the head gets ``num_classes``
    outputs and its default initialisation (a ``checkpoint`` init is dropped), so it
    starts from fresh random weights.

    Raises:
        GraphError: when the graph has no head, or the head's outputs cannot be set.
    """
    analysis = analysis if analysis is not None else analyze(graph)
    level, head = head_node(graph, analysis)
    path = _path_to(level, head)
    on_path = {node.id for _, node in path}
    children: list[Command] = []
    for lvl, node in path:
        children += [SetAttribute(lvl, other.id, "frozen", True)
                     for other in lvl.nodes.values()
                     if other.id not in on_path and not other.frozen
                     and analysis.nodes.get(other.id) is not None
                     and analysis.nodes[other.id].params > 0]
        if node.frozen:
            children.append(SetAttribute(lvl, node.id, "frozen", False))
    children += _fresh_head(level, head, num_classes)
    return Macro(f"Transfer learning: train {head.name} for {num_classes} classes", children)


def _path_to(level: Graph, node: Node) -> list[tuple[Graph, Node]]:
    """``(graph, node)`` pairs from the root group down to ``node``."""
    path = [(level, node)]
    while level.owner is not None and level.parent is not None:
        path.append((level.parent, level.owner))
        level = level.parent
    return path[::-1]


def _fresh_head(level: Graph, head: Node, num_classes: int) -> list[Command]:
    spec = level.spec(head)
    names = [n for n in _OUTPUT_PARAMS if n in {p.name for p in spec.params}]
    if not names:
        raise GraphError(f"{head.name}: a {head.type} has no number of outputs to set",
                         (head.id,))
    children: list[Command] = []
    if is_checkpoint_init(head.init):
        children.append(SetAttribute(level, head.id, "init", None))
    if head.resolved[names[0]] != num_classes:
        # A composite head gets a new body, without any init of the old one.
        return [*children, SetParams(level, head.id, {names[0]: num_classes})]
    if head.body is not None:
        children += [SetAttribute(lvl, node.id, "init", None)
                     for lvl, node in head.body.walk() if is_checkpoint_init(node.init)]
    return children
