"""Model events: what changed in a graph, delivered to views in batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netbuilder.core.graph import Edge, Graph

#: Event kinds. ``node_changed`` covers frozen/init/collapsed flags.
KINDS = (
    "node_added", "node_removed", "edge_added", "edge_removed", "params_changed",
    "node_moved", "node_renamed", "node_changed",
)


@dataclass(frozen=True)
class Event:
    """One change. ``graph`` is the (possibly nested) graph in which it happened."""

    kind: str
    graph: Graph
    node: str | None = None
    edge: Edge | None = None
    data: Any = None

    @property
    def structural(self) -> bool:
        """Whether the change alters nodes or edges (not only values on a node)."""
        return self.kind in ("node_added", "node_removed", "edge_added", "edge_removed")


Listener = Callable[[Sequence[Event]], None]


class EventHub:
    """Delivers events to listeners; inside :meth:`batch` they are held and sent once."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._depth = 0
        self._pending: list[Event] = []

    def connect(self, listener: Listener) -> None:
        """Call ``listener(events)`` after every change (or batch of changes)."""
        self._listeners.append(listener)

    def disconnect(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def emit(self, event: Event) -> None:
        """Send ``event`` now, or hold it until the outermost batch ends."""
        if self._depth:
            self._pending.append(event)
        else:
            self._send([event])

    def begin(self) -> None:
        """Start holding events (nestable)."""
        self._depth += 1

    def end(self) -> None:
        """Stop holding; the outermost end sends everything held as one batch."""
        self._depth -= 1
        if self._depth == 0 and self._pending:
            events, self._pending = self._pending, []
            self._send(events)

    def _send(self, events: Sequence[Event]) -> None:
        for listener in list(self._listeners):
            listener(events)
