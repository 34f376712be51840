"""Graph → ``torch.nn.Module`` compiler, weight initialisation and Python source export.

Nothing here imports Qt. The main entry points:

* :func:`compile_graph` — the :class:`GraphModule` computing a graph.
* :func:`trainable_parameters` — the parameters of the nodes that are not frozen.
* :func:`to_source` / :func:`export_source` — a standalone Python file defining the same
  network (same ``state_dict`` keys, same outputs).
"""

from __future__ import annotations

from netbuilder.compiler.build import compile_graph
from netbuilder.compiler.errors import CompileError, InitError, SourceExportError
from netbuilder.compiler.init import SCHEMES, InitScheme, parse_init
from netbuilder.compiler.module import GraphModule, trainable_parameters
from netbuilder.compiler.source import export_source, to_source

__all__ = [
    "SCHEMES",
    "CompileError",
    "GraphModule",
    "InitError",
    "InitScheme",
    "SourceExportError",
    "compile_graph",
    "export_source",
    "parse_init",
    "to_source",
    "trainable_parameters",
]
