"""The block library: concrete :class:`~netbuilder.core.spec.BlockSpec` subclasses.

Importing this package never imports torch: every ``build()`` imports it lazily.
"""

from __future__ import annotations

from netbuilder.blocks import act, basic, composite, conv, merge, norm, pool
from netbuilder.core.registry import BlockRegistry

MODULES = (basic, conv, pool, norm, act, merge, composite)


def register_all(registry: BlockRegistry) -> None:
    """Register every built-in block into ``registry``."""
    for module in MODULES:
        module.register(registry)
