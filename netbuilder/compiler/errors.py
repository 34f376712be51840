"""Errors of the compiler: a graph that cannot become a module, a bad init, an export."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from netbuilder.core.errors import NetBuilderError

if TYPE_CHECKING:
    from netbuilder.core.analysis import Issue
    from netbuilder.core.graph import Graph


class CompileError(NetBuilderError):
    """A graph that cannot be compiled; names the nodes at fault.

    Attributes:
        message: What is wrong, one line per problem, naming the nodes.
        nodes: Ids of the nodes involved, for the editor to highlight.
        issues: The analysis errors that stopped compilation (empty for other causes).
    """

    def __init__(self, message: str, nodes: Iterable[str] = (),
                 issues: Sequence[Issue] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.nodes: tuple[str, ...] = tuple(dict.fromkeys(nodes))
        self.issues: tuple[Issue, ...] = tuple(issues)

    @classmethod
    def from_issues(cls, graph: Graph, issues: Sequence[Issue]) -> CompileError:
        """The error refusing ``graph`` because of analysis ``issues``.

        Issues on nodes inside groups name them by their path
        (``layer1.block1.conv2: ...``) so the message says where to look.
        """
        lines = [issue.message for issue in issues]
        count = f"{len(issues)} error{'s' if len(issues) != 1 else ''}"
        message = f"cannot compile the graph ({count}):\n" + "\n".join(
            f"  {line}" for line in lines)
        nodes = [n for issue in issues for n in (issue.nodes or (issue.node,)) if n]
        return cls(message, nodes, issues)


class InitError(CompileError):
    """A weight-initialisation setting that is not understood; names the node."""


class SourceExportError(CompileError):
    """A module that cannot be written as standalone Python source; names the node."""
