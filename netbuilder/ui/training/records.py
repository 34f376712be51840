"""What a training run tells the panels: plain records, gathered in the training thread.

:func:`run_info` and :func:`collect_results` run in the training thread (they touch the
model and the data); the records they return hold only numbers, strings, numpy arrays
and CPU tensors, safe to hand to the GUI thread. Nothing here imports Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from netbuilder.core.errors import UnknownNodeError
from netbuilder.core.graph import Graph
from netbuilder.training.callbacks import BatchEnd

if TYPE_CHECKING:
    from netbuilder.training.trainer import Trainer

#: Validation samples kept for the feature-map and statistics panels.
SAMPLE_COUNT = 32
#: Worst validation errors sent to the results panel.
WORST_COUNT = 48


@dataclass(frozen=True)
class LayerInfo:
    """A node of the trained network that the panels can look into.

    Attributes:
        node_id: Node id (as on the canvas).
        name: Node name.
        block: Block type (``conv2d``).
        has_weights: Whether the node has trainable parameters.
    """

    node_id: str
    name: str
    block: str
    has_weights: bool


@dataclass(frozen=True)
class RunInfo:
    """What the panels need to know when a run starts.

    Attributes:
        epochs: Epochs the run is set to do.
        steps_per_epoch: Training steps per epoch.
        batch_size: Images per step.
        start_step: Global step the run starts from (0 unless resumed).
        classes: Class names.
        layers: The nodes of the network, in order.
        first_conv: Id of the first node with image filters (4-D weights), if any.
        inputs: Validation inputs, normalised as the model sees them (CPU tensor).
        pixels: The same images as pixel values 0..1, ``(N, C, H, W)``.
        labels: Their labels.
        device: The device training runs on.
        checkpoint_dir: Where checkpoints are written.
    """

    epochs: int
    steps_per_epoch: int
    batch_size: int
    start_step: int
    classes: tuple[str, ...]
    layers: tuple[LayerInfo, ...]
    first_conv: str | None
    inputs: Any
    pixels: np.ndarray
    labels: np.ndarray
    device: str
    checkpoint_dir: str


@dataclass(frozen=True)
class BatchChunk:
    """The steps that arrived since the last drain, as arrays.

    Attributes:
        steps: Global step numbers.
        loss: Training loss per step.
        acc: Training accuracy per step.
        lr: Learning rate per step.
        last: The latest step (for the progress bar).
        dropped: Steps dropped so far because the queue was full.
    """

    steps: np.ndarray
    loss: np.ndarray
    acc: np.ndarray
    lr: np.ndarray
    last: BatchEnd
    dropped: int = 0


@dataclass(frozen=True)
class Results:
    """The trained network judged on the validation set.

    Attributes:
        classes: Class names.
        confusion: Counts ``(true, predicted)``.
        accuracy: Fraction predicted right.
        worst: Worst errors: pixels 0..1 ``(N, C, H, W)``.
        worst_true: True class of each worst error.
        worst_pred: Predicted class of each.
        worst_confidence: Probability of the predicted class.
        worst_loss: Loss of each.
    """

    classes: tuple[str, ...]
    confusion: np.ndarray
    accuracy: float
    worst: np.ndarray
    worst_true: np.ndarray
    worst_pred: np.ndarray
    worst_confidence: np.ndarray
    worst_loss: np.ndarray

    @property
    def total(self) -> int:
        """Validation samples judged."""
        return int(self.confusion.sum())


def run_info(trainer: Trainer) -> RunInfo:
    """Collect a :class:`RunInfo` from a set-up trainer (in the training thread)."""
    from netbuilder.training import probes

    data = trainer.data
    assert data is not None
    inputs, labels = data.samples(SAMPLE_COUNT)
    modules = probes.node_modules(trainer.model)
    layers = tuple(_layer(trainer.graph, node_id, module) for node_id, module in modules.items())
    first_conv = next((node_id for node_id, module in modules.items()
                       if getattr(getattr(module, "weight", None), "ndim", 0) == 4), None)
    return RunInfo(
        trainer.config.epochs, len(data.train), trainer.config.batch_size, trainer.global_step,
        tuple(data.classes), layers, first_conv, inputs,
        data.denormalise(inputs).numpy(), labels.numpy(), str(trainer.device), "")


def _layer(graph: Graph | None, node_id: str, module: Any) -> LayerInfo:
    name, block = node_id, ""
    if graph is not None:
        try:
            _level, node = graph.find(node_id)
            name, block = node.name, node.type
        except UnknownNodeError:  # a module of the network that is not a node of the graph
            pass
    weights = any(p.requires_grad for p in module.parameters())
    return LayerInfo(node_id, name, block, weights)


def collect_results(trainer: Trainer) -> Results | None:
    """Evaluate the trained network on the validation split (in the training thread)."""
    from netbuilder.training import probes

    data = trainer.data
    if data is None or data.val is None or not data.classes:
        return None
    evaluation = probes.evaluate(trainer.model, data.val.epoch(0), trainer.loss_kind)
    confusion = probes.confusion_matrix(evaluation, data.num_classes).numpy()
    worst = probes.worst_errors(evaluation, WORST_COUNT)
    pixels = data.denormalise(_val_inputs(data, worst)).numpy() if worst else \
        np.zeros((0, data.fitter.channels, *data.fitter.size), np.float32)
    pick = list(worst)
    return Results(tuple(data.classes), confusion, evaluation.accuracy, pixels,
                   evaluation.labels[pick].numpy(), evaluation.predictions[pick].numpy(),
                   evaluation.confidence[pick].numpy(), evaluation.losses[pick].numpy())


def _val_inputs(data: Any, indices: list[int]) -> Any:
    """The validation inputs at ``indices`` (in the split's unshuffled order)."""
    import torch

    batches = data.val
    x = getattr(batches, "x", None)
    if x is not None:
        return x[torch.as_tensor(indices, device=x.device)].cpu()
    return torch.stack([batches.dataset[k][0] for k in indices])

