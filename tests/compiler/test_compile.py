"""The compiled module computes what the analysis predicts, under stable, readable names."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from netbuilder.compiler import CompileError, GraphModule, compile_graph
from netbuilder.compiler.module import allocate_slots
from netbuilder.compiler.plan import make_plan
from netbuilder.core.analysis import analyze
from netbuilder.core.errors import InvalidNameError
from netbuilder.core.graph import Graph
from tests.compiler.graphs import (
    example_inputs,
    group,
    hooked_outputs,
    random_graphs,
    small_resnet,
)

RANDOM = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _shapes(output: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[tuple[int, ...], ...]:
    items = output if isinstance(output, tuple) else (output,)
    return tuple(tuple(t.shape[1:]) for t in items)


@RANDOM
@given(random_graphs())
def test_hooked_shapes_and_parameter_counts_match_the_analysis(graph: Graph) -> None:
    analysis = analyze(graph)
    module = compile_graph(graph, analysis=analysis).eval()
    mapping = module.node_modules()
    blocks = {n.id for _, n in graph.walk() if n.id in mapping}
    assert blocks == {n.id for _, n in graph.walk()
                      if n.type not in ("input", "output", "group_input", "group_output")}
    seen = hooked_outputs(module, example_inputs(module))
    assert set(seen) == set(mapping)
    for node_id, outputs in seen.items():
        assert len(outputs) == 1, f"{mapping[node_id]} ran {len(outputs)} times"
        expected = tuple(analysis.nodes[node_id].outputs.values())
        assert _shapes(outputs[0]) == expected, mapping[node_id]
    assert sum(p.numel() for p in module.parameters()) == analysis.total_params
    buffers = sum(b.numel() for name, b in module.named_buffers()
                  if not name.endswith("num_batches_tracked"))
    assert buffers == analysis.total_buffers


def test_state_dict_keys_are_dotted_node_name_paths() -> None:
    module = compile_graph(small_resnet())
    keys = list(module.state_dict())
    assert keys[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]
    assert "layer1.0.conv1.weight" in keys and "layer1.1.bn2.running_var" in keys
    assert "layer2.0.downsample.0.weight" in keys and "layer2.0.downsample.1.bias" in keys
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    assert all(k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2", "fc") for k in keys)


def test_every_node_maps_to_its_module() -> None:
    graph = small_resnet()
    module = compile_graph(graph)
    layer2 = graph.by_name("layer2")
    assert layer2.body is not None
    conv = layer2.body.by_name("0").body.by_name("conv1")  # type: ignore[union-attr]
    assert module.qualified_name(conv.id) == "layer2.0.conv1"
    assert module.node_module(conv.id) is module.layer2.get_submodule("0.conv1")
    assert module.qualified_name(graph.by_name("relu").id) == "relu"
    assert isinstance(module.node_module(layer2.id), GraphModule)
    with pytest.raises(KeyError, match="no module"):
        module.qualified_name(graph.by_name("x").id)


def test_parameter_free_blocks_are_modules_too() -> None:
    module = compile_graph(small_resnet())
    names = set(module.node_modules().values())
    assert {"relu", "flatten", "avgpool", "layer1.0.add", "layer1.0.relu2"} <= names


def test_multiple_inputs_in_node_order_and_outputs_as_a_tuple() -> None:
    graph = Graph()
    a = graph.add("input", "a", shape=(2, 4, 4))
    b = graph.add("input", "b", shape=(3, 4, 4))
    cat = graph.add("concat", "cat")
    graph.connect(b, cat)
    graph.connect(a, cat)
    graph.add("output", "joined", after=cat)
    graph.add("output", "first", after=a)
    module = compile_graph(graph)
    xa, xb = torch.randn(1, 2, 4, 4), torch.randn(1, 3, 4, 4)
    joined, first = module(xa, xb)
    assert torch.equal(joined, torch.cat([xb, xa], dim=1))
    assert first is xa
    with pytest.raises(TypeError, match="expected 2 input"):
        module(xa)


def test_multi_output_group_feeds_consumers_by_port() -> None:
    graph = Graph()
    x = graph.add("input", "x", shape=(2, 6, 6))
    relu = graph.add("relu", "relu", after=x)
    sig = graph.add("sigmoid", "sig", after=x)
    mul = graph.add("multiply", "mul")
    graph.connect(sig, mul)
    graph.connect(relu, mul)
    graph.add("output", "out", after=mul)
    group(graph, ["relu", "sig"], "pair")
    module = compile_graph(graph)
    inp = torch.randn(3, 2, 6, 6)
    assert torch.allclose(module(inp), torch.sigmoid(inp) * torch.relu(inp))
    assert isinstance(module.pair(inp), tuple)


def test_slots_are_reused_once_values_are_dead() -> None:
    graph = Graph()
    last = graph.chain(*[("relu", f"r{i}", {}) for i in range(6)],
                       after=graph.add("input", "x", shape=(4,)))
    graph.add("output", "out", after=last)
    assert allocate_slots(make_plan(graph, top=True)).size == 1
    layer1 = small_resnet().by_name("layer1").body
    assert layer1 is not None
    block = layer1.by_name("0").body
    assert block is not None
    assert allocate_slots(make_plan(block, top=False)).size == 2  # the branch and x


def test_refuses_a_graph_with_errors_naming_the_node() -> None:
    graph = Graph()
    x = graph.add("input", "x", shape=(3, 8, 8))
    wide = graph.add("conv2d", "wide", after=x, out_channels=4, kernel_size=1)
    narrow = graph.add("conv2d", "narrow", after=x, out_channels=5, kernel_size=1)
    add = graph.add("add", "merge")
    graph.connect(wide, add)
    graph.connect(narrow, add)
    graph.add("output", "out", after=add)
    with pytest.raises(CompileError) as caught:
        compile_graph(graph)
    assert "merge" in caught.value.message and "wide" in caught.value.message
    assert add.id in caught.value.nodes and caught.value.issues


def test_errors_inside_groups_name_the_group_path() -> None:
    graph = Graph()
    x = graph.add("input", "x", shape=(3, 4, 4))
    conv = graph.add("conv2d", "conv", after=x, out_channels=2, kernel_size=3)
    graph.add("output", "out", after=conv)
    block = group(graph, ["conv"], "stage")
    assert block.body is not None
    inner = block.body.by_name("conv")
    block.body._set_params(inner.id, {"out_channels": 2, "kernel_size": 7})
    with pytest.raises(CompileError, match=r"stage.conv: .*7") as caught:
        compile_graph(graph)
    assert inner.id in caught.value.nodes


def test_refuses_graphs_without_output_and_reserved_names() -> None:
    graph = Graph()
    x = graph.add("input", "x", shape=(4,))
    graph.add("relu", "relu", after=x)
    with pytest.raises(CompileError, match="no output"):
        compile_graph(graph)
    with pytest.raises(InvalidNameError, match="'forward' is reserved"):
        graph.add("relu", "forward", after=x)
    node = graph.add("relu", "act", after=x)
    graph.add("output", "out", after=node)
    node.name = "forward"  # as a hand-edited file could, bypassing the model's check
    with pytest.raises(CompileError, match="'forward' is reserved"):
        compile_graph(graph)


def test_refuses_io_nodes_inside_groups() -> None:
    graph = Graph()
    x = graph.add("input", "x", shape=(4,))
    graph.add("output", "out", after=graph.add("relu", "relu", after=x))
    stage = group(graph, ["relu"], "stage")
    assert stage.body is not None
    stray = stage.body.add("input", "stray", shape=(4,))
    stage.body.connect(stray, stage.body.add("tanh", "tanh"))
    with pytest.raises(CompileError, match=r"stray: input nodes cannot be used in a group"):
        compile_graph(graph)


def test_deepcopy_pickle_and_state_dict_round_trips() -> None:
    module = compile_graph(small_resnet(), seed=1).eval()
    inputs = example_inputs(module)
    expected = module(*inputs)
    clone = copy.deepcopy(module)
    assert torch.equal(clone(*inputs), expected)
    assert clone.node_module(next(iter(clone.node_modules()))) is not module.conv1
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    assert torch.equal(torch.load(buffer, weights_only=False)(*inputs), expected)
    state = pickle.loads(pickle.dumps(copy.deepcopy(module.state_dict())))
    other = compile_graph(small_resnet(), seed=2).eval()
    other.load_state_dict(state)
    assert torch.equal(other(*inputs), expected)


def test_torch_compile_traces_the_whole_graph() -> None:
    torch._dynamo.reset()
    module = compile_graph(small_resnet(), seed=0).eval()
    inputs = example_inputs(module)
    compiled = torch.compile(module, fullgraph=True, backend="eager")
    assert torch.allclose(compiled(*inputs), module(*inputs))
