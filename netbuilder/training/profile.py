"""Measured time per node: forward and backward of the compiled module under torch.profiler.

Every block module runs inside a ``record_function`` range named after its node, so the
profiler's forward ops fall under the node that ran them. Each forward op carries an
autograd sequence number, and the backward function the engine runs for it
(``autograd::engine::evaluate_function: ConvolutionBackward0``) carries the same number,
so backward time goes to the node whose forward created it. What is left (the loss, the
engine's own work, gradient accumulation) is reported as unattributed; per-node times add
up to the measured step minus that.

Times are CPU times on the CPU and device (kernel) times on CUDA. The trace can be saved
as Chrome trace JSON, which Perfetto (ui.perfetto.dev) and ``chrome://tracing`` open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from netbuilder.compiler import GraphModule, compile_graph
from netbuilder.core.analysis import Analysis, analyze
from netbuilder.core.graph import Graph
from netbuilder.training.errors import TrainingError

#: Prefix of the profiler range of a node.
RANGE_PREFIX = "nb::"
STEP_RANGE = "nb-step"
BACKWARD_PREFIX = "autograd::engine::evaluate_function: "
#: Multiply-adds per byte moved below which a node is memory-bound.
MEMORY_BOUND_INTENSITY = 4.0


class ProfileError(TrainingError):
    """Profiling could not run (no such device, out of memory, a graph with errors)."""


@dataclass
class NodeTime:
    """Measured time of one node, averaged over the profiled steps.

    Attributes:
        node: Node id.
        forward_ms: Forward time.
        backward_ms: Backward time of the ops its forward created.
        share: Fraction of the step.
        gmacs: Achieved multiply-adds per second (forward 1×, backward 2× the MACs of a
            node with weights, 1× otherwise), in 10⁹/s; 0 when it has no MACs.
        memory_bound: Whether its multiply-adds per byte moved are few (pointwise,
            normalisation, pooling).
    """

    node: str
    forward_ms: float = 0.0
    backward_ms: float = 0.0
    share: float = 0.0
    gmacs: float = 0.0
    memory_bound: bool = False

    @property
    def total_ms(self) -> float:
        """Forward plus backward."""
        return self.forward_ms + self.backward_ms


@dataclass
class ProfileResult:
    """Per-node times of a training step.

    Attributes:
        device: ``cpu`` or ``cuda``.
        batch: Samples per step.
        step_ms: Measured time of one forward and backward pass.
        nodes: Per leaf node (groups: see :meth:`group_ms`).
        unattributed_ms: Step time no node accounts for.
        trace: Path of the saved Chrome/Perfetto trace, if one was saved.
    """

    device: str
    batch: int
    step_ms: float
    nodes: dict[str, NodeTime] = field(default_factory=dict)
    unattributed_ms: float = 0.0
    trace: Path | None = None

    @property
    def attributed_ms(self) -> float:
        """The sum of the per-node times."""
        return sum(n.total_ms for n in self.nodes.values())

    def group_ms(self, graph: Graph, node_id: str) -> float:
        """Time of ``node_id``; a group's is the sum over its body."""
        _, node = graph.find(node_id)
        if node.body is None:
            timing = self.nodes.get(node_id)
            return timing.total_ms if timing else 0.0
        return sum(self.group_ms(graph, child) for child in node.body.nodes)


def _device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ProfileError("no CUDA device is available here; profile on the CPU instead")
    if name not in ("cpu", "cuda"):
        raise ProfileError(f"unknown device {name!r} (cpu or cuda)")
    return torch.device(name)


@contextmanager
def _node_ranges(module: nn.Module, names: dict[str, str]) -> Iterator[None]:
    """Run every leaf node module inside a profiler range named ``nb::<node id>``."""
    handles = []
    open_ranges: dict[int, list[Any]] = {}
    for node_id, qualified in names.items():
        sub = module.get_submodule(qualified)
        if isinstance(sub, GraphModule):
            continue  # a group: its body's nodes have their own ranges

        def enter(mod: nn.Module, args: Any, node: str = node_id) -> None:
            scope = record_function(RANGE_PREFIX + node)
            scope.__enter__()
            open_ranges.setdefault(id(mod), []).append(scope)

        def leave(mod: nn.Module, args: Any, out: Any) -> None:
            open_ranges[id(mod)].pop().__exit__(None, None, None)

        handles += [sub.register_forward_pre_hook(enter), sub.register_forward_hook(leave)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _step(module: nn.Module, inputs: list[torch.Tensor]) -> None:
    with record_function(STEP_RANGE):
        out = module(*inputs)
        outs = out if isinstance(out, tuple) else (out,)
        sum(o.float().sum() for o in outs).backward()
    module.zero_grad(set_to_none=True)


def profile_graph(graph: Graph, *, device: str = "cpu", batch: int = 8, steps: int = 3,
                  trace: Path | None = None, analysis: Analysis | None = None
                  ) -> ProfileResult:
    """Profile ``steps`` training steps (after one warm-up) at ``batch`` on ``device``.

    Raises:
        ProfileError: on a graph with errors, an absent device or running out of memory.
    """
    if batch < 1 or steps < 1:
        raise ProfileError("batch and steps must be at least 1")
    analysis = analysis or analyze(graph)
    if not analysis.ok:
        raise ProfileError("the graph has errors; fix them before profiling")
    where = _device(device)
    try:
        return _run(graph, analysis, where, batch, steps, trace)
    except torch.OutOfMemoryError as exc:
        raise ProfileError(f"out of memory on {device} at batch {batch}: try a smaller "
                           f"batch") from exc
    finally:
        if where.type == "cuda":
            torch.cuda.empty_cache()


def _run(graph: Graph, analysis: Analysis, device: torch.device, batch: int, steps: int,
         trace: Path | None) -> ProfileResult:
    module = compile_graph(graph, analysis=analysis, seed=0).to(device).train()
    inputs = [torch.randn(batch, *shape, device=device) for shape in module.input_shapes]
    names = module.node_modules()
    _step(module, inputs)  # warm-up: allocator, kernels picked, lazy init
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with _node_ranges(module, names), profile(activities=activities) as prof:
        for _ in range(steps):
            _step(module, inputs)
    if trace is not None:
        prof.export_chrome_trace(str(trace))
    result = attribute(prof.events(), device.type, batch, steps)
    result.trace = trace
    _rates(result, analysis)
    return result


def _time_us(event: Any, device: str) -> float:
    return float(event.device_time_total if device == "cuda" else event.cpu_time_total)


def _descendants(event: Any) -> Iterator[Any]:
    for child in event.cpu_children:
        yield child
        yield from _descendants(child)


def attribute(events: Any, device: str, batch: int, steps: int) -> ProfileResult:
    """Per-node times from the profiler's events (see the module docstring)."""
    by_sequence: dict[int, str] = {}
    times: dict[str, NodeTime] = {}
    step_us = 0.0
    for event in events:
        if event.name == STEP_RANGE:
            step_us += _time_us(event, device)
        elif event.name.startswith(RANGE_PREFIX):
            node = event.name[len(RANGE_PREFIX):]
            timing = times.setdefault(node, NodeTime(node))
            timing.forward_ms += _time_us(event, device) / 1e3 / steps
            for child in _descendants(event):
                if child.sequence_nr >= 0:
                    by_sequence.setdefault(child.sequence_nr, node)
    for event in events:
        if event.name.startswith(BACKWARD_PREFIX) and event.sequence_nr in by_sequence:
            node = by_sequence[event.sequence_nr]
            times[node].backward_ms += _time_us(event, device) / 1e3 / steps
    step_ms = step_us / 1e3 / steps
    result = ProfileResult(device, batch, step_ms, times)
    result.unattributed_ms = step_ms - result.attributed_ms
    for timing in times.values():
        timing.share = timing.total_ms / step_ms if step_ms else 0.0
    return result


def _rates(result: ProfileResult, analysis: Analysis) -> None:
    """Achieved GMAC/s and the memory-bound flag, from the analysis's MACs and sizes."""
    for node, timing in result.nodes.items():
        info = analysis.nodes.get(node)
        if info is None:
            continue
        moved = 4 * (info.activations + sum(_numel(s) for s in info.inputs))
        timing.memory_bound = info.macs < MEMORY_BOUND_INTENSITY * moved
        work = info.macs * result.batch * (3 if info.params else 2)
        timing.gmacs = work / (timing.total_ms / 1e3) / 1e9 if timing.total_ms else 0.0


def _numel(shape: tuple[int, ...] | None) -> int:
    total = 1
    for size in shape or ():
        total *= size
    return total if shape else 0
