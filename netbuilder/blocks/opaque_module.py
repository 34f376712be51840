"""The ``torch.nn.Module`` of an opaque node (imports torch; loaded lazily)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from netbuilder.blocks.opaque import _Scope, evaluate, resolve

#: Standard deviation of the normal init of tensors an opaque node reads directly.
_TENSOR_INIT_STD = 0.02


class OpaqueModule(nn.Module):
    """Evaluates an opaque node's expression on its inputs.

    Its modules are attributes under their local names and its tensors are parameters (or
    buffers) under theirs, so the ``state_dict`` keys are ``<local name>[.<key>]``.
    """

    def __init__(self, expression: Any, modules: dict[str, Any],
                 tensors: dict[str, Any]) -> None:
        super().__init__()
        self.expression = expression
        self._functions: dict[str, Any] = {}
        for name, spec in modules.items():
            self.add_module(name, resolve(spec["class"])(**spec.get("kwargs", {})))
        for name, spec in tensors.items():
            self._add_tensor(name, spec)

    def _add_tensor(self, name: str, spec: dict[str, Any]) -> None:
        dtype = getattr(torch, spec.get("dtype", "float32"))
        value = torch.zeros(tuple(spec["shape"]), dtype=dtype)
        if value.is_floating_point() and not spec.get("buffer") and value.device.type != "meta":
            nn.init.normal_(value, std=_TENSOR_INIT_STD)
        if spec.get("buffer"):
            self.register_buffer(name, value)
        else:
            trainable = value.is_floating_point()
            self.register_parameter(name, nn.Parameter(value, requires_grad=trainable))

    def function(self, qualified: str) -> Any:
        """The function named ``qualified`` (resolved once)."""
        if qualified not in self._functions:
            self._functions[qualified] = resolve(qualified)
        return self._functions[qualified]

    def forward(self, *inputs: Tensor) -> Any:
        """The expression's value for these inputs."""
        return evaluate(self.expression, _Scope(inputs, self))
