"""Graph → ``torch.nn.Module`` compiler, weight initialisation and Python source export.

Nothing here imports Qt. The main entry points:

* :func:`compile_graph` — the :class:`GraphModule` computing a graph.
* :func:`trainable_parameters` — the parameters of the nodes that are not frozen.
* :func:`to_source` / :func:`export_source` — a standalone Python file defining the same
  network (same ``state_dict`` keys, same outputs).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the lazily imported names, as type checkers and import-linter see them
    from netbuilder.compiler.build import compile_graph as compile_graph
    from netbuilder.compiler.errors import CompileError as CompileError
    from netbuilder.compiler.errors import InitError as InitError
    from netbuilder.compiler.errors import SourceExportError as SourceExportError
    from netbuilder.compiler.init import SCHEMES as SCHEMES
    from netbuilder.compiler.init import InitScheme as InitScheme
    from netbuilder.compiler.init import parse_init as parse_init
    from netbuilder.compiler.module import GraphModule as GraphModule
    from netbuilder.compiler.module import trainable_parameters as trainable_parameters
    from netbuilder.compiler.source import export_source as export_source
    from netbuilder.compiler.source import to_source as to_source

#: Public name → module defining it. Imported on first use, so that importing
#: ``netbuilder.compiler.import_cli`` (for ``netbuilder --help``) does not load torch.
_EXPORTS = {
    "compile_graph": "build",
    "CompileError": "errors",
    "InitError": "errors",
    "SourceExportError": "errors",
    "SCHEMES": "init",
    "InitScheme": "init",
    "parse_init": "init",
    "GraphModule": "module",
    "trainable_parameters": "module",
    "export_source": "source",
    "to_source": "source",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'netbuilder.compiler' has no attribute {name!r}")
    return getattr(importlib.import_module(f"netbuilder.compiler.{module}"), name)
