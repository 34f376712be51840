"""Building graphs from steps: the one small language of templates, composite blocks and
:meth:`Graph.chain <netbuilder.core.graph.Graph.chain>`.

A *step* is one layer to add: ``(block_type, name, params)``; a ``None`` name takes the
block's default name, numbered (``conv1``). Node names become ``torch.nn`` module names,
so templates and composite blocks name their nodes as torchvision names its modules.

* :func:`add` adds one node fed by any number of sources, in order (the order of a
  multi-input block's inputs);
* :func:`chain` adds steps in a row;
* :func:`group` adds a collapsible group whose body a *fill* function builds between
  the ports ``x`` and ``out`` (:func:`fill_body`); :func:`group_of` is a group holding
  steps in a row (a torchvision ``nn.Sequential``);
* :func:`arrange_rows` puts every node of a generated body on the row of its depth.

Every node sits in a *column* (``x = column · COLUMN``), so that a composite block's
branches stand side by side once :func:`arrange_rows` has given them rows; builders that
lay their graph out afterwards leave every column at 0. Building records no undo step:
it is for graphs no document holds yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, overload

from netbuilder.core.spec import GROUP, GROUP_INPUT, GROUP_OUTPUT

if TYPE_CHECKING:
    from netbuilder.core.graph import Graph, Node

#: One layer to add: ``(block_type, name or None, params)``.
Step = tuple[str, str | None, dict[str, Any]]
#: Fills a group's body fed by its input node; returns the node feeding the body's output.
Fill = Callable[["Graph", "Node"], "Node"]

#: Horizontal distance between neighbouring columns, in scene pixels.
COLUMN = 220.0
#: Vertical distance between consecutive rows of an arranged body, in scene pixels.
ROW = 100.0
#: Names of a built group's input and output ports.
INPUT_PORT, OUTPUT_PORT = "x", "out"


def add(graph: Graph, block_type: str, name: str | None, *sources: Node,
        column: float = 0.0, **params: Any) -> Node:
    """Add a node in ``column`` and wire ``sources`` into it, in order; return it."""
    node = graph.add(block_type, name, pos=(column * COLUMN, 0.0), **params)
    for source in sources:
        graph.connect(source, node)
    return node


@overload
def chain(graph: Graph, source: Node, steps: Iterable[Step], column: float = 0.0) -> Node: ...
@overload
def chain(graph: Graph, source: None, steps: Iterable[Step],
          column: float = 0.0) -> Node | None: ...
def chain(graph: Graph, source: Node | None, steps: Iterable[Step],
          column: float = 0.0) -> Node | None:
    """Add ``steps`` in a row fed by ``source`` (if any); return the last node.

    Returns ``source`` when there are no steps.
    """
    last = source
    for block_type, name, params in steps:
        sources = () if last is None else (last,)
        last = add(graph, block_type, name, *sources, column=column, **params)
    return last


def group(graph: Graph, source: Node, name: str, fill: Fill, column: float = 0.0) -> Node:
    """Add a group ``name`` fed by ``source`` whose body ``fill`` builds (see :func:`fill_body`)."""
    node = add(graph, GROUP, name, column=column)
    assert node.body is not None
    fill_body(node.body, fill)
    graph.connect(source, node)
    return node


def group_of(graph: Graph, source: Node, name: str, steps: Iterable[Step],
             column: float = 0.0) -> Node:
    """Add a group ``name`` holding ``steps`` in a row (a torchvision ``nn.Sequential``)."""
    return group(graph, source, name, lambda body, x: chain(body, x, steps), column)


def fill_body(body: Graph, fill: Fill) -> Graph:
    """Give ``body`` the input port ``x`` and the output port ``out`` around what ``fill`` adds.

    ``out`` stands in the column of the node feeding it.
    """
    x = body.add(GROUP_INPUT, INPUT_PORT)
    last = fill(body, x)
    add(body, GROUP_OUTPUT, OUTPUT_PORT, last, column=last.pos[0] / COLUMN)
    return body


def arrange_rows(graph: Graph, *, deep: bool = True) -> None:
    """Put every node on the row of its depth (longest path from an input), keeping x.

    With ``deep``, every group body below is arranged too.
    """
    depth: dict[str, int] = {}
    for node_id in graph.topological_order():
        depth[node_id] = max((depth[e.source] + 1 for e in graph.in_edges(node_id)), default=0)
        node = graph.nodes[node_id]
        node.pos = (node.pos[0], depth[node_id] * ROW)
        if deep and node.body is not None:
            arrange_rows(node.body)
