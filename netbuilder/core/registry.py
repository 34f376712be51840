"""The block registry: block type key → :class:`BlockSpec`.

The core does not know the concrete blocks: they live in ``netbuilder.blocks`` (and in
third-party packages), which register themselves here. The default registry loads the
built-in blocks and any ``netbuilder.blocks`` entry points on first use, the way plugin
systems do, so the core never imports a package that imports torch. Loading the built-in
blocks is the one import from the core up to ``netbuilder.blocks``; it happens inside
:func:`default_registry` and is declared in the import-linter contracts
(``pyproject.toml``), so that no other one goes unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator

from netbuilder.core.errors import UnknownBlockError
from netbuilder.core.spec import BlockSpec

ENTRY_POINT_GROUP = "netbuilder.blocks"


def normalize_key(key: str) -> str:
    """Registry keys are case- and separator-insensitive: ``Conv-2D`` → ``conv_2d``."""
    return key.strip().lower().replace("-", "_").replace(" ", "_")


class BlockRegistry:
    """A string-keyed collection of block specs that refuses duplicate keys."""

    def __init__(self) -> None:
        self._specs: dict[str, BlockSpec] = {}

    def register(self, spec: BlockSpec) -> BlockSpec:
        """Add ``spec``.

        Raises:
            ValueError: when a block with the same key is already registered.
        """
        key = normalize_key(spec.key)
        if key != spec.key:
            raise ValueError(f"block key {spec.key!r} is not normalised (use {key!r})")
        if key in self._specs:
            raise ValueError(f"block {key!r} is already registered")
        self._specs[key] = spec
        return spec

    def get(self, key: str) -> BlockSpec:
        """The spec registered under ``key``.

        Raises:
            UnknownBlockError: when no block has that key.
        """
        spec = self._specs.get(key)
        if spec is not None:
            return spec
        try:
            return self._specs[normalize_key(key)]
        except KeyError:
            raise UnknownBlockError(f"unknown block type {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and normalize_key(key) in self._specs

    def __iter__(self) -> Iterator[BlockSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def keys(self) -> list[str]:
        """Every registered key, in registration order."""
        return list(self._specs)

    def families(self) -> dict[str, list[BlockSpec]]:
        """Specs grouped by palette family, in registration order."""
        out: dict[str, list[BlockSpec]] = {}
        for spec in self._specs.values():
            out.setdefault(spec.family, []).append(spec)
        return out


_default: BlockRegistry | None = None


def default_registry() -> BlockRegistry:
    """The process-wide registry, with built-in and plug-in blocks loaded."""
    global _default
    if _default is None:
        _default = BlockRegistry()
        from netbuilder import blocks  # the built-in blocks (never imports torch)

        blocks.register_all(_default)
        from importlib.metadata import entry_points  # ~70 ms: only when first needed

        for entry in entry_points(group=ENTRY_POINT_GROUP):
            entry.load()(_default)
    return _default
