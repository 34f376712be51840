"""Compile a graph into a :class:`~netbuilder.compiler.module.GraphModule`.

Each block node becomes the module its spec builds for the node's input shapes (taken
from the analysis), parameter-free blocks included, so that a forward hook can watch any
node. Each group becomes a nested :class:`GraphModule` of its body. The result's
``state_dict`` keys are the dotted node-name paths and stay stable across edits that do
not rename nodes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from netbuilder.compiler.errors import CompileError
from netbuilder.compiler.init import (
    InitScheme,
    InitSetting,
    apply_init,
    node_scheme,
    parse_init,
)
from netbuilder.compiler.module import GraphModule
from netbuilder.compiler.plan import Plan, make_plan
from netbuilder.core.analysis import Analysis, analyze
from netbuilder.core.graph import Graph, Node


def compile_graph(graph: Graph, *, init: InitSetting = None,
                  analysis: Analysis | None = None, seed: int | None = None) -> GraphModule:
    """The ``torch.nn.Module`` computing ``graph``.

    Args:
        graph: The root graph.
        init: Graph-wide weight initialisation (see :mod:`netbuilder.compiler.init`);
            a node's ``init`` overrides it for that node (a group's for its body).
        analysis: The graph's analysis, if already computed (it must be current).
        seed: When given, weights are drawn from a generator seeded with it (the global
            random state is left untouched), so equal seeds give equal weights.

    Raises:
        CompileError: when the analysis reports errors (the message names every node at
            fault) or a node cannot be built.
        InitError: when an init setting is invalid (naming the node).
    """
    analysis = analysis if analysis is not None else analyze(graph)
    if not analysis.ok:
        raise CompileError.from_issues(graph, analysis.errors)
    scheme = parse_init(init)
    with _seeded(seed):
        return _compile_level(graph, analysis, scheme, top=True)


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _compile_level(graph: Graph, analysis: Analysis, scheme: InitScheme,
                   top: bool) -> GraphModule:
    plan = make_plan(graph, top=top)
    modules: dict[str, nn.Module] = {}
    for step in plan.steps:
        node = step.node
        check_module_name(graph, node)
        own = node_scheme(node.init, scheme, _display(graph, node))
        if node.body is not None:
            module: nn.Module = _compile_level(node.body, analysis, own, top=False)
        else:
            module = _build_block(graph, node, analysis)
            apply_init(module, own, _display(graph, node))
        if node.frozen:
            module.requires_grad_(False)
        modules[node.id] = module
    frozen = [s.node.id for s in plan.steps if s.node.frozen]
    inputs, outputs = _level_shapes(plan, analysis)
    return GraphModule(plan, modules, inputs, outputs, frozen)


def _build_block(graph: Graph, node: Node, analysis: Analysis) -> nn.Module:
    info = analysis.nodes.get(node.id)
    shapes = info.inputs if info is not None else ()
    if info is None or any(s is None for s in shapes):
        raise CompileError(f"{_display(graph, node)}: its input shapes are unknown",
                           [node.id])
    try:
        module = graph.spec(node).build(node.resolved, shapes)
    except Exception as error:  # a faulty spec is reported on its node
        raise CompileError(f"{_display(graph, node)}: cannot build {node.type}: {error}",
                           [node.id]) from error
    if not isinstance(module, nn.Module):
        raise CompileError(f"{_display(graph, node)}: {node.type} built "
                           f"{type(module).__name__}, not a torch.nn.Module", [node.id])
    return module


def _level_shapes(plan: Plan, analysis: Analysis) -> tuple[list[tuple[int, ...]],
                                                            list[tuple[int, ...]]]:
    def shape(value: tuple[str, str]) -> tuple[int, ...]:
        info = analysis.nodes.get(value[0])
        return tuple(info.outputs.get(value[1], ())) if info is not None else ()

    return [shape(v) for v in plan.input_values], [shape(v) for v in plan.outputs]


# -- module names -------------------------------------------------------------------------
#: Names a node may not take because the module it becomes already has such an attribute.
RESERVED_NAMES = frozenset(dir(nn.Module())) | frozenset(dir(GraphModule)) | {
    "input_shapes", "output_shapes"}


def check_module_name(graph: Graph, node: Node) -> None:
    """Raise unless ``node.name`` can name a submodule of a :class:`GraphModule`.

    Raises:
        CompileError: when the name clashes with an attribute of ``torch.nn.Module``
            (``forward``, ``train``, ``training``...) or of :class:`GraphModule`.
    """
    if node.name in RESERVED_NAMES or node.name.startswith("_nb_"):
        raise CompileError(
            f"{_display(graph, node)}: the name {node.name!r} is reserved by torch.nn.Module; "
            f"rename the node", [node.id])


def _display(graph: Graph, node: Node) -> str:
    """The node's dotted path from the root (``layer1.block1.conv1``)."""
    return ".".join((*graph.path(), node.name))
