"""``.pt2`` export: the network as a ``torch.export`` ExportedProgram.

The program is traced with :func:`torch.export.export` with a dynamic batch dimension,
saved with :func:`torch.export.save`, loaded back with :func:`torch.export.load` and run
on a batch of another size: its outputs must equal the compiled module's.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from netbuilder.compiler.export_common import (
    CHECK_BATCH,
    TRACE_BATCH,
    ExportReport,
    checked,
    compiled_for_export,
    dynamic_batch,
    example_inputs,
    max_difference,
    outputs_tuple,
    reference_outputs,
)
from netbuilder.compiler.module import GraphModule
from netbuilder.core.graph import Graph
from netbuilder.core.outputs import write_output


def export_program(graph: Graph, path: str | os.PathLike[str], *,
                   module: GraphModule | None = None) -> ExportReport:
    """Write ``graph`` as an ExportedProgram to ``path`` (``.pt2``) and check it.

    Args:
        graph: The network.
        path: The file to write (atomically).
        module: The compiled network with the weights to export (default: ``graph``
            compiled with fresh weights).

    Raises:
        CompileError: when the graph has errors.
        ExportError: when the loaded program's outputs differ from the network's.
        OutputError: when ``path`` cannot be written.
    """
    compiled = compiled_for_export(graph, module)
    program = torch.export.export(compiled, example_inputs(compiled, TRACE_BATCH),
                                  dynamic_shapes=dynamic_batch(compiled))
    written = write_output(path, lambda temp: torch.export.save(program, temp))
    return verify_program(compiled, written)


def verify_program(module: GraphModule, path: Path) -> ExportReport:
    """Load the program at ``path`` and compare it with ``module`` on a fresh batch.

    Raises:
        ExportError: when the outputs differ by more than the tolerance.
    """
    inputs = example_inputs(module, CHECK_BATCH, seed=1)
    loaded = torch.export.load(path).module()
    with torch.no_grad():
        results = outputs_tuple(loaded(*inputs))
    difference = max_difference(results, reference_outputs(module, inputs))
    return checked(path, difference, "the ExportedProgram")
