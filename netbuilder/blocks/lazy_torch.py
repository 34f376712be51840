"""torch, imported when a block is built, so that analysis never loads it.

Nothing in the block library imports torch at module level: a block's ``build()`` calls
:func:`torch_nn` (or :func:`block_modules` for the modules torch lacks).
"""

from __future__ import annotations

from types import ModuleType


def torch_nn() -> ModuleType:
    """``torch.nn``, imported on first use so that analysis never loads torch."""
    import torch.nn

    return torch.nn


def block_modules() -> ModuleType:
    """:mod:`netbuilder.blocks.modules`, the modules torch lacks (imports torch)."""
    from netbuilder.blocks import modules

    return modules
