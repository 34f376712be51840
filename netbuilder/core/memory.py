"""Training memory planner: analytic, torch-free, from the analysis's shapes.

For a batch size, a precision and an optimiser, every node gets its weights, gradients,
optimiser state and the activations it keeps for the backward pass (the rules in
:mod:`netbuilder.core.memory_rules`), each with its arithmetic; the plan adds the peak
for inference (weights plus the largest set of activations alive at once) and for a
training step (weights, gradients, optimiser state, every saved activation, and the
backward pass's working set: the gradient arriving at a node and the one it sends back).

Tensors shared between nodes count once: an in-place ReLU saves the very tensor that the
batch norm before it wrote, and the next convolution keeps the same tensor again. A node
the analysis could not give shapes to is listed in :attr:`MemoryPlan.uncosted`; the rest
is still costed.

Mixed precision follows autocast: convolutions, linear layers and PReLU cast their input
and weight to half precision (the copies are what they keep); on CUDA softmax and the
layer and group norms run in float32 (CPU autocast runs them in the input's precision);
local response norm returns float32 on both; everything else keeps the dtype it is
given; weights, gradients and optimiser state stay float32. The per-device differences
are in :mod:`netbuilder.core.memory_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from netbuilder.core.analysis import Analysis, NodeInfo
from netbuilder.core.graph import Graph, Node
from netbuilder.core.memory_rules import (
    ALIAS_BLOCKS,
    FP32_RESULT_UNDER_AUTOCAST,
    FP32_UNDER_AUTOCAST,
    HALF_UNDER_AUTOCAST,
    RuleInput,
    Saved,
    cast_weight_elements,
    saved_items,
)
from netbuilder.core.spec import GROUP_INPUT, INPUT, Shape

#: Optimiser → float32 state values kept per trained parameter.
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
#: Precision → bytes per activation element.
PRECISIONS = {"fp32": 4, "bf16": 2, "fp16": 2}
DEVICES = ("cuda", "cpu")


def format_bytes(count: float) -> str:
    """``1.93 GB``, ``12.4 MB``, ``512 B`` (powers of 10, like the model size)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(count) >= size:
            return f"{count / size:.3g} {unit}" if count < 100 * size else \
                f"{count / size:.0f} {unit}"
    return f"{count:.0f} B"


@dataclass(frozen=True)
class MemorySettings:
    """What a plan is for.

    Attributes:
        batch: Samples per step (at least 1).
        precision: ``fp32``, or ``bf16``/``fp16`` mixed precision (autocast).
        optimizer: ``sgd``, ``momentum`` (SGD with momentum), ``adam`` or ``adamw``.
        device: ``cuda`` or ``cpu`` (dropout masks differ).

    Raises:
        ValueError: on a batch below 1 or an unknown precision, optimiser or device.
    """

    batch: int = 1
    precision: str = "fp32"
    optimizer: str = "adam"
    device: str = "cuda"

    def __post_init__(self) -> None:
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise ValueError(f"batch size must be a whole number of at least 1, "
                             f"not {self.batch!r}")
        for name, value, known in (("precision", self.precision, PRECISIONS),
                                   ("optimizer", self.optimizer, OPTIMIZER_STATE),
                                   ("device", self.device, DEVICES)):
            if value not in known:
                raise ValueError(f"unknown {name} {value!r} (one of {', '.join(known)})")

    @property
    def activation_bytes(self) -> int:
        """Bytes per activation element where autocast runs in half precision."""
        return PRECISIONS[self.precision]


@dataclass
class NodeMemory:
    """Memory of one node at the plan's batch size, in bytes.

    Attributes:
        node: Node id.
        weights: Parameters and buffers (float32).
        gradients: Gradients of the trained parameters.
        optimizer: Optimiser state of the trained parameters.
        saved: Activations this node keeps for backward (shared tensors counted at the
            first node that keeps them).
        output: Its output tensor(s) (0 for a block that returns its input).
        formulas: The arithmetic, e.g. ``saved: input 32·6·28·28·4 B = 602 kB``.
        costed: False when the analysis has no shapes for the node.
    """

    node: str
    weights: int = 0
    gradients: int = 0
    optimizer: int = 0
    saved: int = 0
    output: int = 0
    formulas: list[str] = field(default_factory=list)
    costed: bool = True

    @property
    def training(self) -> int:
        """What the node adds to a training step: state plus saved activations."""
        return self.weights + self.gradients + self.optimizer + self.saved


@dataclass
class MemoryPlan:
    """The memory of a whole graph for one :class:`MemorySettings`.

    Attributes:
        settings: What the plan is for.
        nodes: Per node (group nodes sum their body).
        uncosted: Ids of nodes that could not be costed (no shapes, or no rule).
        weights: Parameters and buffers, bytes.
        gradients: Gradients, bytes.
        optimizer: Optimiser state, bytes.
        saved: Activations kept for backward, bytes.
        largest_live: Most activation bytes alive at once in a forward pass.
        backward_work: Largest gradient pair (incoming and outgoing) in backward.
    """

    settings: MemorySettings
    nodes: dict[str, NodeMemory] = field(default_factory=dict)
    uncosted: list[str] = field(default_factory=list)
    weights: int = 0
    gradients: int = 0
    optimizer: int = 0
    saved: int = 0
    largest_live: int = 0
    backward_work: int = 0

    @property
    def inference_peak(self) -> int:
        """Weights plus the largest set of activations alive at once."""
        return self.weights + self.largest_live

    @property
    def training_peak(self) -> int:
        """Weights, gradients, optimiser state, saved activations and backward work."""
        return (self.weights + self.gradients + self.optimizer + self.saved
                + self.backward_work)

    def formulas(self) -> list[str]:
        """The arithmetic of the totals."""
        s = self.settings
        return [
            f"inference: weights {format_bytes(self.weights)} + largest live activations "
            f"{format_bytes(self.largest_live)} = {format_bytes(self.inference_peak)}",
            f"training ({s.optimizer}, {s.precision}, batch {s.batch}): weights "
            f"{format_bytes(self.weights)} + gradients {format_bytes(self.gradients)} + "
            f"optimiser {format_bytes(self.optimizer)} + saved activations "
            f"{format_bytes(self.saved)} + backward work {format_bytes(self.backward_work)}"
            f" = {format_bytes(self.training_peak)}",
        ]


@dataclass(frozen=True)
class _Value:
    """A tensor flowing along an edge: its storage, size and whether it has a gradient.

    ``stored`` is the element count of the whole storage when the tensor is a view of part
    of it (a split's part, one token): keeping the view keeps all of it alive.
    """

    storage: str
    numel: int
    item_bytes: int
    grad: bool
    stored: int = 0

    @property
    def kept(self) -> int:
        """Elements kept alive while this tensor is kept."""
        return max(self.numel, self.stored)


class _Planner:
    """One planning pass; walks every graph level in execution order."""

    def __init__(self, graph: Graph, analysis: Analysis, settings: MemorySettings) -> None:
        self.graph, self.analysis, self.settings = graph, analysis, settings
        self.plan = MemoryPlan(settings)
        self.values: dict[tuple[str, str], _Value] = {}
        self.counted: set[str] = set()
        self.steps: list[tuple[list[str], list[_Value]]] = []
        self.sizes: dict[str, int] = {}

    def run(self) -> MemoryPlan:
        self._level(self.graph, {}, frozen=False)
        self._liveness()
        plan = self.plan
        tops = [plan.nodes[n] for n in self.graph.nodes if n in plan.nodes]
        plan.weights = sum(n.weights for n in tops)
        plan.gradients = sum(n.gradients for n in tops)
        plan.optimizer = sum(n.optimizer for n in tops)
        plan.saved = sum(n.saved for n in tops)
        return plan

    # -- walking ------------------------------------------------------------------
    def _level(self, graph: Graph, ports: dict[str, _Value | None], frozen: bool) -> None:
        for nid in graph.topological_order():
            node = graph.nodes[nid]
            memory = NodeMemory(nid)
            self.plan.nodes[nid] = memory
            if node.type == GROUP_INPUT:
                port = ports.get(node.name)
                if port is not None:
                    self.values[(nid, "out")] = port
                continue
            inputs = self._inputs(graph, node)
            if node.body is not None:
                self._group(graph, node, memory, inputs, frozen or node.frozen)
            else:
                self._leaf(graph, node, memory, inputs, frozen or node.frozen)

    def _inputs(self, graph: Graph, node: Node) -> list[tuple[str, _Value | None]]:
        return [(e.target_port, self.values.get((e.source, e.source_port)))
                for e in graph.in_edges(node.id)]

    def _group(self, graph: Graph, node: Node, memory: NodeMemory,
               inputs: list[tuple[str, _Value | None]], frozen: bool) -> None:
        body = node.body
        assert body is not None
        self._level(body, dict(inputs), frozen)
        for child in body.nodes.values():
            sub = self.plan.nodes.get(child.id)
            if sub is None:
                continue
            memory.weights += sub.weights
            memory.gradients += sub.gradients
            memory.optimizer += sub.optimizer
            memory.saved += sub.saved
            value = self.values.get((child.id, "out"))
            if child.type == "group_output" and value is not None:
                self.values[(node.id, child.name)] = value
        memory.formulas.append(f"sum of its body: saved {format_bytes(memory.saved)}, "
                               f"weights {format_bytes(memory.weights)}")

    def _leaf(self, graph: Graph, node: Node, memory: NodeMemory,
              inputs: list[tuple[str, _Value | None]], frozen: bool) -> None:
        info = self.analysis.nodes.get(node.id)
        values = [v for _, v in inputs]
        if info is None or info.shape is None or any(v is None for v in values) \
                or not info.ok:
            self._uncosted(node, memory, "no shapes (fix the errors first)")
            return
        self._state(node, info, memory, frozen)
        trainable = info.params > 0 and not frozen
        known = [v for v in values if v is not None]
        output = self._output(node, info, known, trainable)
        items = saved_items(node.type, RuleInput(
            dict(node.resolved), info_inputs(info), info.shape,
            tuple(v.grad for v in known), trainable, self.settings.device,
            tuple(v.item_bytes for v in known), self.settings.precision != "fp32"))
        if items is None:
            self._uncosted(node, memory, f"no memory rule for block {node.type!r}")
            return
        for item in items:
            self._count(node, memory, item, known, output)
        # A matrix product keeps the weight's cast copy for the input's gradient only; a
        # convolution's backward keeps input and weight whichever of them needs one.
        if any(v.grad for v in known) or (trainable and node.type != "linear"):
            self._cast_weight(node, info, memory, any(v.grad for v in known))
        self._step(node, known, output, memory)

    def _cast_weight(self, node: Node, info: NodeInfo, memory: NodeMemory,
                     input_grad: bool) -> None:
        """Autocast's half-precision copy of the weight, kept for the input gradient."""
        if self.settings.precision == "fp32" or node.type not in HALF_UNDER_AUTOCAST:
            return
        weight = cast_weight_elements(node.type, node.resolved, info_inputs(info),
                                      info.params, input_grad)
        if weight > 0:
            self._add(memory, f"{node.id}:weight16", 2 * weight, "weight cast to 16-bit",
                      f"{weight:,}·2 B")

    # -- costs --------------------------------------------------------------------
    def _state(self, node: Node, info: NodeInfo, memory: NodeMemory, frozen: bool) -> None:
        if not info.params and not info.buffers:
            return
        trained = 0 if frozen else info.params
        slots = OPTIMIZER_STATE[self.settings.optimizer]
        memory.weights = 4 * (info.params + info.buffers)
        memory.gradients = 4 * trained
        memory.optimizer = 4 * slots * trained
        memory.formulas.append(f"weights: ({info.params:,} + {info.buffers:,})·4 B = "
                               f"{format_bytes(memory.weights)}")
        if trained:
            memory.formulas.append(f"gradients: {trained:,}·4 B = "
                                   f"{format_bytes(memory.gradients)}; optimiser "
                                   f"({self.settings.optimizer}): {slots}·{trained:,}·4 B"
                                   f" = {format_bytes(memory.optimizer)}")

    def _output(self, node: Node, info: NodeInfo, inputs: list[_Value],
                trainable: bool) -> _Value:
        grad = trainable or any(v.grad for v in inputs)
        if node.type == INPUT:
            return self._new(node, info.shape or (), 4, grad=False)
        if inputs and (node.type in ALIAS_BLOCKS or node.resolved.get("inplace") is True):
            # Views of the input: every output port (a split's parts) shares its storage.
            first = inputs[0]
            ports = info.outputs or {"out": info.shape or ()}
            for port, shape in ports.items():
                self.values[(node.id, port)] = _Value(first.storage, prod(shape), first.item_bytes,
                                                      grad, first.kept)
            return self.values[(node.id, next(iter(ports)))]
        return self._new(node, info.shape or (), self._out_bytes(node, inputs), grad)

    def _out_bytes(self, node: Node, inputs: list[_Value]) -> int:
        if self.settings.precision == "fp32":
            return 4
        if self._runs_fp32(node) or node.type in FP32_RESULT_UNDER_AUTOCAST:
            return 4
        if node.type in HALF_UNDER_AUTOCAST:
            return 2
        return max((v.item_bytes for v in inputs), default=4)

    def _new(self, node: Node, shape: Shape, item_bytes: int, grad: bool) -> _Value:
        value = _Value(node.id, prod(shape), item_bytes, grad)
        self.values[(node.id, "out")] = value
        self.sizes[node.id] = value.numel * item_bytes * self.settings.batch
        return value

    def _count(self, node: Node, memory: NodeMemory, item: Saved,
               inputs: list[_Value], output: _Value) -> None:
        batch = self.settings.batch
        if item.kind == "extra":
            item_bytes = item.item_bytes or output.item_bytes
            count = item.numel * (batch if item.per_batch else 1)
            self._add(memory, f"{node.id}:{item.what}", count * item_bytes, item.what,
                      f"{batch}·{item.numel:,}·{item_bytes} B" if item.per_batch else
                      f"{item.numel:,}·{item_bytes} B")
            return
        value = output if item.kind == "output" else inputs[item.index]
        name = "output" if item.kind == "output" else "input"
        cast = self._autocast_copy(node, value)
        if cast is not None:
            value, name = cast, f"{name} cast to {8 * cast.item_bytes}-bit"
        self._add(memory, value.storage, value.kept * value.item_bytes * batch, name,
                  f"{batch}·{value.kept:,}·{value.item_bytes} B")

    def _runs_fp32(self, node: Node) -> bool:
        """Whether autocast runs ``node`` in float32 (CUDA's list; CPU autocast has none
        of these blocks on it and runs them in the input's precision)."""
        return node.type in FP32_UNDER_AUTOCAST and self.settings.device == "cuda"

    def _autocast_copy(self, node: Node, value: _Value) -> _Value | None:
        """The cast copy autocast makes of ``value`` for ``node`` (None: no copy)."""
        if self.settings.precision == "fp32":
            return None
        wanted = 2 if node.type in HALF_UNDER_AUTOCAST else \
            4 if self._runs_fp32(node) else value.item_bytes
        if wanted == value.item_bytes:
            return None
        return _Value(f"{node.id}:cast:{value.storage}", value.numel, wanted, value.grad)

    def _add(self, memory: NodeMemory, storage: str, size: int, name: str,
             arithmetic: str) -> None:
        if storage in self.counted:
            memory.formulas.append(f"saved: {name} (already kept by another node)")
            return
        self.counted.add(storage)
        memory.saved += size
        memory.formulas.append(f"saved: {name} {arithmetic} = {format_bytes(size)}")

    def _uncosted(self, node: Node, memory: NodeMemory, why: str) -> None:
        memory.costed = False
        memory.formulas.append(f"not costed: {why}")
        self.plan.uncosted.append(node.id)

    # -- liveness -----------------------------------------------------------------
    def _step(self, node: Node, inputs: list[_Value], output: _Value,
              memory: NodeMemory) -> None:
        fresh = output.storage == node.id
        memory.output = self.sizes.get(node.id, 0) if fresh else 0
        self.steps.append(([v.storage for v in inputs], [output] if fresh else []))

    def _liveness(self) -> None:
        last: dict[str, int] = {}
        for index, (reads, _) in enumerate(self.steps):
            for storage in reads:
                last[storage] = index
        live: dict[str, int] = {}
        largest = work = 0
        for index, (reads, writes) in enumerate(self.steps):
            for value in writes:
                live[value.storage] = self.sizes[value.storage]
            largest = max(largest, sum(live.values()))
            read = sum(self.sizes.get(s, 0) for s in dict.fromkeys(reads))
            out = sum(self.sizes[v.storage] for v in writes)
            work = max(work, read + out)
            for storage in [s for s in live if last.get(s, -1) <= index]:
                del live[storage]
        self.plan.largest_live = largest
        self.plan.backward_work = work


def info_inputs(info: NodeInfo) -> tuple[Shape, ...]:
    """The node's known input shapes (per sample)."""
    return tuple(s for s in info.inputs if s is not None)


def plan_memory(graph: Graph, analysis: Analysis,
                settings: MemorySettings | None = None) -> MemoryPlan:
    """The memory plan of ``graph`` (analysed as ``analysis``) for ``settings``."""
    return _Planner(graph, analysis, settings or MemorySettings()).run()


def largest_batch(graph: Graph, analysis: Analysis, budget: float,
                  settings: MemorySettings | None = None) -> int:
    """The largest batch whose training peak fits in ``budget`` bytes (0: none fits).

    The training peak grows linearly with the batch (every activation is per sample,
    the weights and batch statistics are not), so two plans give the line; the answer
    is then checked against a plan at that batch.

    Raises:
        ValueError: when the budget is negative.
    """
    if budget < 0:
        raise ValueError(f"a memory budget cannot be negative ({budget})")
    base = settings or MemorySettings()
    one = plan_memory(graph, analysis, _with_batch(base, 1)).training_peak
    two = plan_memory(graph, analysis, _with_batch(base, 2)).training_peak
    per_sample = max(two - one, 1)
    if one > budget:
        return 0
    guess = int(1 + (budget - one) // per_sample)
    while guess > 1 and plan_memory(graph, analysis,
                                    _with_batch(base, guess)).training_peak > budget:
        guess -= 1
    return guess


def _with_batch(settings: MemorySettings, batch: int) -> MemorySettings:
    return MemorySettings(batch, settings.precision, settings.optimizer, settings.device)
