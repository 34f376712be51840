"""Importing torchvision's classifiers and comparing their counts with the published ones.

:func:`survey` imports one classifier built without weights (random initialisation, no
network), checks that the compiled graph computes what the model computes on an input as
small as the model allows, then re-analyses the graph at the input size of the builder's
default weights and returns the parameters and multiply-adds beside the weights'
``meta["num_params"]`` and ``meta["_ops"]`` (GMACs). Used by the coverage test and by
``bench/torchvision_table.py``, which writes the README's table.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, replace
from typing import Any

import torch
import torchvision
from torch import nn

from netbuilder.compiler.importer import ImportResult, ModelImportError, import_module
from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.core.spec import INPUT

#: Input side used to compare outputs, where the model accepts any size (at least the
#: weights' ``min_size``).
SMALL_SIDE = 64
#: Families whose models take only the input size they were built for.
_FIXED_SIZE = ("vit_", "maxvit_")
#: Builder arguments that make the model the weights describe (no auxiliary heads: the
#: weights' ``num_params`` leave them out) and skip slow initialisation.
_BUILDER_KWARGS: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"aux_logits": False, "init_weights": False},
}


@dataclass(frozen=True)
class Survey:
    """One classifier imported and counted.

    Attributes:
        name: The builder's name (``resnet50``).
        side: Input side of the default weights (224, 518...).
        params: Parameters the imported graph reports.
        macs: Multiply-adds per image the imported graph reports at ``side``.
        expected_params: The default weights' ``meta["num_params"]``.
        expected_gmacs: The default weights' ``meta["_ops"]``.
        max_difference: Largest output difference between model and import.
        opaque: How many opaque nodes the graph holds.
        nodes: How many nodes, at every depth.
        seconds: Time the import and analysis took.
        error: Why the import was refused (empty when it succeeded).
    """

    name: str
    side: int
    params: int = 0
    macs: int = 0
    expected_params: int = 0
    expected_gmacs: float = 0.0
    max_difference: float | None = None
    opaque: int = 0
    nodes: int = 0
    seconds: float = 0.0
    error: str = ""

    @property
    def gmacs(self) -> float:
        """Multiply-adds in billions."""
        return self.macs / 1e9

    @property
    def macs_ratio(self) -> float:
        """Reported over published multiply-adds."""
        return self.gmacs / self.expected_gmacs if self.expected_gmacs else float("nan")


def classifiers() -> list[str]:
    """Every classification builder torchvision registers."""
    return list(torchvision.models.list_models(module=torchvision.models))


def weights_meta(name: str) -> tuple[dict[str, Any], int]:
    """The default weights' metadata and input side (available offline)."""
    weights = torchvision.models.get_model_weights(name).DEFAULT
    crop = weights.transforms().crop_size
    return dict(weights.meta), int(crop[0] if isinstance(crop, (list, tuple)) else crop)


def build(name: str, side: int) -> nn.Module:
    """The classifier without weights, built for input ``side`` where that matters."""
    kwargs = dict(_BUILDER_KWARGS.get(name, {}))
    if name.startswith("vit_"):
        kwargs["image_size"] = side
    return torchvision.models.get_model(name, weights=None, **kwargs).eval()


def survey(name: str, small: bool = True) -> Survey:
    """Import ``name``, verify it, and count it at its weights' input size."""
    meta, side = weights_meta(name)
    row = Survey(name, side, expected_params=int(meta["num_params"]),
                 expected_gmacs=float(meta["_ops"]))
    start = time.perf_counter()
    torch.manual_seed(0)
    model = build(name, side)
    fixed = name.startswith(_FIXED_SIZE) or not small
    least = max(SMALL_SIDE, *meta.get("min_size", (1,)))
    try:
        result = import_module(model, (3, side, side) if fixed else (3, least, least),
                               name=name)
    except ModelImportError as error:
        return replace(row, error=str(error).splitlines()[0],
                       seconds=time.perf_counter() - start)
    finally:
        del model
        gc.collect()
    return _counted(row, result, side, time.perf_counter() - start)


def _counted(row: Survey, result: ImportResult, side: int, elapsed: float) -> Survey:
    graph = result.graph
    _resize_input(graph, (3, side, side))
    start = time.perf_counter()
    analysis = analyze(graph)
    if not analysis.ok:
        return replace(row, error=f"does not analyse at {side}×{side}: "
                                  f"{analysis.errors[0].message}")
    nodes = [node for _level, node in graph.walk()]
    return replace(row, params=analysis.total_params, macs=analysis.total_macs,
                   max_difference=result.max_difference, nodes=len(nodes),
                   opaque=sum(n.type == "opaque" for n in nodes),
                   seconds=elapsed + time.perf_counter() - start)


def _resize_input(graph: Graph, shape: tuple[int, ...]) -> None:
    """Set the input node's shape (a graph no document holds: no undo step)."""
    for node in graph.nodes.values():
        if node.type == INPUT:
            node.params = {**node.params, "shape": shape}
            node.resolved = graph.spec(node).resolve(node.params, node.name)
