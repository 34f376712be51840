"""Training: the trainer, its callbacks, data sets, augmentation and checkpoints. No Qt.

Names are imported lazily, so that importing this package (e.g. for the ``netbuilder
train`` argument parser) does not import torch::

    from netbuilder.training import Trainer, TrainConfig, ProgressBar

    trainer = Trainer(graph, TrainConfig(dataset="digits", epochs=10), [ProgressBar()])
    result = trainer.fit()
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name → module defining it.
_EXPORTS = {
    "Trainer": "trainer",
    "TrainConfig": "config", "AugmentConfig": "config",
    "Callback": "callbacks", "CallbackList": "callbacks", "History": "callbacks",
    "JsonLogger": "callbacks", "ProgressBar": "callbacks", "BatchEnd": "callbacks",
    "EpochEnd": "callbacks", "FitResult": "callbacks",
    "ModelCheckpoint": "checkpoint", "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "PreparedData": "data", "prepare_data": "data", "preview_augmentations": "data",
    "Augmenter": "augment",
    "TrainingError": "errors", "ConfigError": "errors", "DataError": "errors",
    "CheckpointError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
