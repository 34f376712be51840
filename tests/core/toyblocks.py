"""A tiny block registry for testing the core without the real block library."""

from __future__ import annotations

from collections.abc import Sequence

from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import (
    GROUP,
    GROUP_INPUT,
    GROUP_OUTPUT,
    INPUT,
    OUTPUT,
    BlockSpec,
    Inference,
    Params,
    ParamSpec,
    PortSpec,
    Shape,
    ShapeError,
)


class Source(BlockSpec):
    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        return Inference(tuple(params.get("shape", (8,))))


class Passthrough(BlockSpec):
    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        return Inference(inputs[0])


class Dense(BlockSpec):
    """Vector → vector with ``width`` outputs (a toy linear layer)."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        (shape,) = inputs
        if len(shape) != 1:
            raise ShapeError(f"expects a vector, got {len(shape)} dimensions")
        width = params["width"]
        return Inference((width,), params=shape[0] * width + width, macs=shape[0] * width,
                         kernel=params["kernel"], stride=params["stride"])


class Add(BlockSpec):
    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        if len(inputs) < 2:
            raise ShapeError("needs at least two inputs")
        for i, shape in enumerate(inputs[1:], 1):
            if shape != inputs[0]:
                raise ShapeError("inputs differ", inputs=(0, i))
        return Inference(inputs[0])


class Group(BlockSpec):
    pass


def toy_registry() -> BlockRegistry:
    registry = BlockRegistry()
    registry.register(Source(INPUT, "Input", "IO", inputs=(), default_name="input", params=(
        ParamSpec("shape", "shape", (8,), maximum=4096),)))
    registry.register(Passthrough(OUTPUT, "Output", "IO", outputs=(), default_name="output"))
    registry.register(Dense("dense", "Dense", "Toy", default_name="dense", params=(
        ParamSpec("width", "int", 4, minimum=1, maximum=1000),
        ParamSpec("kernel", "int", 1, minimum=1, maximum=9),
        ParamSpec("stride", "int", 1, minimum=1, maximum=4),
        ParamSpec("mode", "choice", "a", choices=("a", "b")),
        ParamSpec("rate", "float", 0.5, minimum=0.0, maximum=1.0),
    )))
    registry.register(Add("add", "Add", "Toy", inputs=(PortSpec("in", multi=True),),
                          default_name="add"))
    registry.register(Group(GROUP, "Group", "Structure", inputs=(), outputs=(),
                            default_name="group"))
    registry.register(Source(GROUP_INPUT, "Group input", "Structure", inputs=(),
                             default_name="x"))
    registry.register(Passthrough(GROUP_OUTPUT, "Group output", "Structure", outputs=(),
                                  default_name="out"))
    return registry


def snapshot(graph) -> dict:  # type: ignore[no-untyped-def]
    """Everything that defines a graph, as plain data, for equality checks."""
    return {
        "nodes": [
            (n.id, n.type, n.name, dict(n.params), n.pos, n.frozen, n.init, n.collapsed,
             snapshot(n.body) if n.body is not None else None)
            for n in graph.nodes.values()
        ],
        "edges": list(graph.edges),
    }
