"""Import of any PyTorch model as an editable graph, with its weights.

:func:`import_module` traces a model with ``torch.fx`` (:mod:`~netbuilder.compiler.fx_import`),
maps every module and call to blocks (:mod:`~netbuilder.compiler.module_map`,
:mod:`~netbuilder.compiler.op_map`), rebuilds the module hierarchy as nested groups
(:mod:`~netbuilder.compiler.import_graph`), lays the graph out and carries the weights
over: the compiled graph's ``state_dict`` has the model's keys (only names a graph
refuses, such as ``_fc``, are changed; :attr:`ImportResult.key_map` says how). Finally it
checks that the compiled graph, holding those weights, computes what the model computes.

What cannot be mapped is never dropped: the import is refused with a
:class:`ModelImportError` listing every module and call at fault, by name and kind::

    aux1: torchvision.models.googlenet.InceptionAux (not used by the traced forward ...)
    features.permute: Tensor.permute (method not supported)

The model is traced in evaluation mode (dropout and batch norm as at inference; branches
taken only in training, such as GoogLeNet's auxiliary heads, are not traced) and put back
in the mode it was in.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, fx, nn

from netbuilder.compiler.attention_import import fold_self_attention
from netbuilder.compiler.build import compile_graph
from netbuilder.compiler.fx_import import (
    Classifier,
    CompositeMatcher,
    ImportTracer,
    Plan,
    Unmapped,
    record_shapes,
    tracing_failure,
)
from netbuilder.compiler.import_graph import GraphBuilder
from netbuilder.compiler.module_map import BlockCall, module_kind, renamed
from netbuilder.compiler.verify import compile_with, difference, same_outputs
from netbuilder.core.analysis import analyze
from netbuilder.core.errors import GraphError, NetBuilderError
from netbuilder.core.fileio import atomic_write
from netbuilder.core.graph import Graph
from netbuilder.core.inits import checkpoint_init
from netbuilder.core.layout import apply_layout
from netbuilder.core.registry import default_registry
from netbuilder.core.serialize import Project, save
from netbuilder.core.spec import INPUT

__all__ = [
    "FactoryError", "ImportResult", "ModelImportError", "Unmapped", "attach_checkpoint",
    "import_factory", "import_model", "import_module", "load_factory",
]

#: Samples in the batch the model is traced and checked with.
SAMPLE_BATCH = 2


class ModelImportError(NetBuilderError):
    """A model that cannot be imported.

    Attributes:
        message: What went wrong; one line per unmapped item.
        unmapped: Every module and call that no block reproduces (may be empty when the
            model itself could not be loaded or run).
    """

    def __init__(self, message: str, unmapped: Sequence[Unmapped] = ()) -> None:
        self.unmapped = list(unmapped)
        if self.unmapped:
            message = f"{message}:\n" + "\n".join(f"  {u}" for u in self.unmapped)
        super().__init__(message)
        self.message = message


class FactoryError(ModelImportError):
    """A factory that cannot be found or called, or that makes no ``torch.nn.Module``."""


@dataclass
class ImportResult:
    """An imported model.

    Attributes:
        graph: The editable graph (groups nested as the model's modules).
        weights: The model's tensors under the compiled graph's ``state_dict`` keys (they
            share storage with the model's); ``compile_graph(graph).load_state_dict(weights)``.
        key_map: Model ``state_dict`` key → graph key (the identity, except where a module
            name had to change).
        name: The model's name (the factory's, or the one given).
        source: ``package.module:factory`` when imported from a factory.
        max_difference: Largest difference between the outputs of the model and of the
            compiled graph on a random batch (None when not checked).
    """

    graph: Graph
    weights: dict[str, Tensor]
    key_map: dict[str, str]
    name: str = "model"
    source: str = ""
    max_difference: float | None = None
    input_shape: tuple[int, ...] = field(default=())

    def project(self, weights_file: str | None = None) -> Project:
        """A project holding the graph, its origin in ``meta`` (and the weights file name)."""
        meta: dict[str, Any] = {"title": self.name, "imported_from": self.source or self.name}
        if weights_file:
            meta["weights"] = weights_file
        return Project(self.graph, meta=meta)

    def write_weights(self, weights_path: str | os.PathLike[str], *,
                      project_folder: str | os.PathLike[str] | None = None) -> Project:
        """Write the weights to a file and return the project whose layers load them.

        What ``netbuilder import`` and the editor's import both write: the weights file
        (a ``torch.save`` d ``state_dict`` of the compiled graph, written atomically), a
        ``checkpoint`` init on every layer with weights reading its entries from that
        file (by absolute path, see :func:`attach_checkpoint`), so the imported weights
        are loaded whenever the graph is compiled, and ``meta["weights"]`` naming the
        file (relative to ``project_folder`` when given, else absolute).

        Raises:
            OSError: when the weights cannot be written (the graph is left unchanged).
        """
        weights = Path(weights_path).resolve()
        atomic_write(weights, lambda stream: torch.save(self.weights, stream))
        attach_checkpoint(self.graph, weights)
        return self.project(_shown_path(weights, project_folder))

    def save(self, path: str | os.PathLike[str],
             weights_path: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
        """Write the weights (``NAME.pt`` beside the project by default) and the project.

        The project is :meth:`write_weights`'s, with ``meta["weights"]`` relative to the
        project's folder.

        Returns:
            The project path and the weights path.
        """
        project_path = Path(path)
        weights = Path(weights_path) if weights_path is not None else \
            project_path.with_suffix(".pt")
        project = self.write_weights(weights, project_folder=project_path.resolve().parent)
        save(project, project_path)
        return project_path, weights


def attach_checkpoint(graph: Graph, weights_file: Path) -> int:
    """Give every layer with weights a ``checkpoint`` init reading them from ``weights_file``.

    The file holds the compiled graph's ``state_dict``, so each layer's key is its
    qualified module name. Meant for a graph no document holds yet (no undo step).

    Returns:
        How many layers were given an init.
    """
    with torch.device("meta"):
        module = compile_graph(graph)
    count = 0
    for node_id, qualified in module.node_modules().items():
        _level, node = graph.find(node_id)
        if node.body is None and module.get_submodule(qualified).state_dict():
            node.init = checkpoint_init(weights_file, qualified)
            count += 1
    return count


def _shown_path(path: Path, folder: str | os.PathLike[str] | None) -> str:
    """``path`` relative to ``folder`` (absolute without one, or on another drive)."""
    if folder is None:
        return str(path)
    try:
        return Path(os.path.relpath(path, Path(folder).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return str(path)


# -- entry points ---------------------------------------------------------------------------
def import_module(model: nn.Module, input_shape: Sequence[int], *, name: str = "model",
                  composites: bool = True, verify: bool = True) -> ImportResult:
    """Import ``model`` as a graph taking one input of batch-less ``input_shape``.

    Args:
        model: The model (left in the training mode it was in).
        input_shape: One sample's shape without the batch, e.g. ``(3, 224, 224)``.
        name: The model's name, for the project.
        composites: Turn torchvision building blocks (``BasicBlock``, ``Bottleneck``,
            ``Inception``, ``_DenseBlock``...) into the matching composite blocks, where the
            composite computes the same; otherwise every module becomes a plain group.
        verify: Check that the compiled graph computes what the model computes.

    Raises:
        ModelImportError: listing everything that cannot be mapped, or saying why the model
            cannot be traced, run or reproduced.
    """
    shape = _checked_shape(input_shape)
    was_training = model.training
    model.eval()
    try:
        return _import(model, shape, name, composites, verify)
    finally:
        model.train(was_training)


def import_factory(spec: str, input_shape: Sequence[int], *, name: str | None = None,
                   composites: bool = True, verify: bool = True,
                   **kwargs: Any) -> ImportResult:
    """Import the model ``package.module:factory(**kwargs)`` returns.

    Example: ``import_factory("torchvision.models:resnet18", (3, 224, 224),
    num_classes=10)``.

    Raises:
        FactoryError: when the factory cannot be found or called.
        ModelImportError: when the model cannot be imported.
    """
    factory = load_factory(spec)
    try:
        model = factory(**kwargs)
    except Exception as error:  # the user's code: report whatever it raises
        raise FactoryError(f"{spec}(...) failed: {type(error).__name__}: {error}") from None
    if not isinstance(model, nn.Module):
        raise FactoryError(f"{spec} returned {type(model).__name__}, not a torch.nn.Module")
    label = name or spec.replace(":", ".").rpartition(".")[2]
    result = import_module(model, input_shape, name=label, composites=composites,
                           verify=verify)
    result.source = spec
    return result


def import_model(source: str | nn.Module, input_shape: Sequence[int],
                 **kwargs: Any) -> ImportResult:
    """:func:`import_factory` for a ``package.module:factory`` string, else :func:`import_module`.

    Keyword arguments go to the factory, except ``name``, ``composites`` and ``verify``.
    """
    if isinstance(source, str):
        return import_factory(source, input_shape, **kwargs)
    return import_module(source, input_shape, **kwargs)


def load_factory(spec: str) -> Any:
    """The callable named by ``package.module:attribute`` (or ``package.module.attribute``).

    Raises:
        FactoryError: when the module cannot be imported or has no such attribute.
    """
    module_name, colon, attribute = spec.partition(":")
    if not colon:
        module_name, _, attribute = spec.rpartition(".")
    if not module_name or not attribute:
        raise FactoryError(f"{spec!r} is not of the form package.module:factory")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as error:  # ImportError, or whatever the module raises on import
        raise FactoryError(f"cannot import {module_name}: {error}") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise FactoryError(f"{module_name} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise FactoryError(f"{spec} is not callable")
    return target


# -- the steps ------------------------------------------------------------------------------
def _checked_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    """``input_shape`` as a tuple, or a refusal when it is not 1 to 4 positive sizes."""
    try:
        shape = default_registry().get(INPUT).param("shape").validate(tuple(input_shape))
    except (GraphError, TypeError) as error:
        raise ModelImportError(f"input shape {tuple(input_shape)!r}: {error} (one sample, "
                               "without the batch)") from None
    return tuple(shape)


def _import(model: nn.Module, shape: tuple[int, ...], name: str, composites: bool,
            verify: bool) -> ImportResult:
    sample = torch.randn(SAMPLE_BATCH, *shape, generator=torch.Generator().manual_seed(0))
    matcher = CompositeMatcher(composites)
    reference = _run_reference(model, matcher, sample)
    tracer = ImportTracer(matcher)
    traced = _trace(model, tracer)
    shapes = record_shapes(fx.GraphModule(tracer.root, traced), sample.clone())
    fold_self_attention(model, traced, shapes)
    plan = Classifier(model, traced, shapes, tracer).classify()
    unmapped = [*plan.unmapped, *_lost_state(model, plan)]
    if unmapped:
        count = f"{len(unmapped)} part{'s' * (len(unmapped) != 1)}"
        raise ModelImportError(f"cannot import {name}: {count} cannot be mapped", unmapped)
    builder = GraphBuilder(model, plan, shape)
    graph = builder.build(traced)
    _check_analysis(graph)
    weights, key_map = _carry_weights(model, builder.module_paths, builder.module_calls)
    _carry_opaque_weights(model, builder.opaque_paths, weights, key_map)
    apply_layout(graph)
    result = ImportResult(graph, weights, key_map, name, input_shape=shape)
    if verify:
        result.max_difference = _verify(graph, weights, sample, reference, name)
    return result


def _run_reference(model: nn.Module, matcher: CompositeMatcher, sample: Tensor) -> Any:
    """The model's output on ``sample`` (a copy: a model may change its input in place)."""
    try:
        return matcher.run(model, sample.clone())
    except Exception as error:  # the user's model: report whatever it raises
        size = "×".join(map(str, sample.shape[1:]))
        raise ModelImportError(f"the model cannot run on a batch of {size} inputs: "
                               f"{type(error).__name__}: {error}") from None


def _trace(model: nn.Module, tracer: ImportTracer) -> fx.Graph:
    """The traced graph, or a refusal naming the model when its own forward cannot be traced."""
    try:
        return tracer.trace(model)
    except Exception as error:  # torch.fx raises many kinds of errors
        reason = f"cannot be traced: {tracing_failure(error)}"
        raise ModelImportError(f"cannot import {module_kind(model)}: it cannot be traced",
                               [Unmapped("model", module_kind(model), reason)]) from None


def _lost_state(model: nn.Module, plan: Plan) -> list[Unmapped]:
    """Modules whose parameters or buffers no node would carry (not called, in eval).

    A module registered under two names counts as carried under both. Each lost one is
    named by its outermost module whose state is entirely lost (``aux1``, not ``aux1.fc1``
    and ``aux1.fc2``).
    """
    modules = dict(model.named_modules(remove_duplicate=False))
    paths = {*plan.modules.values(), *(u.name for u in plan.unmapped),
             *(p for sources in plan.opaque.values() for p in sources.values())}
    covered = {id(modules[p]) for p in paths if p in modules}
    keys = list(model.state_dict(keep_vars=True))
    lost = [k for k in keys if not any(p in paths or (p in modules and id(modules[p]) in covered)
                                       for p in _prefixes(k))]
    if not lost:
        return []
    kept = {p for k in set(keys) - set(lost) for p in _prefixes(k)}
    owners = {_outermost_lost(k.rpartition(".")[0], kept) for k in lost}
    return [Unmapped(owner or "model", module_kind(model.get_submodule(owner)),
                     "not used by the traced forward in evaluation mode: its weights would "
                     "be lost") for owner in sorted(owners)]


def _prefixes(key: str) -> list[str]:
    """``a.b.weight`` → ``a``, ``a.b``, ``a.b.weight``."""
    parts = key.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _outermost_lost(owner: str, kept: set[str]) -> str:
    """The outermost module above ``owner`` none of whose state is kept."""
    while owner:
        parent = owner.rpartition(".")[0]
        if not parent or parent in kept:
            return owner
        owner = parent
    return owner


def _check_analysis(graph: Graph) -> None:
    """Refuse a graph the analysis finds errors in, naming each node by its path."""
    analysis = analyze(graph)
    if analysis.ok:
        return
    items = []
    for issue in analysis.errors:
        where, node = "model", None
        if issue.node is not None:
            level, node = graph.find(issue.node)
            where = ".".join((*level.path(), node.name))
        items.append(Unmapped(where, node.type if node else "graph", issue.message))
    raise ModelImportError("the imported graph does not analyse", items)


def _carry_weights(model: nn.Module, module_paths: dict[str, str],
                   module_calls: dict[str, BlockCall]) -> tuple[dict[str, Tensor],
                                                                 dict[str, str]]:
    """The model's tensors under graph keys, and the model key → graph key mapping."""
    weights: dict[str, Tensor] = {}
    key_map: dict[str, str] = {}
    for module_path, node_path in module_paths.items():
        call = module_calls.get(module_path)
        renames = call.renames if call is not None else {}
        for key, tensor in model.get_submodule(module_path).state_dict().items():
            graph_key = f"{node_path}.{renamed(key, renames)}"
            weights[graph_key] = tensor
            key_map[f"{module_path}.{key}"] = graph_key
    return weights, key_map


def _carry_opaque_weights(model: nn.Module, opaque_paths: dict[str, dict[str, str]],
                          weights: dict[str, Tensor], key_map: dict[str, str]) -> None:
    """Add the tensors of the opaque nodes: their modules' and those they read directly."""
    modules = dict(model.named_modules(remove_duplicate=False))
    for node_path, sources in opaque_paths.items():
        for local, source in sources.items():
            if source in modules:
                for key, tensor in modules[source].state_dict().items():
                    weights[f"{node_path}.{local}.{key}"] = tensor
                    key_map[f"{source}.{key}"] = f"{node_path}.{local}.{key}"
            else:
                owner, _, attr = source.rpartition(".")
                weights[f"{node_path}.{local}"] = getattr(model.get_submodule(owner), attr)
                key_map[source] = f"{node_path}.{local}"


def _verify(graph: Graph, weights: dict[str, Tensor], sample: Tensor, reference: Any,
            name: str) -> float:
    """The largest output difference, or a refusal when the import computes otherwise."""
    try:
        module = compile_with(graph, weights)
        with torch.no_grad():
            result = module(sample.clone())
    except (NetBuilderError, RuntimeError) as error:
        raise ModelImportError(f"the imported {name} does not compile with the model's "
                               f"weights: {error}") from None
    gap = difference(result, reference)
    if gap is None or not same_outputs(result, reference):
        shown = "different output shapes" if gap is None else f"max |Δ| = {gap:.3g}"
        raise ModelImportError(f"the imported {name} does not compute what the model "
                               f"computes ({shown})")
    return gap
