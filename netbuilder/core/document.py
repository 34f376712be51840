"""A document: one graph with its history, its analysis and where it is saved.

The editor window, the CLI and the tests all work on a :class:`Document`; it is plain
Python (no Qt), so everything the editor does can be exercised without a screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from netbuilder.core.analysis import Analysis, Analyzer
from netbuilder.core.commands import Command
from netbuilder.core.events import Event
from netbuilder.core.graph import Graph
from netbuilder.core.history import History


class Document:
    """A graph, its undo history, its (lazily refreshed) analysis, and its file."""

    def __init__(self, graph: Graph | None = None, *, path: Path | None = None,
                 training: dict[str, Any] | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.graph = graph if graph is not None else Graph()
        self.history = History()
        self.path = path
        self.training: dict[str, Any] = dict(training or {})
        self.meta: dict[str, Any] = dict(meta or {})
        self._analyzer = Analyzer(self.graph)
        self._stale = True
        self._listeners: list[Callable[[Analysis], None]] = []
        self.graph.events.connect(self._on_events)

    # -- editing ----------------------------------------------------------------------
    def push(self, command: Command) -> Command:
        """Apply ``command`` through the history (undoable)."""
        return self.history.push(command)

    def undo(self) -> bool:
        """Undo the last step."""
        return self.history.undo()

    def redo(self) -> bool:
        """Redo the next step."""
        return self.history.redo()

    @property
    def modified(self) -> bool:
        """Whether there are changes since the last save (or load)."""
        return not self.history.is_clean

    # -- analysis -----------------------------------------------------------------------
    def _on_events(self, events: Sequence[Event]) -> None:
        if any(e.kind != "node_moved" for e in events):
            self._stale = True

    @property
    def analysis(self) -> Analysis:
        """The analysis of the graph as it is now (re-run only after a change)."""
        if self._stale:
            self._stale = False
            result = self._analyzer.run()
            for listener in list(self._listeners):
                listener(result)
        return self._analyzer.result

    def on_analysis(self, listener: Callable[[Analysis], None]) -> None:
        """Call ``listener(analysis)`` whenever a fresh analysis is computed."""
        self._listeners.append(listener)

    def disconnect_analysis(self, listener: Callable[[Analysis], None]) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def close(self) -> None:
        """Stop following the graph (for temporary documents wrapping a shared graph)."""
        self.graph.events.disconnect(self._on_events)
        self._listeners.clear()

    # -- files ------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> Document:
        """Load a project file.

        Raises:
            ProjectFileError: when the file cannot be read; the message names the field.
        """
        from netbuilder.core import serialize

        project = serialize.load(Path(path))
        return cls(project.graph, path=Path(path), training=project.training,
                   meta=project.meta)

    def save(self, path: str | Path | None = None) -> Path:
        """Save atomically to ``path`` (default: where it was opened or last saved)."""
        from netbuilder.core import serialize

        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("the document has no file yet: give a path")
        serialize.save(serialize.Project(self.graph, self.training, self.meta), target)
        self.path = target
        self.history.set_clean()
        return target

    @property
    def title(self) -> str:
        """File name for window titles (``untitled`` before the first save)."""
        return self.path.stem if self.path is not None else "untitled"
