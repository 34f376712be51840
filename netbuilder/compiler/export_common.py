"""What the deployment exports share: example inputs, a dynamic batch dimension, and the
report of an export checked against the compiled module.

torch is imported here; the CLI and the editor import this module only when they export.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from netbuilder.compiler.build import compile_graph
from netbuilder.compiler.errors import CompileError
from netbuilder.compiler.module import GraphModule
from netbuilder.core.graph import Graph

#: Largest difference allowed between an export's outputs and the compiled module's.
TOLERANCE = 1e-4
#: Batch size of the example inputs an export is traced with.
TRACE_BATCH = 2
#: Batch size the export is checked with (another size, so the batch is seen to be dynamic).
CHECK_BATCH = 3


class ExportError(CompileError):
    """An export that could not be written or did not reproduce the network's outputs."""


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote and how closely it reproduces the network.

    Attributes:
        path: The file written.
        max_abs_diff: Largest absolute difference between its outputs and the compiled
            module's, on a batch of :data:`CHECK_BATCH` random inputs.
    """

    path: Path
    max_abs_diff: float


def compiled_for_export(graph: Graph, module: GraphModule | None = None) -> GraphModule:
    """The module to export (``module`` when given, else ``graph`` compiled), in eval mode.

    Raises:
        CompileError: when the graph has errors (naming the nodes at fault).
    """
    compiled = module if module is not None else compile_graph(graph)
    return compiled.eval()


def example_inputs(module: GraphModule, batch: int, seed: int = 0) -> tuple[Tensor, ...]:
    """One random tensor per input of ``module``, with ``batch`` samples each."""
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn((batch, *shape), generator=generator)
                 for shape in module.input_shapes)


def dynamic_batch(module: GraphModule) -> tuple[tuple[dict[int, Any], ...]]:
    """``dynamic_shapes`` for ``torch.export``: dimension 0 of every input is the batch.

    The root module's ``forward(*inputs)`` takes its inputs as one variadic argument, hence
    the outer one-element tuple.
    """
    batch = torch.export.Dim("batch", min=1)
    return (tuple({0: batch} for _shape in module.input_shapes),)


def outputs_tuple(result: Any) -> tuple[Tensor, ...]:
    """A module's result as a tuple of tensors (one output or several)."""
    if isinstance(result, Tensor):
        return (result,)
    return tuple(result)


def max_difference(results: tuple[Tensor, ...], reference: tuple[Tensor, ...]) -> float:
    """The largest absolute difference between two tuples of outputs (inf when they differ
    in number or shape)."""
    if len(results) != len(reference):
        return float("inf")
    worst = 0.0
    for got, want in zip(results, reference):
        if got.shape != want.shape:
            return float("inf")
        worst = max(worst, float((got.float() - want.float()).abs().max()))
    return worst


def reference_outputs(module: nn.Module, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """``module``'s outputs on ``inputs``, without gradients."""
    with torch.no_grad():
        return outputs_tuple(module(*inputs))


def checked(path: Path, difference: float, what: str) -> ExportReport:
    """The report of an export whose outputs differ by ``difference``.

    Raises:
        ExportError: when the difference is over :data:`TOLERANCE` (or not a number).
    """
    if not difference <= TOLERANCE:
        raise ExportError(f"{what} of {path.name} differs from the network by "
                          f"{difference:.3g} (more than {TOLERANCE:g})")
    return ExportReport(path, difference)
