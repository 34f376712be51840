"""Checking that an imported graph computes what the original model computes.

The compiled graph is built on the ``meta`` device and given the model's tensors with
``load_state_dict(assign=True)``, so a check allocates and initialises no weights: even
VGG's 130 million parameters cost nothing but one forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain
from typing import Any

import torch
from torch import Tensor, nn

from netbuilder.compiler.build import compile_graph
from netbuilder.compiler.module import GraphModule
from netbuilder.compiler.module_map import BlockCall, renamed
from netbuilder.core.errors import NetBuilderError
from netbuilder.core.graph import Graph

#: Largest relative difference accepted between two outputs, and largest absolute one as a
#: fraction of the reference's largest magnitude.
RTOL, ATOL = 1e-4, 1e-5


def compile_with(graph: Graph, weights: Mapping[str, Tensor]) -> GraphModule:
    """``graph`` compiled, holding ``weights`` (shared, not copied), in evaluation mode.

    Raises:
        CompileError: when the graph cannot be compiled.
        RuntimeError: when the weights do not fit the compiled module (missing,
            unexpected or differently shaped tensors).
    """
    with torch.device("meta"):
        module = compile_graph(graph)
    module.load_state_dict(dict(weights), strict=True, assign=True)
    if any(t.is_meta for t in chain(module.parameters(), module.buffers())):
        module = compile_graph(graph)  # a tensor outside the state_dict: build it for real
        module.load_state_dict(dict(weights), strict=True)
    return module.eval()


def outputs_of(result: Any) -> tuple[Tensor, ...]:
    """A forward result as a tuple of tensors (a tensor, or a tuple or list of them)."""
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def difference(result: Any, reference: Any) -> float | None:
    """Largest absolute difference between two forward results; None if shapes differ."""
    got, want = outputs_of(result), outputs_of(reference)
    if len(got) != len(want) or any(a.shape != b.shape for a, b in zip(got, want)):
        return None
    return max((float((a - b).abs().max()) if a.numel() else 0.0 for a, b in zip(got, want)),
               default=0.0)


def same_outputs(result: Any, reference: Any) -> bool:
    """Whether two forward results agree within :data:`RTOL`, and :data:`ATOL` times the
    reference's largest magnitude (so that tiny outputs are not equal by default)."""
    got, want = outputs_of(result), outputs_of(reference)
    return difference(result, reference) is not None and all(
        torch.allclose(a, b, rtol=RTOL, atol=ATOL * float(b.abs().max()) if b.numel() else 0.0)
        for a, b in zip(got, want))


def same_configuration(original: nn.Module, built: nn.Module,
                       renames: dict[str, str] | None = None) -> bool:
    """Whether ``built`` has, under the names of ``original``'s layers, the same layers.

    Every layer of ``original`` holding weights must exist in ``built`` with the same class
    and settings (``extra_repr``: kernel, stride, eps, momentum...); a weightless layer found
    under the same name must have the same class (ReLU is not SiLU). Settings that do not
    show in the outputs, such as batch norm's momentum, are caught here. ``renames`` maps
    ``original``'s names to ``built``'s where they differ (see
    :func:`~netbuilder.compiler.module_map.renamed`).
    """
    found = dict(built.named_modules())
    for name, layer in original.named_modules():
        if next(layer.children(), None) is not None:
            continue
        twin = found.get(renamed(name, renames or {}))
        stateful = next(iter(layer.state_dict()), None) is not None
        if twin is None:
            if stateful:
                return False
        elif type(twin) is not type(layer) or (stateful and
                                                twin.extra_repr() != layer.extra_repr()):
            return False
    return True


def reproduces(call: BlockCall, module: nn.Module, inputs: Tensor, output: Tensor) -> bool:
    """Whether the block ``call``, given ``module``'s weights, maps ``inputs`` to ``output``."""
    graph = Graph()
    try:
        source = graph.add("input", "input", shape=tuple(inputs.shape[1:]))
        node = graph.add(call.block, "block", after=source, **call.params)
        graph.add("output", "output", after=node)
        weights = {f"block.{renamed(key, call.renames)}": value
                   for key, value in module.state_dict().items()}
        compiled = compile_with(graph, weights)
        if not same_configuration(module, compiled.get_submodule("block"), call.renames):
            return False
        with torch.no_grad():
            return same_outputs(compiled(inputs), output)
    except (NetBuilderError, RuntimeError, ValueError, TypeError):
        return False
