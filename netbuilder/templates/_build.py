"""Small helpers the template modules build their graphs with.

A template is written as data (lists of ``(block_type, name, params)`` steps, stage
tables) and turned into a graph by these helpers: :func:`start` makes the ``input`` node,
:func:`sequence` chains steps, :func:`group` wraps steps in a collapsible group with the
ports ``x`` → ``out`` (the convention of the composite blocks), and :func:`finish` adds
the ``output`` node and lays the graph out. Node names become ``torch.nn`` module names,
so templates choose them to match torchvision's ``state_dict`` keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from netbuilder.core.graph import Graph, Node
from netbuilder.core.layout import apply_layout
from netbuilder.core.spec import GROUP, GROUP_INPUT, GROUP_OUTPUT, INPUT, OUTPUT

#: One layer: ``(block_type, node_name, params)``.
Step = tuple[str, str, dict[str, Any]]
#: A layer without a name yet: ``(block_type, params)``.
Layer = tuple[str, dict[str, Any]]
#: Fills a group body fed by its input node; returns the node feeding the body's output.
Fill = Callable[[Graph, Node], Node]


def start(input_shape: Sequence[int]) -> tuple[Graph, Node]:
    """A new graph holding only its ``input`` node of ``input_shape``; returns both."""
    graph = Graph()
    return graph, graph.add(INPUT, "input", shape=tuple(input_shape))


def sequence(graph: Graph, source: Node, steps: Iterable[Step]) -> Node:
    """Add ``steps`` in a row fed by ``source``; return the last node (``source`` if none)."""
    last = source
    for block_type, name, params in steps:
        last = graph.add(block_type, name, after=last, **params)
    return last


def numbered(layers: Iterable[Layer]) -> list[Step]:
    """Name layers ``0``, ``1``, ... as the children of a torchvision ``nn.Sequential``."""
    return [(block_type, str(i), params) for i, (block_type, params) in enumerate(layers)]


def group(graph: Graph, source: Node, name: str, fill: Fill) -> Node:
    """Add a collapsible group ``name`` fed by ``source`` whose body ``fill`` builds."""
    node = graph.add(GROUP, name)
    body = node.body
    assert body is not None
    x = body.add(GROUP_INPUT, "x")
    body.add(GROUP_OUTPUT, "out", after=fill(body, x))
    graph.connect(source, node)
    return node


def group_of(graph: Graph, source: Node, name: str, steps: Sequence[Step]) -> Node:
    """Add a group ``name`` holding ``steps`` in a row (a torchvision ``nn.Sequential``)."""
    return group(graph, source, name, lambda body, x: sequence(body, x, steps))


def finish(graph: Graph, last: Node) -> Graph:
    """Add the ``output`` node fed by ``last``, lay out every level and return the graph."""
    graph.add(OUTPUT, "output", after=last)
    apply_layout(graph, deep=True)
    return graph
