"""Checkpoints: everything a run needs to go on exactly where it stopped.

A checkpoint is a ``torch.save`` file holding one dictionary of tensors and plain data:
the graph (as the project file's ``graph`` object), the training settings, the model,
optimiser, schedule and gradient-scaler states, the history of the curves, the position
in the run (epoch, step within the epoch, partial sums of the epoch) and the random
generators' states. Nothing in it is a Python object of ours, so it loads with
``torch.load(weights_only=True)``; a file that needs more (arbitrary pickled objects, which
could run code) is refused.

Writes are atomic: a checkpoint is written beside its target and renamed over it, so a
crash leaves either the old file or the new one.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from netbuilder.core.fileio import atomic_write
from netbuilder.core.outputs import is_torch_write_error, reason
from netbuilder.training.callbacks import Callback, EpochEnd, FitResult
from netbuilder.training.errors import CheckpointError, TrainingError

if TYPE_CHECKING:
    from netbuilder.training.trainer import Trainer

FORMAT = "netbuilder-checkpoint"
VERSION = 1
LAST, BEST = "last.pt", "best.pt"


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``state`` to ``path`` atomically; return the path.

    Raises:
        OSError: when the file cannot be written (the old file, if any, is intact).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(target, lambda stream: torch.save(
        {"format": FORMAT, "version": VERSION, **state}, stream))


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint (tensors on the CPU) with ``weights_only=True``.

    Raises:
        CheckpointError: when the file is missing, damaged, not a NetBuilder checkpoint,
            or holds Python objects that only a full unpickler could load.
    """
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(f"no checkpoint at {source}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "unexpected pickle protocol"
            state = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _refusal(source, str(exc)) from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f"{source} is not a readable checkpoint: {exc}") from None
    except Exception as exc:  # a damaged pickle stream fails in many ways (KeyError: 101)
        raise CheckpointError(f"{source} is not a readable checkpoint (damaged, or not a "
                              f"torch.save file): {type(exc).__name__}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{source} is not a NetBuilder checkpoint")
    if not isinstance(state.get("version"), int) or state["version"] > VERSION:
        raise CheckpointError(f"{source} was written by a newer NetBuilder "
                              f"(checkpoint version {state.get('version')!r})")
    return state


# -- a trainer's state ----------------------------------------------------------------------
def capture_state(trainer: Trainer) -> dict[str, Any]:
    """Everything a resumed run needs, from a set-up trainer (tensors stay where they are)."""
    from netbuilder.core.serialize import graph_to_dict

    data = trainer.data
    assert data is not None
    return {
        "graph": graph_to_dict(trainer.graph) if trainer.graph is not None else None,
        "config": trainer.config.to_dict(),
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "schedule": trainer.schedule.state_dict(),
        "scaler": trainer.scaler.state_dict() if trainer.scaler is not None else None,
        "history": trainer.history.state_dict(),
        "progress": {"epoch": trainer.epoch, "step": trainer.step,
                     "global_step": trainer.global_step, "sums": list(trainer.epoch_sums),
                     "best_metric": trainer.best_metric, "bad_epochs": trainer.bad_epochs,
                     "monitor": trainer.monitor},
        "rng": _capture_rng(trainer),
        "data": {"name": data.name, "classes": list(data.classes),
                 "mean": data.fitter.mean.tolist(), "std": data.fitter.std.tolist()},
    }


def _capture_rng(trainer: Trainer) -> dict[str, Any]:
    rng: dict[str, Any] = {"torch": torch.get_rng_state()}
    if trainer.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state_all()
    if trainer.augmenter is not None:
        rng["augment"] = trainer.augmenter.state_dict()
    return rng


def restore_state(trainer: Trainer, state: Mapping[str, Any]) -> None:
    """Load a checkpoint into a set-up trainer.

    When the checkpoint stopped mid-epoch but the batches of that epoch would differ now
    (another batch size, data set, split or seed), the epoch is redone from its start.

    Raises:
        TrainingError: when the checkpoint does not fit the trainer's network.
        CheckpointError: when it lacks a part or a part is damaged.
    """
    try:
        trainer.model.load_state_dict(state["model"])
        trainer.optimizer.load_state_dict(state["optimizer"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise TrainingError(f"the checkpoint does not fit this network: {exc}") from exc
    try:
        _restore_rest(trainer, state)
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise CheckpointError(f"the checkpoint is incomplete or damaged "
                              f"({type(exc).__name__}: {exc})") from exc


def _restore_rest(trainer: Trainer, state: Mapping[str, Any]) -> None:
    """Schedule, scaler, history, position and random states of a checkpoint."""
    trainer.schedule.load_state_dict(state["schedule"])
    if trainer.scaler is not None and state.get("scaler"):
        trainer.scaler.load_state_dict(state["scaler"])
    trainer.history.load_state_dict(state["history"])
    _restore_progress(trainer, state["progress"], state.get("config", {}))
    _restore_rng(trainer, state.get("rng", {}))


def _restore_progress(trainer: Trainer, progress: Mapping[str, Any],
                      saved: Mapping[str, Any]) -> None:
    trainer.epoch, trainer.step = int(progress["epoch"]), int(progress["step"])
    trainer.global_step = int(progress["global_step"])
    trainer.epoch_sums = list(progress["sums"])
    trainer.best_metric = progress.get("best_metric")
    trainer.bad_epochs = int(progress.get("bad_epochs", 0))
    same_batches = all(saved.get(k) == getattr(trainer.config, k)
                       for k in ("batch_size", "dataset", "val_split", "seed"))
    if trainer.step and not same_batches:
        trainer.global_step -= trainer.step
        trainer.step, trainer.epoch_sums = 0, [0.0, 0.0, 0, 0.0]
        trainer.history.truncate(trainer.global_step, trainer.epoch)


def _restore_rng(trainer: Trainer, rng: Mapping[str, Any]) -> None:
    if "torch" in rng:
        torch.set_rng_state(rng["torch"])
    if "cuda" in rng and trainer.device.type == "cuda":
        torch.cuda.set_rng_state_all(rng["cuda"])
    if "augment" in rng and trainer.augmenter is not None:
        trainer.augmenter.load_state_dict(rng["augment"])


def _refusal(source: Path, message: str) -> CheckpointError:
    """The error for a file the weights-only unpickler rejected."""
    culprit = next((line.strip() for line in message.splitlines() if "GLOBAL" in line), None)
    if culprit is None:
        return CheckpointError(f"{source} is not a readable checkpoint (not a torch.save file "
                               f"of tensors and plain data)")
    return CheckpointError(f"refusing to load {source}: it holds Python objects beyond "
                           f"tensors and plain data, which could run code when loaded "
                           f"({culprit})")


class ModelCheckpoint(Callback):
    """Writes ``last.pt`` after every epoch and when the run ends, and ``best.pt`` whenever
    the monitored metric improves.

    The monitored metric is the trainer's (:attr:`Trainer.monitor`: the early-stopping
    metric, else validation accuracy, else training loss). A run that ends in a fault
    leaves ``last.pt`` as the last good epoch wrote it.
    """

    def __init__(self, dirpath: str | os.PathLike[str], *, save_best: bool = True) -> None:
        """Write into ``dirpath`` (created when needed)."""
        self.dirpath = Path(dirpath)
        self.save_best = save_best

    @property
    def last_path(self) -> Path:
        """Where ``last.pt`` goes."""
        return self.dirpath / LAST

    @property
    def best_path(self) -> Path:
        """Where ``best.pt`` goes."""
        return self.dirpath / BEST

    def on_epoch_end(self, trainer: Trainer, epoch: EpochEnd) -> None:
        """Write ``last.pt`` (and ``best.pt`` when the epoch improved the metric)."""
        state = trainer.checkpoint_state()
        self._write(trainer, state, self.last_path, "last")
        if self.save_best and trainer.improved:
            self._write(trainer, state, self.best_path, "best")

    def on_train_end(self, trainer: Trainer, result: FitResult) -> None:
        """Write ``last.pt`` where the run stopped, unless it ended in a fault."""
        if result.status != "fault" and trainer.started:
            self._write(trainer, trainer.checkpoint_state(), self.last_path, "last")

    def _write(self, trainer: Trainer, state: dict[str, Any], path: Path, kind: str) -> None:
        """Write one checkpoint file.

        Raises:
            CheckpointError: when it cannot be written (one line naming the file).
        """
        try:
            save_checkpoint(state, path)
        except Exception as exc:
            if not (isinstance(exc, OSError) or is_torch_write_error(exc)):
                raise
            raise CheckpointError(f"cannot write the checkpoint {path}: {reason(exc)}") from None
        trainer.callbacks.on_checkpoint(trainer, str(path), kind)
