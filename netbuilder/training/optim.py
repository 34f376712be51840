"""Optimisers, learning-rate schedules and losses built from a :class:`TrainConfig`.

Schedules are computed per step by :class:`LRSchedule` rather than with
``torch.optim.lr_scheduler``: one small object whose state is three numbers, which makes a
learning rate changed by hand during a run (:meth:`LRSchedule.set_lr`) compose with any
schedule — the schedule keeps its shape, scaled so that the rate is the one asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from netbuilder.training.config import TrainConfig
from netbuilder.training.errors import TrainingError

LossFn = Callable[[Tensor, Tensor], Tensor]


# -- optimisers ----------------------------------------------------------------------------
def build_optimizer(config: TrainConfig, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """The optimiser ``config.optimizer`` over ``params``.

    Raises:
        TrainingError: when there is nothing to train.
    """
    params = list(params)
    if not params:
        raise TrainingError("nothing to train: every node with weights is frozen (or the "
                            "network has no weights)")
    decay = config.weight_decay
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov and config.momentum > 0,
                               weight_decay=decay)
    if config.optimizer in ("adam", "adamw"):
        cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
        return cls(params, lr=config.lr, betas=config.betas, weight_decay=decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum,
                                   weight_decay=decay)
    return torch.optim.Adagrad(params, lr=config.lr, weight_decay=decay)


def set_momentum(optimizer: torch.optim.Optimizer, momentum: float) -> bool:
    """Set SGD/RMSprop momentum or Adam's first beta; ``False`` when the optimiser has none."""
    changed = False
    for group in optimizer.param_groups:
        if "momentum" in group:
            group["momentum"] = momentum
            changed = True
        elif "betas" in group:
            group["betas"] = (momentum, group["betas"][1])
            changed = True
    return changed


# -- schedules -----------------------------------------------------------------------------
class LRSchedule:
    """The learning rate of every step: schedule × warm-up × plateau decay × user scale.

    Call :meth:`apply` before each step (only needed while :attr:`dynamic`) and
    :meth:`end_epoch` after each validation.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, config: TrainConfig,
                 steps_per_epoch: int) -> None:
        """Schedule ``optimizer`` for a run of ``config.epochs`` × ``steps_per_epoch`` steps."""
        self.optimizer = optimizer
        self.config = config
        self.steps_per_epoch = max(steps_per_epoch, 1)
        self.total = config.epochs * self.steps_per_epoch
        self.warmup = round(config.warmup_epochs * self.steps_per_epoch)
        self.scale = 1.0
        self.best = math.inf
        self.bad_epochs = 0
        self.dynamic = config.schedule not in ("none", "plateau") or self.warmup > 0
        self._last = -1.0

    def scheduled(self, step: int) -> float:
        """The rate at global step ``step`` (from 0) before the plateau and user scale."""
        config, lr = self.config, self.config.lr
        epoch = step // self.steps_per_epoch
        kind = config.schedule
        if kind == "step":
            lr *= config.gamma ** (epoch // config.step_size)
        elif kind == "multistep":
            lr *= config.gamma ** sum(1 for m in config.milestones if epoch >= m)
        elif kind == "cosine":
            t = min(step / max(self.total, 1), 1.0)
            lr = config.min_lr + (lr - config.min_lr) * 0.5 * (1 + math.cos(math.pi * t))
        elif kind == "onecycle":
            lr *= _one_cycle(step, self.total)
        if step < self.warmup:
            lr *= (step + 1) / (self.warmup + 1)
        return lr

    def lr_at(self, step: int) -> float:
        """The rate step ``step`` uses."""
        return max(self.scale * self.scheduled(step), 0.0)

    def apply(self, step: int) -> None:
        """Set the optimiser's rate for step ``step``."""
        lr = self.lr_at(step)
        if lr != self._last:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self._last = lr

    def set_lr(self, lr: float, step: int) -> None:
        """Make the rate ``lr`` from step ``step`` on; the schedule goes on from there."""
        scheduled = self.scheduled(step)
        self.scale = lr / scheduled if scheduled > 0 else 1.0
        self.apply(step)

    def end_epoch(self, metric: float) -> bool:
        """After validation: the plateau schedule divides the rate when ``metric`` (a loss)
        has not improved for ``plateau_patience`` epochs. Returns whether it did."""
        if self.config.schedule != "plateau" or not math.isfinite(metric):
            return False
        if metric < self.best * (1 - 1e-4):
            self.best, self.bad_epochs = metric, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs <= self.config.plateau_patience:
            return False
        floor = self.config.min_lr / self.config.lr
        self.scale = max(self.scale * self.config.gamma, floor)
        self.bad_epochs = 0
        return True

    def state_dict(self) -> dict[str, float]:
        """Scale and plateau state (the schedule itself follows from the config)."""
        return {"scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.scale = float(state["scale"])
        self.best = float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
        self._last = -1.0


def _one_cycle(step: int, total: int, pct_start: float = 0.3, div: float = 25.0,
               final_div: float = 1e4) -> float:
    """The one-cycle factor (cosine up from 1/div to 1, then down to 1/(div·final_div))."""
    up = max(int(pct_start * total), 1)
    if step < up:
        start, end, t = 1 / div, 1.0, step / up
    else:
        start, end, t = 1.0, 1 / (div * final_div), min((step - up) / max(total - up, 1), 1)
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * t))


# -- losses --------------------------------------------------------------------------------
def loss_kind(config: TrainConfig, last_block: str | None) -> str:
    """The loss to use: ``config.loss``, or for ``auto`` what the network's end calls for.

    Args:
        config: The run's settings.
        last_block: Block type (or module class name, lower case) of the network's last
            computing layer.

    Returns:
        ``cross_entropy``, ``nll``, ``nll_of_probs`` (the network ends in softmax: NLL of
        the log of its output) or ``mse``.
    """
    if config.loss != "auto":
        return config.loss
    if last_block in ("log_softmax", "logsoftmax"):
        return "nll"
    if last_block == "softmax":
        return "nll_of_probs"
    return "cross_entropy"


def build_loss(kind: str, label_smoothing: float = 0.0) -> LossFn:
    """The loss function ``(output, labels) → mean loss`` of ``kind``."""
    if kind == "cross_entropy":
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    if kind == "nll":
        return nn.NLLLoss()
    if kind == "nll_of_probs":
        return _nll_of_probs
    if kind == "mse":
        return _mse_one_hot
    raise TrainingError(f"unknown loss {kind!r}")


def _nll_of_probs(output: Tensor, labels: Tensor) -> Tensor:
    return F.nll_loss(torch.log(output.float().clamp_min(1e-12)), labels)


def _mse_one_hot(output: Tensor, labels: Tensor) -> Tensor:
    target = F.one_hot(labels, output.shape[1]).to(output.dtype)
    return F.mse_loss(output, target)
