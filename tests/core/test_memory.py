"""The memory planner's arithmetic, settings and bad input (issue 17.1)."""

from __future__ import annotations

from typing import Any

import pytest

from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.core.memory import (
    MemoryPlan,
    MemorySettings,
    format_bytes,
    largest_batch,
    plan_memory,
)
from tests.core.toyblocks import toy_registry


def small_net(inplace: bool = False) -> Graph:
    """input 3×8×8 → conv(4) → bn → relu → flatten → linear(10) → output."""
    graph = Graph()
    x = graph.add("input", shape=(3, 8, 8))
    graph.chain(("conv2d", "conv", {"out_channels": 4, "padding": 1}),
                ("batchnorm2d", "bn", {}), ("relu", "act", {"inplace": inplace}),
                "flatten", ("linear", "fc", {"out_features": 10}), "output", after=x)
    return graph


def plan_of(graph: Graph, **settings: Any) -> MemoryPlan:
    """The plan of ``graph`` for ``MemorySettings(**settings)``."""
    return plan_memory(graph, analyze(graph), MemorySettings(**settings))


def test_each_block_keeps_what_autograd_needs_with_its_arithmetic() -> None:
    graph = small_net()
    plan = plan_of(graph, batch=2)
    saved = {graph.by_name(n).id: plan.nodes[graph.by_name(n).id].saved
             for n in ("conv", "bn", "act", "fc")}
    conv, bn, act, fc = (graph.by_name(n).id for n in ("conv", "bn", "act", "fc"))
    assert saved[conv] == 2 * 3 * 8 * 8 * 4            # its input
    assert saved[bn] == 2 * 4 * 8 * 8 * 4 + 2 * 4 * 4  # its input, mean and invstd
    assert saved[act] == 2 * 4 * 8 * 8 * 4             # its output
    assert saved[fc] == 0                              # the ReLU's output, already kept
    assert "saved: input 2·192·4 B = 1.54 kB" in plan.nodes[conv].formulas
    assert any("already kept" in f for f in plan.nodes[fc].formulas)
    assert plan.saved == sum(saved.values())


def test_an_in_place_relu_writes_no_new_tensor_and_keeps_the_one_it_overwrote() -> None:
    graph = small_net(True)
    in_place, out_of_place = plan_of(graph, batch=4), plan_of(small_net(), batch=4)
    act = in_place.nodes[graph.by_name("act").id]
    assert act.output == 0 and act.saved == 4 * 4 * 8 * 8 * 4
    assert in_place.saved == out_of_place.saved


def test_state_follows_the_optimiser_and_the_peak_adds_up() -> None:
    graph = small_net()
    params = analyze(graph).total_params
    sgd, momentum, adam = (plan_of(graph, optimizer=o) for o in ("sgd", "momentum", "adam"))
    assert (sgd.optimizer, momentum.optimizer, adam.optimizer) == (0, 4 * params,
                                                                  8 * params)
    assert adam.gradients == 4 * params
    assert adam.training_peak == (adam.weights + adam.gradients + adam.optimizer
                                  + adam.saved + adam.backward_work)
    assert adam.inference_peak < adam.training_peak
    assert "= " + format_bytes(adam.training_peak) in adam.formulas()[1]


def test_mixed_precision_halves_activations_but_keeps_float32_state() -> None:
    graph = small_net()
    fp32, bf16 = plan_of(graph, batch=64), plan_of(graph, batch=64, precision="bf16")
    assert bf16.weights == fp32.weights and bf16.gradients == fp32.gradients
    assert bf16.saved < 0.75 * fp32.saved


def test_cuda_autocast_rules_differ_from_the_cpu_ones() -> None:
    """CUDA's fp32 list (read from ATen, not measured here): upsample returns float32, so
    the batch norm after it keeps a float32 input; local response norm's padded squares
    keep the input's half dtype on CUDA and are float32 on the CPU (measured there)."""
    graph = Graph()
    x = graph.add("input", shape=(3, 8, 8))
    graph.chain(("conv2d", "conv", {"out_channels": 4, "padding": 1}),
                ("upsample", "up", {}), ("batchnorm2d", "bn", {}), "output", after=x)
    graph.chain(("lrn", "lrn", {"size": 3}), "output", after=graph.by_name("conv"))
    cuda, cpu = (plan_of(graph, batch=2, precision="bf16", device=d) for d in ("cuda", "cpu"))
    bn, lrn = graph.by_name("bn").id, graph.by_name("lrn").id
    upsampled = 2 * 4 * 16 * 16
    assert cuda.nodes[bn].saved - cpu.nodes[bn].saved == upsampled * (4 - 2)
    padded = 2 * (4 + 3 - 1) * 8 * 8
    assert cpu.nodes[lrn].saved - cuda.nodes[lrn].saved == padded * (4 - 2)


def test_saved_activations_grow_with_the_batch() -> None:
    graph = small_net()
    one, eight = plan_of(graph, batch=1), plan_of(graph, batch=8)
    assert eight.weights == one.weights
    assert eight.saved > 7 * one.saved


def test_largest_batch_fits_and_the_next_does_not() -> None:
    graph = small_net()
    analysis = analyze(graph)
    budget = 5e6
    batch = largest_batch(graph, analysis, budget)
    assert batch > 1
    assert plan_memory(graph, analysis, MemorySettings(batch=batch)).training_peak <= budget
    assert plan_memory(graph, analysis, MemorySettings(batch=batch + 1)).training_peak \
        > budget
    assert largest_batch(graph, analysis, 10) == 0


@pytest.mark.parametrize("batch", [0, -3, 1.5, True])
def test_a_batch_below_one_is_refused(batch: object) -> None:
    with pytest.raises(ValueError, match="batch size"):
        MemorySettings(batch=batch)  # type: ignore[arg-type]


def test_a_negative_budget_and_unknown_settings_are_refused() -> None:
    graph = small_net()
    with pytest.raises(ValueError, match="negative"):
        largest_batch(graph, analyze(graph), -1)
    with pytest.raises(ValueError, match="optimizer"):
        MemorySettings(optimizer="lbfgs")


def test_a_graph_with_errors_is_costed_where_it_can_be() -> None:
    graph = small_net()
    x = next(n for n in graph.nodes.values() if n.type == "input")
    bad = graph.add("conv2d", "bad", after=x, out_channels=4, kernel_size=9)
    graph.chain(("relu", "after_bad", {}), after=bad)
    plan = plan_of(graph, batch=2)
    assert set(plan.uncosted) == {bad.id, graph.by_name("after_bad").id}
    assert "not costed" in plan.nodes[bad.id].formulas[0]
    assert plan.nodes[graph.by_name("conv").id].saved == 2 * 3 * 8 * 8 * 4


def test_format_bytes() -> None:
    assert [format_bytes(n) for n in (512, 1540, 1.93e9, 250e6)] == [
        "512 B", "1.54 kB", "1.93 GB", "250 MB"]


def test_a_block_without_a_memory_rule_is_named_and_the_rest_is_costed() -> None:
    graph = Graph(toy_registry())
    x = graph.add("input", shape=(8,))
    dense = graph.add("dense", after=x, width=4)
    graph.add("output", after=dense)
    plan = plan_of(graph, batch=2)
    assert plan.uncosted == [dense.id]
    assert "no memory rule for block 'dense'" in plan.nodes[dense.id].formulas[-1]
