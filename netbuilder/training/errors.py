"""Errors of the trainer: what stops a run before it starts, and unreadable checkpoints."""

from __future__ import annotations

from netbuilder.core.errors import NetBuilderError


class TrainingError(NetBuilderError):
    """A run that cannot start: a graph that does not compile, nothing to train, a bad
    setting. Raised before the first training step, so nothing has changed."""


class ConfigError(TrainingError, ValueError):
    """An invalid training setting; the message starts with the field's name.

    Attributes:
        field: The name of the offending setting (``"lr"``, ``"augment.crop_padding"``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class DataError(TrainingError):
    """A data set that cannot be read; the message says what is missing and where."""


class CheckpointError(TrainingError):
    """A checkpoint that cannot be loaded (missing, damaged, foreign or unsafe)."""
