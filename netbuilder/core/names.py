"""Fresh node names (``conv1``, ``conv2``, ...) in amortised constant time.

A graph level, a file being read and a paste all need "``prefix`` followed by the
smallest number that makes it unused". Counting up from 1 against a freshly built set
for every node made loading a file of n nameless nodes take n² steps; a
:class:`NameIndex` keeps the set and, per prefix, the smallest number that may be free,
so each fresh name costs amortised O(1) and the names chosen are the same.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_ILLEGAL = re.compile(r"[^A-Za-z0-9_]")


def clean_prefix(prefix: str) -> str:
    """``prefix`` with characters a name cannot hold replaced by ``_`` (``node`` if empty)."""
    return _ILLEGAL.sub("_", prefix) or "node"


class NameIndex:
    """The names in use, with the smallest possibly free number per prefix.

    Invariant: for every prefix seen, every ``f"{prefix}{k}"`` with ``k`` below its number
    is in use. Adding a name keeps it; removing one lowers the number of each prefix the
    name extends.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._counts: Counter[str] = Counter(iter(names))  # a mapping: its keys
        self._next: dict[str, int] = {}
        #: How many names (with repeats) the index holds.
        self.size = sum(self._counts.values())

    def __contains__(self, name: object) -> bool:
        return name in self._counts

    def add(self, name: str) -> None:
        """Record one more use of ``name``."""
        self._counts[name] += 1
        self.size += 1

    def remove(self, name: str) -> None:
        """Forget one use of ``name``."""
        left = self._counts[name] - 1
        self.size -= 1
        if left > 0:
            self._counts[name] = left
            return
        del self._counts[name]
        for prefix, number in self._next.items():
            tail = name[len(prefix):]
            if name.startswith(prefix) and tail.isascii() and tail.isdigit() \
                    and tail[0] != "0" and int(tail) < number:
                self._next[prefix] = int(tail)

    def free(self, prefix: str, taken: Iterable[str] = ()) -> str:
        """``prefix`` and the smallest number making a name used neither here nor in ``taken``.

        The name is not recorded (see :meth:`take`).
        """
        prefix = clean_prefix(prefix)
        number = self._next.get(prefix, 1)
        while f"{prefix}{number}" in self._counts:
            number += 1
        self._next[prefix] = number
        extra = taken if isinstance(taken, (set, frozenset, dict)) else set(taken)
        while f"{prefix}{number}" in extra or f"{prefix}{number}" in self._counts:
            number += 1
        return f"{prefix}{number}"

    def take(self, prefix: str) -> str:
        """A fresh name for ``prefix`` (as :meth:`free`), recorded as used."""
        name = self.free(prefix)
        self.add(name)
        return name
