"""Typed errors raised by the graph model.

Every error names the nodes (and where relevant the edge) involved so that a view can
attach it to the item that caused it.
"""

from __future__ import annotations

from collections.abc import Sequence


class NetBuilderError(Exception):
    """Base class of every error NetBuilder raises on purpose."""


class GraphError(NetBuilderError):
    """An edit that would make the graph illegal; nothing was changed."""

    def __init__(self, message: str, nodes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.nodes: tuple[str, ...] = tuple(nodes)


class UnknownNodeError(GraphError):
    """A node id that is not in the graph."""


class UnknownBlockError(GraphError):
    """A block type key that is not registered."""


class UnknownParameterError(GraphError):
    """A parameter name that the block does not declare."""


class ParameterValueError(GraphError):
    """A parameter value of the wrong type or out of its range.

    Attributes:
        param: The parameter's name ("" when several are inconsistent together).
        reason: Why the value is refused, e.g. ``"must be at least 1"``.
    """

    def __init__(self, message: str, nodes: Sequence[str] = (), *, param: str = "",
                 reason: str = "") -> None:
        super().__init__(message, nodes)
        self.param = param
        self.reason = reason or message


class UnknownPortError(GraphError):
    """A port name that the block does not have."""


class PortOccupiedError(GraphError):
    """A single-input port that already has an incoming edge."""


class DuplicateEdgeError(GraphError):
    """An edge that already exists."""


class CycleError(GraphError):
    """An edge that would close a cycle."""


class DuplicateNameError(GraphError):
    """A node name already used in the same graph (names become module names)."""


class InvalidNameError(GraphError):
    """A node name that cannot be a PyTorch module name."""


class GroupError(GraphError):
    """An illegal grouping or ungrouping."""


class ProjectFileError(NetBuilderError):
    """A project file that cannot be read; the message names the offending field."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class NetBuilderWarning(UserWarning):
    """A warning of NetBuilder's own (turned into an error by the test suite)."""
