"""Shapes: the analysis agrees with torch node by node, re-flows when the input or the
class count changes, and names the node where a too-small input collapses."""

from __future__ import annotations

import pytest
import torch

from netbuilder.compiler import CompileError, compile_graph
from netbuilder.core import commands as cmd
from netbuilder.core.analysis import Analysis, analyze
from netbuilder.core.document import Document
from netbuilder.core.graph import Graph
from netbuilder.templates import build_template
from tests.templates.helpers import hook_shapes, run

Shape = tuple[int, ...]


def paths(graph: Graph, analysis: Analysis) -> dict[str, Shape | None]:
    """Output shape of every node, by dotted path (``layer1.0.conv1``)."""
    return {".".join((*level.path(), node.name)): analysis.nodes[node.id].shape
            for level, node in graph.walk()}


def assert_hooks_match(graph: Graph, batch: int = 1) -> dict[str, Shape | None]:
    """Compile, run, and compare every node's hooked output shape with the analysis."""
    analysis = analyze(graph)
    assert analysis.ok, [i.message for i in analysis.errors]
    module = compile_graph(graph, analysis=analysis, seed=0)
    shape = module.input_shapes[0]
    names = module.node_modules()
    seen = hook_shapes(module, names, lambda: run(module, torch.randn(batch, *shape)))
    assert seen == {node_id: analysis.nodes[node_id].shape for node_id in names}
    return paths(graph, analysis)


def test_lenet5_has_the_layer_shapes_of_lenet5() -> None:
    shapes = assert_hooks_match(build_template("lenet5"))
    assert {k: shapes[k] for k in ("conv1", "pool1", "conv2", "pool2", "flatten", "fc1",
                                   "fc2", "fc3")} == {
        "conv1": (6, 28, 28), "pool1": (6, 14, 14), "conv2": (16, 10, 10),
        "pool2": (16, 5, 5), "flatten": (400,), "fc1": (120,), "fc2": (84,), "fc3": (10,)}


def test_lenet5_classic_has_the_papers_layer_shapes() -> None:
    shapes = assert_hooks_match(build_template("lenet5-classic"))
    assert {k: shapes[k] for k in ("c1", "s2", "c3", "s4", "c5", "f6", "f7")} == {
        "c1": (6, 28, 28), "s2": (6, 14, 14), "c3": (16, 10, 10), "s4": (16, 5, 5),
        "c5": (120, 1, 1), "f6": (84,), "f7": (10,)}


def test_zfnet_has_the_map_sizes_of_its_figure_3() -> None:
    shapes = paths(graph := build_template("zfnet"), analyze(graph))
    assert [shapes[f"features.{n}"][1:] for n in ("conv1", "pool1", "conv2", "pool2",
                                                   "conv5", "pool5")] == [
        (110, 110), (55, 55), (26, 26), (13, 13), (13, 13), (6, 6)]


def test_alexnet_paper_has_the_papers_map_sizes() -> None:
    shapes = paths(graph := build_template("alexnet-paper"), analyze(graph))
    assert [shapes[f"features.{n}"] for n in ("conv1", "pool1", "pool2", "conv4", "pool5")] \
        == [(96, 55, 55), (96, 27, 27), (256, 13, 13), (384, 13, 13), (256, 6, 6)]


@pytest.mark.parametrize(("name", "shape"), [
    ("alexnet-paper", (3, 67, 67)),
    ("googlenet", (3, 64, 64)),
    ("vgg11_bn", (3, 32, 32)),
    ("resnet20", (3, 32, 32)),
    ("resnext50_32x4d", (3, 48, 48)),
    ("densenet121", (3, 64, 64)),
    ("mobilenet_v2", (3, 32, 32)),
    ("mobilenet_v3_large", (3, 32, 32)),
    ("efficientnet_b0", (3, 32, 32)),
    ("convnext_tiny", (3, 32, 32)),
])
def test_node_shapes_equal_forward_hooks(name: str, shape: Shape) -> None:
    assert_hooks_match(build_template(name, input_shape=shape))


def test_resnet18_reflows_to_a_new_input_and_class_count() -> None:
    shapes = assert_hooks_match(build_template("resnet18", input_shape=(3, 96, 96),
                                               num_classes=10), batch=2)
    assert shapes["input"] == (3, 96, 96)
    assert [shapes[f"layer{i}"] for i in range(1, 5)] == [
        (64, 24, 24), (128, 12, 12), (256, 6, 6), (512, 3, 3)]
    assert shapes["fc"] == shapes["output"] == (10,)


def test_editing_the_input_and_head_reflows_like_a_fresh_build() -> None:
    document = Document(build_template("resnet18"))
    graph = document.graph
    document.push(cmd.set_param(graph, graph.by_name("input").id, "shape", (3, 96, 96)))
    document.push(cmd.set_param(graph, graph.by_name("fc").id, "out_features", 10))
    fresh = build_template("resnet18", input_shape=(3, 96, 96), num_classes=10)
    assert paths(graph, document.analysis) == paths(fresh, analyze(fresh))
    document.undo()
    document.undo()
    assert paths(graph, document.analysis)["layer4"] == (512, 7, 7)


@pytest.mark.parametrize(("name", "shape", "path", "reason"), [
    ("alexnet", (3, 32, 32), "features.12", "kernel 3×3 with stride 2×2 does not fit"),
    ("alexnet-paper", (3, 32, 32), "features.pool2", "does not fit the padded input 2×2"),
    ("vgg11", (3, 16, 16), "features.block5.pool", "kernel 2×2"),
    ("lenet5-classic", (1, 16, 16), "c5", "kernel 5×5 is larger than the padded input 1×1"),
    ("googlenet", (3, 8, 8), "maxpool3", "the output would be 0×0"),
    ("densenet121", (3, 16, 16), "features.transition3.pool", "the output would be 0×0"),
])
def test_a_too_small_input_names_the_failing_node(name: str, shape: Shape, path: str,
                                                  reason: str) -> None:
    graph = build_template(name, input_shape=shape)
    analysis = analyze(graph)
    failing = [".".join((*graph.find(i.node)[0].path(), graph.find(i.node)[1].name))
               for i in analysis.errors if i.node is not None]
    assert failing == [path]
    assert reason in analysis.errors[0].message
    with pytest.raises(CompileError) as error:
        compile_graph(graph, analysis=analysis)
    assert error.value.nodes[0] == analysis.errors[0].node
    assert f"  {path}: " in error.value.message  # named by its module path
    assert analysis.errors[0].message.startswith(f"{path}: ")
