"""Looking into a network: activations, weights, gradient norms, errors. No Qt.

These are what the live panels show (feature maps, filters, per-layer statistics, the
confusion matrix, the worst errors). Nodes are addressed by id, as on the canvas; the
model is a compiled graph (:class:`~netbuilder.compiler.GraphModule`).

While a run goes on, call them through :meth:`Trainer.submit
<netbuilder.training.trainer.Trainer.submit>` so that they run in the training thread
between two batches::

    future = trainer.submit(lambda: probes.capture(trainer.model, image, [node_id]))
    maps = future.result()[node_id]        # (1, C, H, W) on the CPU

Captures run one forward pass in eval mode without gradients, with forward hooks removed
afterwards and every module's train/eval mode restored, so training is not disturbed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Gradient norms below this are flagged as vanishing.
VANISHING = 1e-7
#: Gradient norms above this are flagged as exploding.
EXPLODING = 1e3


def node_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The module of every block and group node, by node id."""
    names: dict[str, str] = model.node_modules()  # type: ignore[operator]
    return {node: model.get_submodule(name) for node, name in names.items()}


def capture(model: nn.Module, x: Tensor, node_ids: Iterable[str]) -> dict[str, Tensor]:
    """The outputs of nodes ``node_ids`` for inputs ``x`` (a batch), as CPU float tensors.

    A node with several outputs gives its first.
    """
    modules = node_modules(model)
    wanted = {node: modules[node] for node in node_ids}
    found: dict[str, Tensor] = {}
    handles = [module.register_forward_hook(partial(_keep, found, node))
               for node, module in wanted.items()]
    try:
        _forward(model, x)
    finally:
        for handle in handles:
            handle.remove()
    return found


def _keep(found: dict[str, Tensor], node: str, module: nn.Module, inputs: Any,
          output: Any) -> None:
    value = output[0] if isinstance(output, (tuple, list)) else output
    # A copy, taken now: an in-place block further on (ReLU(inplace=True) after a batch
    # norm, as torchvision builds them) would otherwise overwrite what we keep.
    found[node] = value.detach().float().cpu().clone()


def _forward(model: nn.Module, x: Tensor) -> Any:
    """One eval-mode forward without gradients; every module's mode restored afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    parameter = next(model.parameters(), None)
    if parameter is not None:
        x = x.to(parameter.device)
    try:
        model.eval()
        with torch.no_grad():
            return model(x)
    finally:
        for module, mode in modes:
            module.training = mode


def activation_stats(model: nn.Module, x: Tensor,
                     node_ids: Iterable[str] | None = None) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation of each node's output for inputs ``x``."""
    ids = list(node_ids) if node_ids is not None else list(node_modules(model))
    return {node: (float(t.mean()), float(t.std()) if t.numel() > 1 else 0.0)
            for node, t in capture(model, x, ids).items()}


def gradient_norms(model: nn.Module) -> dict[str, float]:
    """L2 norm of the gradients of each node's parameters, as left by the latest step.

    Nodes without parameters, or whose parameters have no gradient (frozen), are absent.
    Reads every norm from the device in one go.
    """
    norms: dict[str, Tensor] = {}
    for node, module in node_modules(model).items():
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if grads:
            squares = torch.stack([g.detach().float().pow(2).sum() for g in grads])
            norms[node] = squares.sum().sqrt()
    if not norms:
        return {}
    values = torch.stack(list(norms.values())).tolist()
    return dict(zip(norms, values))


def flag_gradients(norms: Mapping[str, float], vanishing: float = VANISHING,
                   exploding: float = EXPLODING) -> dict[str, str]:
    """``"vanishing"``/``"exploding"`` for the nodes whose gradient norm is out of range."""
    flags = {}
    for node, norm in norms.items():
        if not math.isfinite(norm) or norm > exploding:
            flags[node] = "exploding"
        elif norm < vanishing:
            flags[node] = "vanishing"
    return flags


def weights(model: nn.Module, node_id: str) -> Tensor | None:
    """A CPU copy of the node's ``weight`` (a convolution's filters), or ``None``."""
    weight = getattr(node_modules(model)[node_id], "weight", None)
    return weight.detach().float().cpu() if isinstance(weight, Tensor) else None


# -- after training -------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """Predictions over a data split.

    Attributes:
        predictions: Predicted class per sample.
        labels: True class per sample.
        losses: Negative log-probability of the true class per sample.
        confidence: Probability of the predicted class per sample.
    """

    predictions: Tensor
    labels: Tensor
    losses: Tensor
    confidence: Tensor

    @property
    def accuracy(self) -> float:
        """Fraction predicted right."""
        return int((self.predictions == self.labels).sum()) / max(len(self.labels), 1)


def evaluate(model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]],
             loss_kind: str = "cross_entropy") -> Evaluation:
    """Run ``model`` over ``batches`` (e.g. ``data.val.epoch(0)``) in eval mode.

    Args:
        model: The network.
        batches: ``(inputs, labels)`` pairs.
        loss_kind: The trainer's ``loss_kind``: it says whether the outputs are scores,
            log-probabilities (``nll``) or probabilities (``nll_of_probs``).
    """
    parts: list[tuple[Tensor, ...]] = []
    for x, y in batches:
        out = _forward(model, x)
        out = out[0] if isinstance(out, tuple) else out
        log_probs = _log_probs(out.float(), loss_kind)
        y = y.to(log_probs.device)
        confidence, predictions = log_probs.exp().max(dim=1)
        losses = -log_probs.gather(1, y.view(-1, 1)).squeeze(1)
        parts.append((predictions, y, losses, confidence))
    columns = [torch.cat([p[k] for p in parts]).cpu() for k in range(4)] if parts else \
        [torch.empty(0, dtype=torch.long)] * 2 + [torch.empty(0)] * 2
    return Evaluation(*columns)


def _log_probs(out: Tensor, kind: str) -> Tensor:
    if kind == "nll":
        return out
    if kind == "nll_of_probs":
        return torch.log(out.clamp_min(1e-12))
    return F.log_softmax(out, dim=1)


def confusion_matrix(evaluation: Evaluation, num_classes: int) -> Tensor:
    """Counts ``(true, predicted)``: row ``i`` holds the samples of class ``i``."""
    index = evaluation.labels * num_classes + evaluation.predictions
    counts = torch.bincount(index, minlength=num_classes * num_classes)
    return counts.view(num_classes, num_classes)


def worst_errors(evaluation: Evaluation, count: int) -> Sequence[int]:
    """Indices of up to ``count`` wrongly predicted samples, highest loss first."""
    wrong = (evaluation.predictions != evaluation.labels).nonzero().flatten()
    order = evaluation.losses[wrong].argsort(descending=True)
    return wrong[order][:count].tolist()


def saved_bytes(module: nn.Module, batch: Tensor) -> int:
    """Bytes autograd saves for backward in one forward pass of ``module`` on ``batch``.

    Counted with ``torch.autograd.graph.saved_tensors_hooks``: each storage once (by its
    ``untyped_storage().data_ptr()``), the module's parameters and buffers left out (the
    memory planner, :mod:`netbuilder.core.memory`, counts those as weights). This is the
    measurement the planner's saved-for-backward figures are checked against.
    """
    state = {t.untyped_storage().data_ptr() for t in (*module.parameters(), *module.buffers())}
    # The storages themselves are held until the count is done: a branch whose result is
    # never used frees what it saved during the forward pass, and a later tensor could
    # then reuse the address and go uncounted.
    seen: dict[int, torch.UntypedStorage] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in state:
            seen[storage.data_ptr()] = storage
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        module(batch)
    return sum(storage.nbytes() for storage in seen.values())
