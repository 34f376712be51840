"""What autograd really saves for backward, counted with ``saved_tensors_hooks``.

Each storage counts once (by its ``untyped_storage().data_ptr()``), and the model's
parameters and buffers are left out: the planner counts them as weights.
"""

from __future__ import annotations

import torch
from torch import nn


def saved_bytes(module: nn.Module, batch: torch.Tensor) -> int:
    """Bytes of the distinct non-parameter storages autograd saves in one forward pass."""
    state = {t.untyped_storage().data_ptr()
             for t in (*module.parameters(), *module.buffers())}
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in state:
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        module(batch)
    return sum(seen.values())
