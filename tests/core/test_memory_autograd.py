"""The planner's saved-for-backward bytes equal what autograd saves (issue 17.2).

For every template (at a small input and batch 2; the big ones marked slow) and for
random graphs, the activations the planner says the forward pass keeps for backward
match, within 5 %, the distinct storages torch's ``saved_tensors_hooks`` see.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from netbuilder.compiler import compile_graph
from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.core.memory import MemorySettings, plan_memory
from netbuilder.templates import build_template, template_names
from netbuilder.training.probes import saved_bytes
from tests.compiler.graphs import random_graphs
from tests.compiler.test_autograd_rules import SAMPLE_PARAMS
from tests.compiler.test_autograd_rules import _cases as autograd_cases

BATCH = 2
#: Templates that take more than a few seconds on a CPU, even at a small input.
SLOW = {"resnet101", "resnet152", "densenet121", "wide_resnet50_2", "resnext50_32x4d",
        "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "alexnet-paper", "zfnet", "alexnet"}
#: A small input that every template accepts.
SMALL_INPUTS = {"lenet5": None, "lenet5-classic": None, "alexnet": (3, 67, 67),
                "alexnet-paper": (3, 67, 67), "zfnet": (3, 67, 67), "googlenet": (3, 64, 64),
                "nin": (3, 67, 67), "densenet121": (3, 64, 64)}


def predicted_and_measured(graph: Graph, batch: int = BATCH,
                           precision: str = "fp32") -> tuple[int, int]:
    """The planner's saved bytes and autograd's, for one training-mode forward pass.

    ``bf16`` runs the forward pass under CPU autocast.
    """
    analysis = analyze(graph)
    assert analysis.ok, [i.message for i in analysis.errors]
    plan = plan_memory(graph, analysis, MemorySettings(batch=batch, precision=precision,
                                                     device="cpu"))
    assert not plan.uncosted
    torch.manual_seed(0)
    module = compile_graph(graph, analysis=analysis, seed=0).train()
    inputs = torch.randn(batch, *module.input_shapes[0])
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision != "fp32"):
        return plan.saved, saved_bytes(module, inputs)


def _template_cases() -> list[object]:
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
            for name in template_names()]


@pytest.mark.parametrize("name", _template_cases())
def test_template_saved_bytes_match_autograd(name: str) -> None:
    shape = SMALL_INPUTS.get(name, (3, 32, 32))
    graph = build_template(name, input_shape=shape) if shape else build_template(name)
    predicted, measured = predicted_and_measured(graph)
    assert predicted == pytest.approx(measured, rel=0.05)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(random_graphs())
def test_random_graph_saved_bytes_match_autograd(graph: Graph) -> None:
    predicted, measured = predicted_and_measured(graph)
    assert predicted == pytest.approx(measured, rel=0.05)


@pytest.mark.parametrize("name", ["lenet5", "resnet20", "vgg11_bn", "googlenet"])
def test_mixed_precision_saved_bytes_match_autograd_under_autocast(name: str) -> None:
    shape = SMALL_INPUTS.get(name, (3, 32, 32))
    graph = build_template(name, input_shape=shape) if shape else build_template(name)
    predicted, measured = predicted_and_measured(graph, precision="bf16")
    assert predicted == pytest.approx(measured, rel=0.05)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(random_graphs())
def test_random_graph_mixed_precision_saved_bytes_match_autograd(graph: Graph) -> None:
    predicted, measured = predicted_and_measured(graph, precision="bf16")
    assert predicted == pytest.approx(measured, rel=0.05)


@pytest.mark.parametrize("block", ["lrn", "prelu"])
@pytest.mark.parametrize("after_conv", [True, False], ids=["half-input", "float-input"])
def test_autocast_result_dtype_is_followed(block: str, after_conv: bool) -> None:
    """Local response norm returns float32 under CPU autocast (its ``avg_pool3d`` runs in
    float32) and PReLU half precision (lower-precision list): what they and the max
    pool after them keep has that dtype. A dead branch (a batch norm whose result goes
    nowhere) saves what it saves all the same.
    """
    graph = Graph()
    x = graph.add("input", shape=(3, 9, 9))
    source = graph.add("conv2d", after=x, out_channels=4, padding=1) if after_conv else x
    middle = graph.add(block, after=source)
    graph.add("batchnorm2d", "dead", after=middle)
    graph.chain(("maxpool2d", "pool", {"kernel_size": 2}), "output", after=middle)
    predicted, measured = predicted_and_measured(graph, precision="bf16")
    assert predicted == pytest.approx(measured, rel=0.05)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_split_parts_and_reshapes_are_views_of_their_input(precision: str) -> None:
    """A split's parts and a reshape share their input's storage: what the blocks after
    them keep is counted once, and neither node is left uncosted."""
    graph = Graph()
    x = graph.add("input", shape=(4, 6, 6))
    conv = graph.add("conv2d", after=x, out_channels=6, padding=1)
    split = graph.add("split", after=conv, chunks=2, dim=1)
    left = graph.add("conv2d", out_channels=3, kernel_size=1)
    right = graph.add("sigmoid")
    graph.connect(split.id, left.id, source_port="out0")
    graph.connect(split.id, right.id, source_port="out1")
    both = graph.add("multiply")
    graph.connect(left.id, both.id)
    graph.connect(right.id, both.id)
    graph.chain(("reshape", "tokens", {"shape": "3, 36"}), ("linear", "fc", {"out_features": 5}),
                "output", after=both)
    predicted, measured = predicted_and_measured(graph, precision=precision)
    assert predicted == pytest.approx(measured, rel=0.05)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize(("dropout", "attention_dropout"), [(0.0, 0.0), (0.1, 0.0), (0.1, 0.1)])
def test_a_small_vit_saves_what_autograd_saves(precision: str, dropout: float,
                                               attention_dropout: float) -> None:
    """Patch embedding, two encoder blocks (attention: the CPU's fused kernel without
    attention dropout, its math path with it, in float32 under autocast), the class
    token's head."""
    graph = Graph()
    x = graph.add("input", shape=(3, 32, 32))
    encoder = {"hidden_dim": 32, "num_heads": 4, "mlp_dim": 64, "dropout": dropout,
               "attention_dropout": attention_dropout}
    graph.chain(("patch_embedding", "embed", {"patch_size": 8, "hidden_dim": 32,
                                              "dropout": dropout}),
                ("transformer_encoder", "encoder1", encoder),
                ("transformer_encoder", "encoder2", encoder),
                ("layernorm", "norm", {}), ("token_select", "cls", {}),
                ("linear", "head", {"out_features": 10}), "output", after=x)
    predicted, measured = predicted_and_measured(graph, precision=precision)
    assert predicted == pytest.approx(measured, rel=0.05)


@pytest.mark.parametrize(("key", "inplace"), autograd_cases())
def test_each_block_saves_what_autograd_saves(key: str, inplace: bool) -> None:
    """``input → conv → block → conv → output``: the block between two convolutions."""
    dims = 1 if key.endswith("1d") else 3 if key.endswith("3d") else 2
    graph = Graph()
    x = graph.add("input", shape={1: (4, 8), 2: (4, 8, 8), 3: (4, 4, 6, 6)}[dims])
    conv = graph.add(f"conv{dims}d", after=x, out_channels=4, padding=1)
    params = dict(SAMPLE_PARAMS.get(key, {}), **({"inplace": True} if inplace else {}))
    block = graph.add(key, "block", after=conv, **params)
    graph.chain((f"conv{dims}d", "after", {"out_channels": 4, "padding": 1}), "output",
                after=block)
    analysis = analyze(graph)
    if not analysis.ok:
        pytest.skip(f"no sample network for {key}: {analysis.errors[0].message}")
    plan = plan_memory(graph, analysis, MemorySettings(batch=BATCH, device="cpu"))
    if plan.uncosted:
        pytest.skip(f"{key} has no memory rule in netbuilder.core.memory_rules")
    predicted, measured = predicted_and_measured(graph)
    assert predicted == pytest.approx(measured, rel=0.05)
