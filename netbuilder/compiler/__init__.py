"""Graph → ``torch.nn.Module`` compiler, weight initialisation and Python source export.

Nothing here imports Qt. The main entry points:

* :func:`compile_graph` — the :class:`GraphModule` computing a graph.
* :func:`trainable_parameters` — the parameters of the nodes that are not frozen.
* :func:`to_source` / :func:`export_source` — a standalone Python file defining the same
  network (same ``state_dict`` keys, same outputs).
"""

from __future__ import annotations

import importlib
from typing import Any

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
