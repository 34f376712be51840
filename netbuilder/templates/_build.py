"""What the template modules add to :mod:`netbuilder.core.builder`: input, output, numbering.

A template is written as data (lists of ``(block_type, name, params)`` steps, stage
tables) and built with the core's builder (:func:`~netbuilder.core.builder.chain`,
:func:`~netbuilder.core.builder.group`, :func:`~netbuilder.core.builder.group_of`, the
same language the composite blocks use). Here: :func:`start` makes the ``input`` node,
:func:`numbered` names layers as an ``nn.Sequential`` does, and :func:`finish` adds the
``output`` node, expands the groups the template opens at and lays the graph out. Node
names become ``torch.nn`` module names, so templates choose them to match torchvision's
``state_dict`` keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from netbuilder.core.builder import Step
from netbuilder.core.graph import Graph, Node
from netbuilder.core.spec import INPUT, OUTPUT
from netbuilder.templates._expanded import expand, lay_out_expanded

#: A layer without a name yet: ``(block_type, params)``.
Layer = tuple[str, dict[str, Any]]


def start(input_shape: Sequence[int]) -> tuple[Graph, Node]:
    """A new graph holding only its ``input`` node of ``input_shape``; returns both."""
    graph = Graph()
    return graph, graph.add(INPUT, "input", shape=tuple(input_shape))


def numbered(layers: Iterable[Layer]) -> list[Step]:
    """Name layers ``0``, ``1``, ... as the children of a torchvision ``nn.Sequential``."""
    return [(block_type, str(i), params) for i, (block_type, params) in enumerate(layers)]


def finish(graph: Graph, last: Node, expanded: Sequence[str] = ()) -> Graph:
    """Add the ``output`` node fed by ``last``, lay out every level and return the graph.

    Args:
        graph: The template's graph.
        last: The node feeding the output.
        expanded: Dotted name patterns of the groups that open expanded in place (the
            level the lecture draws; see :mod:`netbuilder.templates._expanded`).
    """
    graph.add(OUTPUT, "output", after=last)
    expand(graph, *expanded)
    lay_out_expanded(graph)
    return graph
