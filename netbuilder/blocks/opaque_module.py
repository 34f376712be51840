"""The ``torch.nn.Module`` of an opaque node (imports torch; loaded lazily).

Self-contained (it imports nothing from NetBuilder), so that an exported Python file can
copy it: :func:`evaluate` computes an opaque node's JSON expression (the format is in
:mod:`netbuilder.blocks.opaque` and docs/file-format.md) and :func:`locate` finds a
function or class by its ``package.module:attr`` name. Whether a module may be imported is
decided before a module is built (:func:`netbuilder.blocks.opaque.check_trusted`).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

#: Standard deviation of the normal init of tensors an opaque node reads directly.
TENSOR_INIT_STD = 0.02


def locate(qualified: str) -> Any:
    """The object named ``package.module:attr.path`` (its module imported)."""
    module_name, _, path = qualified.partition(":")
    parts = module_name.split(".")
    target: Any = None
    for cut in range(len(parts), 0, -1):  # torch._C._nn is an attribute, not a module
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            if cut == 1:
                raise
            continue
        for part in parts[cut:]:
            target = getattr(target, part)
        break
    for part in path.split("."):
        target = getattr(target, part)
    return target


def evaluate(expression: Any, inputs: Sequence[Any], owner: Any) -> Any:
    """The value of an opaque node's expression for ``inputs``; ``owner`` is its module."""
    if isinstance(expression, list):
        return [evaluate(item, inputs, owner) for item in expression]
    if not isinstance(expression, dict):
        return expression
    if "input" in expression:
        return inputs[expression["input"]]
    if "tensor" in expression:
        return getattr(owner, expression["tensor"])
    return _evaluate_value(expression, inputs, owner)


def _evaluate_value(expression: dict[str, Any], inputs: Sequence[Any], owner: Any) -> Any:
    if "tuple" in expression:
        return tuple(evaluate(expression["tuple"], inputs, owner))
    if "list" in expression:
        return list(evaluate(expression["list"], inputs, owner))
    if "dict" in expression:
        return {k: evaluate(v, inputs, owner) for k, v in expression["dict"].items()}
    if "slice" in expression:
        return slice(*evaluate(expression["slice"], inputs, owner))
    if "ellipsis" in expression:
        return Ellipsis
    if "dtype" in expression:
        return getattr(torch, expression["dtype"])
    if "device" in expression:
        return inputs[0].device if inputs else "cpu"
    return _evaluate_call(expression, inputs, owner)


def _evaluate_call(expression: dict[str, Any], inputs: Sequence[Any], owner: Any) -> Any:
    args = evaluate(expression.get("args", []), inputs, owner)
    kwargs = {k: evaluate(v, inputs, owner) for k, v in expression.get("kwargs", {}).items()}
    if "module" in expression:
        return getattr(owner, expression["module"])(*args, **kwargs)
    if "method" in expression:
        return getattr(args[0], expression["method"])(*args[1:], **kwargs)
    if "function" in expression:
        return owner.function(expression["function"])(*args, **kwargs)
    raise ValueError(f"not an expression: {expression!r}")


class OpaqueModule(nn.Module):
    """Evaluates an opaque node's expression on its inputs.

    Its modules are attributes under their local names and its tensors are parameters (or
    buffers) under theirs, so the ``state_dict`` keys are ``<local name>[.<key>]``.
    """

    def __init__(self, call: str, submodules: str = "{}", tensors: str = "{}") -> None:
        """Build the module from the node's JSON texts (``call``, ``modules``, ``tensors``)."""
        super().__init__()
        self.call, self.submodules, self.tensors = call, submodules, tensors
        self.expression = json.loads(call)
        self._functions: dict[str, Any] = {}
        for name, spec in json.loads(submodules).items():
            self.add_module(name, locate(spec["class"])(**spec.get("kwargs", {})))
        for name, spec in json.loads(tensors).items():
            self._add_tensor(name, spec)

    def _add_tensor(self, name: str, spec: dict[str, Any]) -> None:
        dtype = getattr(torch, spec.get("dtype", "float32"))
        value = torch.zeros(tuple(spec["shape"]), dtype=dtype)
        if value.is_floating_point() and not spec.get("buffer") and value.device.type != "meta":
            nn.init.normal_(value, std=TENSOR_INIT_STD)
        if spec.get("buffer"):
            self.register_buffer(name, value)
        else:
            trainable = value.is_floating_point()
            self.register_parameter(name, nn.Parameter(value, requires_grad=trainable))

    def function(self, qualified: str) -> Any:
        """The function named ``qualified`` (found once)."""
        if qualified not in self._functions:
            self._functions[qualified] = locate(qualified)
        return self._functions[qualified]

    def forward(self, *inputs: Tensor) -> Any:
        """The expression's value for these inputs."""
        return evaluate(self.expression, inputs, self)
