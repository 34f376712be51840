"""Shared helpers of the template tests: torchvision twins with non-trivial weights."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision
from torch import nn

from netbuilder.core.analysis import Analysis
from netbuilder.templates import TemplateInfo

#: Extra arguments of torchvision builders that make them equal to the template.
TORCHVISION_ARGS: dict[str, dict[str, object]] = {
    "googlenet": {"aux_logits": False, "init_weights": False, "transform_input": False},
}


def torchvision_model(info: TemplateInfo, *, num_classes: int | None = None,
                      seed: int = 0, **overrides: object) -> nn.Module:
    """torchvision's model of ``info``, seeded, in eval mode, with random batch-norm state.

    Batch norms start as identities (weight 1, bias 0, mean 0, variance 1); they get random
    values so that two batch norms swapped by a wrong key mapping would change the output.
    """
    assert info.torchvision is not None
    torch.manual_seed(seed)
    kwargs = {**TORCHVISION_ARGS.get(info.name, {}), **overrides}
    model = torchvision.models.get_model(
        info.torchvision, weights=None, num_classes=num_classes or info.num_classes, **kwargs)
    randomize_batchnorms(model)
    randomize_layer_norms_and_scales(model)
    return model.eval()


def randomize_batchnorms(model: nn.Module) -> None:
    """Give every batch norm random affine parameters and running statistics."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)


def randomize_layer_norms_and_scales(model: nn.Module) -> None:
    """Give layer norms random affine parameters and layer scales random values.

    ConvNeXt's layer scales start at 1e-6, which would hide a residual branch's weights
    (a wrong key mapping) from an output comparison; layer norms start as identities.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
        for name, parameter in model.named_parameters():
            if name.endswith("layer_scale"):
                parameter.uniform_(0.5, 1.5)


def run(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` in eval mode without autograd."""
    module.eval()
    with torch.no_grad():
        return module(x)


def hook_shapes(module: nn.Module, names: dict[str, str],
                call: Callable[[], object]) -> dict[str, tuple[int, ...]]:
    """Per-sample output shape of every named submodule while ``call()`` runs.

    Args:
        module: The compiled graph.
        names: Node id → qualified module name (``GraphModule.node_modules()``).
        call: Runs the forward pass.
    """
    seen: dict[str, tuple[int, ...]] = {}
    handles = []
    for node_id, qualified in names.items():
        def hook(_m: nn.Module, _i: object, out: torch.Tensor, node_id: str = node_id) -> None:
            seen[node_id] = tuple(out.shape[1:])
        handles.append(module.get_submodule(qualified).register_forward_hook(hook))
    try:
        call()
    finally:
        for handle in handles:
            handle.remove()
    return seen


def analysed_shapes(analysis: Analysis, ids: set[str]) -> dict[str, tuple[int, ...] | None]:
    """The analysis' output shape of every node in ``ids``."""
    return {node_id: analysis.nodes[node_id].shape for node_id in ids}
