"""Chunks, splits and reshapes of imported models become real blocks.

``a, b = x.chunk(2, 1)`` (and ``torch.chunk``, ``x.split``, ``torch.split``) traces to one
call returning a tuple and ``getitem`` calls taking its parts: it imports as one ``split``
node whose output ports feed the parts' users. Reshapes that keep the batch and are not a
flatten import as ``reshape`` nodes. The imported graph computes what the model computes.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from netbuilder.compiler import compile_graph
from netbuilder.compiler.importer import import_module
from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph, Node


class Gated(nn.Module):
    """A gated convolution written the way people write it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(4, 5)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.conv(x).chunk(2, 1)
        return self.head((a * torch.sigmoid(b)).mean((2, 3)))


class Parts(nn.Module):
    """Every spelling of a cut, some parts unused, one taken from the end."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 7, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        a, b, c = torch.chunk(y, 3, dim=1)  # 3, 3, 1 channels
        first, _rest = y.split(4, dim=1)  # 4, 3
        pieces = torch.split(y, [2, 5], 1)
        wide = torch.split(y, 2, dim=-1)  # 8 columns: four parts of 2
        rolled = torch.cat([wide[3], wide[0], wide[1], wide[2]], -1)
        return torch.cat([a + b, F.relu(c), first, pieces[-1], rolled], 1)


class Reshapes(nn.Module):
    """Reshapes to constant sizes, and one to sizes computed from the input."""

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.size()
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous()  # sizes from the input
        x = x.view(x.size(0), 3, 4, -1)
        return torch.reshape(x, (-1, 2, 18)).relu()


def _nodes(graph: Graph, kind: str) -> list[Node]:
    return [n for _level, n in graph.walk() if n.type == kind]


def test_tuple_unpacking_of_a_chunk_imports_as_one_split() -> None:
    torch.manual_seed(0)
    model = Gated().eval()
    result = import_module(model, (3, 6, 6))
    assert result.max_difference is not None and result.max_difference < 1e-5
    assert not _nodes(result.graph, "opaque")
    (split,) = _nodes(result.graph, "split")
    assert split.resolved["chunks"] == 2 and split.resolved["dim"] == 1
    graph = result.graph
    assert {e.source_port for e in graph.out_edges(split.id)} == {"out0", "out1"}
    sample = torch.randn(2, 3, 6, 6)
    compiled = compile_graph(graph).eval()
    compiled.load_state_dict(result.weights)
    torch.testing.assert_close(compiled(sample), model(sample))


def test_every_spelling_of_a_cut_becomes_a_split_with_its_ports() -> None:
    torch.manual_seed(0)
    model = Parts().eval()
    result = import_module(model, (3, 4, 8))
    assert result.max_difference is not None and result.max_difference < 1e-5
    assert not _nodes(result.graph, "opaque")
    splits = {n.name: n for n in _nodes(result.graph, "split")}
    cuts = {(n.resolved["sizes"] or f"{n.resolved['chunks']} chunks", n.resolved["dim"])
            for n in splits.values()}
    assert cuts == {("3 chunks", 1), ("4, 3", 1), ("2, 5", 1), ("2, 2, 2, 2", -1)}
    analysis = analyze(result.graph)
    assert analysis.ok
    cut = next(n for n in splits.values() if n.params.get("chunks") == 3)
    assert analysis.info(cut.id).outputs == {"out0": (3, 4, 8), "out1": (3, 4, 8),
                                             "out2": (1, 4, 8)}


def test_reshapes_to_constant_sizes_become_reshape_blocks() -> None:
    result = import_module(Reshapes(), (4, 3, 3))
    assert result.max_difference is not None and result.max_difference < 1e-6
    shapes = [n.resolved["shape"] for n in _nodes(result.graph, "reshape")]
    assert shapes == ["3, 4, -1", "2, 18"]
    assert "torch:Tensor.view" in [n.params["target"] for n in _nodes(result.graph, "opaque")]


class OnePart(nn.Module):
    """A split into one part."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(torch.split(x, 4, 1)[0])


class Reversed(nn.Module):
    """The parts used together, not one by one."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(torch.cat(x.chunk(2, 1)[::-1], 1))


@pytest.mark.parametrize("model", [OnePart(), Reversed()], ids=["one part", "slice"])
def test_other_cuts_stay_opaque_calls_and_compute_the_same(model: nn.Module) -> None:
    result = import_module(model, (4,))
    assert result.max_difference is not None and result.max_difference < 1e-6
    assert not _nodes(result.graph, "split") and _nodes(result.graph, "opaque")
