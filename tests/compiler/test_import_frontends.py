"""``netbuilder import`` and the editor's import write the same project.

Both front ends call :meth:`ImportResult.write_weights`; this checks what they produce:
the same graph, the same ``checkpoint`` inits and the same ``meta``, but for where the
weights file lies (beside the project for the CLI, in the application's data folder for
the editor).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from netbuilder import cli
from netbuilder.compiler import compile_graph
from netbuilder.compiler.import_job import import_to_file, parse_request
from netbuilder.core.graph import Graph
from netbuilder.core.inits import is_checkpoint_init
from netbuilder.core.serialize import Project, dumps, load

SHAPE = (3, 8, 8)


class Head(nn.Module):
    """A nested module (a group in the graph)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(x, 1))


class TinyNet(nn.Module):
    """A convolution, a batch norm and a pool, then a head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = Head()

    def forward(self, x: Tensor) -> Tensor:
        return self.head(nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2))


def tiny_net() -> nn.Module:
    """The factory both front ends import: the same weights on every call."""
    torch.manual_seed(0)
    return TinyNet()


def normalised(project: Project, weights: Path, folder: Path) -> dict[str, Any]:
    """The project's JSON with the weights file's path replaced by ``<weights>``.

    ``meta["weights"]`` is checked to name ``weights`` from ``folder`` and then dropped.
    """
    data = json.loads(dumps(project))
    assert (folder / data["meta"].pop("weights")).resolve() == weights
    return json.loads(json.dumps(data).replace(json.dumps(str(weights))[1:-1], "<weights>"))


def layers_loading_weights(graph: Graph) -> list[str]:
    return [node.name for _level, node in graph.walk() if is_checkpoint_init(node.init)]


def test_the_cli_and_the_editor_write_the_same_project(tmp_path: Path) -> None:
    factory = f"{__name__}:tiny_net"
    output = tmp_path / "project" / "tiny.nbproj"
    output.parent.mkdir()
    assert cli.main(["import", factory, "--input-shape", "3x8x8", "-o", str(output)]) == 0
    by_cli = load(output)
    cli_weights = output.with_suffix(".pt").resolve()

    imported = import_to_file(parse_request(factory, "3, 8, 8", ""), tmp_path / "editor")
    assert imported is not None
    by_editor = Project(imported.graph, meta=imported.meta)
    assert imported.weights_file.parent == (tmp_path / "editor").resolve()

    assert layers_loading_weights(by_cli.graph) == ["conv", "bn", "fc"]
    assert layers_loading_weights(by_editor.graph) == ["conv", "bn", "fc"]
    assert normalised(by_cli, cli_weights, output.parent) == \
        normalised(by_editor, imported.weights_file, output.parent)

    x = torch.randn(2, *SHAPE)
    model = tiny_net().eval()
    for project in (by_cli, by_editor):
        with torch.no_grad():
            assert torch.allclose(compile_graph(project.graph).eval()(x), model(x), atol=1e-6)
