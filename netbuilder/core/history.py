"""The undo/redo history of commands (see :mod:`netbuilder.core.commands`)."""

from __future__ import annotations

from collections.abc import Callable

from netbuilder.core.commands import Command


class History:
    """Undo/redo stack of commands, with a clean mark for "unsaved changes".

    Listeners are called with no arguments after every push, undo, redo or clean change.
    """

    def __init__(self, limit: int = 1000) -> None:
        self._stack: list[Command] = []
        self._index = 0
        self._clean: int | None = 0
        self._limit = limit
        self._merge_open = True
        self._listeners: list[Callable[[], None]] = []

    def connect(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever the history changes."""
        self._listeners.append(listener)

    def disconnect(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def push(self, command: Command) -> Command:
        """Apply ``command`` and record it (merging into the previous step if it can)."""
        command.redo()
        del self._stack[self._index:]
        top = self._stack[-1] if self._stack else None
        if (top is not None and self._merge_open and self._clean != self._index
                and top.merge(command)):
            self._changed()
            return top
        self._stack.append(command)
        self._index = len(self._stack)
        self._merge_open = True
        if len(self._stack) > self._limit:
            del self._stack[0]
            self._index -= 1
            self._clean = None if self._clean in (None, 0) else self._clean - 1
        self._changed()
        return command

    def seal(self) -> None:
        """Stop the next command from merging into the last (e.g. on mouse release)."""
        self._merge_open = False

    def undo(self) -> bool:
        """Revert the last step; return whether there was one."""
        if not self._index:
            return False
        self._index -= 1
        self._stack[self._index].undo()
        self._merge_open = False
        self._changed()
        return True

    def redo(self) -> bool:
        """Re-apply the next step; return whether there was one."""
        if self._index == len(self._stack):
            return False
        self._stack[self._index].redo()
        self._index += 1
        self._merge_open = False
        self._changed()
        return True

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._stack)

    @property
    def undo_text(self) -> str:
        """Name of the step Undo would revert ("" if none)."""
        return self._stack[self._index - 1].text if self._index else ""

    @property
    def redo_text(self) -> str:
        """Name of the step Redo would apply ("" if none)."""
        return self._stack[self._index].text if self.can_redo else ""

    def __len__(self) -> int:
        return len(self._stack)

    @property
    def index(self) -> int:
        """Number of steps currently applied."""
        return self._index

    def set_clean(self) -> None:
        """Mark the current state as saved."""
        self._clean = self._index
        self._merge_open = False
        self._changed()

    def mark_modified(self) -> None:
        """Mark the state as unsaved even with nothing to undo (e.g. a restored autosave)."""
        self._clean = None
        self._changed()

    @property
    def is_clean(self) -> bool:
        """Whether the graph is as it was when last marked clean."""
        return self._clean == self._index

    def clear(self) -> None:
        """Forget every step."""
        self._stack.clear()
        self._index = 0
        self._clean = 0
        self._changed()
