"""Training settings: JSON round trip, validation naming the field, schedules and losses."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch

from netbuilder.training.config import AugmentConfig, TrainConfig
from netbuilder.training.errors import ConfigError
from netbuilder.training.optim import LRSchedule, build_optimizer, loss_kind, set_momentum


def test_settings_round_trip_through_json() -> None:
    config = TrainConfig(dataset="cifar10", optimizer="sgd", lr=0.1, nesterov=True,
                         schedule="multistep", milestones=(3, 6), betas=(0.8, 0.9),
                         init={"scheme": "normal", "std": 0.01}, seed=None,
                         augment=AugmentConfig(random_crop=True, crop_scale=(0.5, 1.0)))
    text = json.dumps(config.to_dict())
    again = TrainConfig.from_dict(json.loads(text))
    assert again == config
    assert TrainConfig.from_dict({}) == TrainConfig()
    assert config.to_dict(compact=True) == {
        "dataset": "cifar10", "optimizer": "sgd", "lr": 0.1, "nesterov": True,
        "betas": [0.8, 0.9], "schedule": "multistep", "milestones": [3, 6],
        "seed": None, "init": {"scheme": "normal", "std": 0.01},
        "augment": {"random_crop": True, "crop_scale": [0.5, 1.0]}}
    assert TrainConfig().to_dict(compact=True) == {}


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"lr": -1}, "lr", "greater than 0"),
    ({"lr": "fast"}, "lr", "must be a number"),
    ({"epochs": 2.5}, "epochs", "whole number"),
    ({"optimizer": "lbfgs"}, "optimizer", "sgd, adam, adamw, rmsprop, adagrad"),
    ({"dataset": "imagenet"}, "dataset", "unknown data set"),
    ({"device": "tpu"}, "device", "cuda:N"),
    ({"betas": [0.9]}, "betas", "list of 2"),
    ({"val_split": 0.95}, "val_split", "at most 0.9"),
    ({"learning_rate": 0.1}, "learning_rate", "did you mean 'lr'"),
    ({"augment": {"crop_padding": -1}}, "augment.crop_padding", "at least 0"),
    ({"augment": {"crop_scale": [0.9, 0.5]}}, "augment.crop_scale", "must not exceed"),
    ({"augment": {"flip": True}}, "augment.flip", "unknown setting"),
    ({"augment": []}, "augment", "object of settings"),
    ({"schedule": "multistep"}, "milestones", "at least one"),
    ({"milestones": [5, 3]}, "milestones", "increasing"),
    ({"nesterov": 1}, "nesterov", "true or false"),
    ({"lr": math.inf}, "lr", "finite"),
])
def test_invalid_settings_name_the_field(data: dict[str, object], field: str,
                                         words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        TrainConfig.from_dict(data)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_updated_validates_and_merges_augmentation() -> None:
    config = TrainConfig().updated(epochs=3, augment={"horizontal_flip": True})
    assert config.epochs == 3 and config.augment.horizontal_flip and config.augment.enabled
    with pytest.raises(ConfigError, match="batch_size"):
        config.updated(batch_size=0)
    assert TrainConfig.from_dict({"dataset": "Fashion-MNIST"}).dataset == "fashion_mnist"


# -- schedules ------------------------------------------------------------------------------
def _schedule(**settings: Any) -> LRSchedule:
    config = TrainConfig(epochs=10, lr=1.0, **settings)
    optimizer = build_optimizer(config, [torch.nn.Parameter(torch.zeros(1))])
    return LRSchedule(optimizer, config, steps_per_epoch=10)


def test_step_multistep_cosine_and_one_cycle_follow_their_formulas() -> None:
    step = _schedule(schedule="step", step_size=3, gamma=0.5)
    assert [step.lr_at(e * 10) for e in (0, 2, 3, 6, 9)] == [1.0, 1.0, 0.5, 0.25, 0.125]
    multi = _schedule(schedule="multistep", milestones=(2, 5), gamma=0.1)
    assert [multi.lr_at(e * 10) for e in (1, 2, 5)] == pytest.approx([1.0, 0.1, 0.01])
    cosine = _schedule(schedule="cosine", min_lr=0.1)
    assert cosine.lr_at(0) == 1.0 and cosine.lr_at(50) == pytest.approx(0.55)
    assert cosine.lr_at(100) == pytest.approx(0.1)
    cycle = _schedule(schedule="onecycle")
    rates = [cycle.lr_at(s) for s in range(100)]
    assert rates[0] == pytest.approx(1 / 25) and max(rates) == pytest.approx(1.0)
    assert rates.index(max(rates)) == 30 and rates[-1] < 1e-3


def test_warmup_ramps_linearly_and_set_lr_keeps_the_schedule_shape() -> None:
    warm = _schedule(warmup_epochs=1)
    assert warm.dynamic
    assert [warm.lr_at(s) for s in (0, 4, 9, 10)] == pytest.approx([1 / 11, 5 / 11, 10 / 11, 1])
    schedule = _schedule(schedule="cosine", warmup_epochs=1)
    before = schedule.lr_at(60) / schedule.lr_at(40)
    schedule.set_lr(0.5, step=40)
    assert schedule.lr_at(40) == pytest.approx(0.5)
    assert schedule.optimizer.param_groups[0]["lr"] == pytest.approx(0.5)
    assert schedule.lr_at(60) / schedule.lr_at(40) == pytest.approx(before)


def test_plateau_divides_by_gamma_when_the_loss_stalls() -> None:
    schedule = _schedule(schedule="plateau", plateau_patience=1, gamma=0.1)
    assert not schedule.dynamic
    decays = [schedule.end_epoch(loss) for loss in (1.0, 0.9, 0.95, 0.91, 0.92, 0.5)]
    assert decays == [False, False, False, True, False, False]
    assert schedule.lr_at(0) == pytest.approx(0.1)
    state = schedule.state_dict()
    other = _schedule(schedule="plateau")
    other.load_state_dict(state)
    assert other.lr_at(0) == pytest.approx(0.1)


@pytest.mark.parametrize(("name", "has"), [("sgd", True), ("adam", True), ("adamw", True),
                                           ("rmsprop", True), ("adagrad", False)])
def test_every_optimiser_is_built_and_momentum_is_set_where_it_has_one(name: str,
                                                                      has: bool) -> None:
    config = TrainConfig(optimizer=name, weight_decay=1e-4)
    optimizer = build_optimizer(config, [torch.nn.Parameter(torch.zeros(1))])
    assert optimizer.param_groups[0]["weight_decay"] == 1e-4
    assert set_momentum(optimizer, 0.5) is has


def test_auto_loss_is_nll_after_log_softmax() -> None:
    auto = TrainConfig()
    assert loss_kind(auto, "log_softmax") == "nll"
    assert loss_kind(auto, "logsoftmax") == "nll"
    assert loss_kind(auto, "softmax") == "nll_of_probs"
    assert loss_kind(auto, "linear") == "cross_entropy"
    assert loss_kind(TrainConfig(loss="mse"), "log_softmax") == "mse"
