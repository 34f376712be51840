"""The compiled module: a straight-line plan over named submodules.

A :class:`GraphModule` holds one submodule per block or group node, registered under the
node's name in execution order, so ``state_dict`` keys are the dotted node-name paths
(``layer1.block1.conv1.weight``). Its forward runs a plan fixed at construction: a tuple
of ``(module, argument slots, result slots)`` steps over a list of tensors (a call with a
single argument takes a fast path that builds no argument list). Slots are reused as
soon as a value is dead, so intermediate tensors are released when a hand-written
``x = self.layer(x)`` would release them. There is no per-call analysis, no
lookup by name and no branch on tensor values, which keeps ``torch.compile`` happy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from netbuilder.compiler.plan import Plan, Value

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Layout:
    """The slot layout of a plan: where each step reads and writes.

    Attributes:
        steps: Per step, its argument slots and its result slots.
        outputs: The slots returned.
        size: Number of slots.
    """

    steps: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]
    outputs: tuple[int, ...]
    size: int


def allocate_slots(plan: Plan) -> Layout:
    """Assign every value a slot, reusing the slots of dead values (like register allocation).

    Arguments take slots ``0..k-1``. A value's slot is freed after the last step reading
    it, so that step's results may take it over (``x = self.conv(x)``).
    """
    last = plan.last_use
    slot_of: dict[Value, int] = {v: i for i, v in enumerate(plan.input_values)}
    size = len(slot_of)
    free: list[int] = []
    for value, slot in list(slot_of.items()):
        if value not in last:
            free.append(slot)
    steps = []
    for index, step in enumerate(plan.steps):
        args = tuple(slot_of[v] for v in step.args)
        for value in dict.fromkeys(step.args):
            if last.get(value) == index:
                free.append(slot_of[value])
        outs = []
        for value in step.outs:
            if free:
                slot = free.pop()
            else:
                slot, size = size, size + 1
            slot_of[value] = slot
            outs.append(slot)
            if value not in last:
                free.append(slot)
        steps.append((args, tuple(outs)))
    outputs = tuple(slot_of[v] for v in plan.outputs)
    return Layout(tuple(steps), outputs, size)


class GraphModule(nn.Module):
    """A compiled graph level (the root graph or a group body).

    ``forward(*inputs)`` takes one tensor per input node (``input`` nodes in node order at
    the root, input ports in port order in a group) and returns the tensor of the single
    output node, or a tuple of tensors in output-node order when there are several.

    Attributes:
        input_shapes: Per-sample shape of each input (no batch dimension).
        output_shapes: Per-sample shape of each output.
    """

    def __init__(self, plan: Plan, modules: Mapping[str, nn.Module],
                 input_shapes: Sequence[Shape] = (), output_shapes: Sequence[Shape] = (),
                 frozen: Sequence[str] = ()) -> None:
        """Build the module of ``plan``.

        Args:
            plan: The lowered graph level.
            modules: The module of every step, by node id.
            input_shapes: Per-sample input shapes, for callers making example inputs.
            output_shapes: Per-sample output shapes.
            frozen: Ids of the nodes of this level whose parameters are frozen.
        """
        super().__init__()
        layout = allocate_slots(plan)
        self.input_shapes: tuple[Shape, ...] = tuple(input_shapes)
        self.output_shapes: tuple[Shape, ...] = tuple(output_shapes)
        self._nb_names: dict[str, str] = {s.node.id: s.node.name for s in plan.steps}
        self._nb_frozen: tuple[str, ...] = tuple(frozen)
        self._nb_arity = len(plan.inputs)
        self._nb_blank: tuple[None, ...] = (None,) * (layout.size - len(plan.inputs))
        self._nb_outputs = layout.outputs
        self._nb_single = len(layout.outputs) == 1
        for step in plan.steps:
            self.add_module(step.node.name, modules[step.node.id])
        self._nb_steps = tuple(_step(modules[step.node.id], args, outs)
                               for step, (args, outs) in zip(plan.steps, layout.steps))

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        """Run the plan on one tensor per input node."""
        if len(inputs) != self._nb_arity:
            raise TypeError(f"expected {self._nb_arity} input tensor(s), got {len(inputs)}")
        env: list[Tensor | None] = [*inputs, *self._nb_blank]
        for module, arg, args, out in self._nb_steps:
            result = module(env[arg]) if args is None else module(*[env[i] for i in args])
            if isinstance(out, int):
                env[out] = result
            else:
                for slot, item in zip(out, result):
                    env[slot] = item
        if self._nb_single:
            return env[self._nb_outputs[0]]  # type: ignore[return-value]
        return tuple(env[i] for i in self._nb_outputs)  # type: ignore[misc]

    # -- node ↔ module mapping -------------------------------------------------------------
    def node_modules(self) -> dict[str, str]:
        """Qualified module name of every block and group node at every depth, by node id.

        Structural nodes (inputs, outputs, group ports) have no module and are absent.
        """
        return dict(self._walk_names(""))

    def _walk_names(self, prefix: str) -> Iterator[tuple[str, str]]:
        for node_id, name in self._nb_names.items():
            qualified = prefix + name
            yield node_id, qualified
            child = self._modules[name]
            if isinstance(child, GraphModule):
                yield from child._walk_names(qualified + ".")

    def qualified_name(self, node_id: str) -> str:
        """The qualified module name of node ``node_id`` (``layer1.block1.conv1``).

        Raises:
            KeyError: when the node has no module (a structural node, or not compiled here).
        """
        try:
            return self.node_modules()[node_id]
        except KeyError:
            raise KeyError(f"node {node_id!r} has no module in this network") from None

    def node_module(self, node_id: str) -> nn.Module:
        """The module of node ``node_id`` (see :meth:`qualified_name`)."""
        return self.get_submodule(self.qualified_name(node_id))

    def frozen_modules(self) -> dict[str, nn.Module]:
        """The modules of frozen nodes (outermost ones), by qualified name.

        Freezing stops gradients only: a batch norm inside a frozen node still updates its
        running statistics in training mode. A trainer that wants them fixed puts these
        modules in eval mode after every ``model.train()``.
        """
        return dict(self._walk_frozen(""))

    def _walk_frozen(self, prefix: str) -> Iterator[tuple[str, nn.Module]]:
        for node_id, name in self._nb_names.items():
            child = self._modules[name]
            assert child is not None
            if node_id in self._nb_frozen:
                yield prefix + name, child
            elif isinstance(child, GraphModule):
                yield from child._walk_frozen(prefix + name + ".")


_Step = tuple[nn.Module, int, tuple[int, ...] | None, int | tuple[int, ...]]


def _step(module: nn.Module, args: tuple[int, ...], outs: tuple[int, ...]) -> _Step:
    """``(module, slot, None, out)`` for the common one-in-one-out call, else with all slots.

    One argument is passed without building a list (the fast path of the forward loop);
    one result is stored without unpacking.
    """
    single = args[0] if len(args) == 1 else -1
    return module, single, None if len(args) == 1 else args, outs[0] if len(outs) == 1 else outs


def trainable_parameters(module: nn.Module) -> list[nn.Parameter]:
    """The parameters of ``module`` that are not frozen (``requires_grad`` set).

    Pass these to the optimiser so frozen nodes carry no optimiser state.
    """
    return [p for p in module.parameters() if p.requires_grad]
