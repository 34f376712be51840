"""The training toolbar: run controls, the main settings and the progress bar.

The settings shown (data set, epochs, batch size, optimiser, learning rate, schedule,
augmentation, device) are read from ``document.training`` and every edit is written back
as an undoable :class:`SetTrainingSettings` step (which marks the document modified), so
they are saved in the project file. Settings the toolbar does not show (momentum, weight
decay, warm-up...) are kept as the file has them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QMenu,
    QSpinBox,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from netbuilder.core.commands import Command
from netbuilder.core.document import Document
from netbuilder.training.callbacks import BatchEnd
from netbuilder.training.config import IMAGEFOLDER, TrainConfig
from netbuilder.training.errors import ConfigError
from netbuilder.ui.training.common import caption, duration, named
from netbuilder.ui.training.progress import ProgressStrip

DATASET_TITLES = {"digits": "Digits (8×8, built in)", "shapes": "Shapes (generated)",
                  "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10",
                  "cifar100": "CIFAR-100"}
#: Data sets read through torchvision: choosing one allows the download.
DOWNLOADED = ("mnist", "fashion_mnist", "cifar10", "cifar100")
OPTIMIZER_TITLES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
                    "adagrad": "Adagrad"}
SCHEDULE_TITLES = {"none": "Constant", "step": "Step decay", "multistep": "Multi-step",
                   "cosine": "Cosine", "onecycle": "One-cycle", "plateau": "On plateau ÷10"}
DEVICE_TITLES = {"auto": "Auto", "cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple GPU"}
#: Augmentations offered: menu text, and the settings that switch each one on.
AUGMENTATIONS: tuple[tuple[str, str, dict[str, Any], dict[str, Any]], ...] = (
    ("random_crop", "Random crop (pad 4)", {"random_crop": True}, {"random_crop": False}),
    ("random_resized_crop", "Random resized crop", {"random_resized_crop": True},
     {"random_resized_crop": False}),
    ("horizontal_flip", "Horizontal flip", {"horizontal_flip": True},
     {"horizontal_flip": False}),
    ("color_jitter", "Colour jitter (0.4)", {"color_jitter": 0.4}, {"color_jitter": 0.0}),
    ("lighting", "PCA lighting (0.1)", {"lighting": 0.1}, {"lighting": 0.0}),
)
_SHORT = {"random_crop": "crop", "random_resized_crop": "resized crop",
          "horizontal_flip": "flip", "color_jitter": "jitter", "lighting": "lighting"}
_LR_LADDER = sorted(m * 10.0 ** e for e in range(-7, 3) for m in (1.0, 3.0))


class SetTrainingSettings(Command):
    """Replace the document's training settings (consecutive edits of one field merge)."""

    text = "Change Training Settings"

    def __init__(self, document: Document, settings: Mapping[str, Any], field: str) -> None:
        self.document = document
        self.before = dict(document.training)
        self.after = dict(settings)
        self.merge_key = ("training", field)
        self.text = f"Change Training {field.replace('_', ' ').title()}"

    def redo(self) -> None:
        """Apply the new settings."""
        self._put(self.after)

    def undo(self) -> None:
        """Restore the old settings."""
        self._put(self.before)

    def _put(self, settings: dict[str, Any]) -> None:
        self.document.training.clear()
        self.document.training.update(settings)

    def merge(self, other: Command) -> bool:
        """Absorb a following edit of the same field."""
        if isinstance(other, SetTrainingSettings) and other.document is self.document \
                and other.merge_key == self.merge_key:
            self.after = other.after
            return True
        return False


class LogSpinBox(QDoubleSpinBox):
    """A spin box for learning rates: written like ``3e-4``, stepping 1, 3, 10, 30..."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setRange(1e-8, 100.0)
        self.setKeyboardTracking(False)
        self.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)

    def textFromValue(self, value: float) -> str:
        """``0.003`` → ``0.003``; ``0.00003`` → ``3e-05``."""
        return f"{value:.3g}"

    def valueFromText(self, text: str) -> float:
        """Parse what the user typed (``3e-4``, ``0.0003``)."""
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        """Accept numbers and the half-typed forms of them (``3e``, ``0.``)."""
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            ok = all(c in "0123456789.eE-+" for c in stripped)
            return (QValidator.State.Intermediate if ok else QValidator.State.Invalid,
                    text, pos)
        good = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if good else QValidator.State.Intermediate,
                text, pos)

    def stepBy(self, steps: int) -> None:
        """Move along the ladder 1e-4, 3e-4, 1e-3, 3e-3..."""
        value = self.value()
        for _ in range(abs(steps)):
            if steps > 0:
                value = next((v for v in _LR_LADDER if v > value * 1.0001), value)
            else:
                value = next((v for v in reversed(_LR_LADDER) if v < value * 0.9999), value)
        self.setValue(value)


class TrainingToolbar(QWidget):
    """Run controls, main settings and progress of a training run.

    Signals:
        lrChanged(float): The user set a new learning rate (also while a run goes on).
        settingsError(str): ``document.training`` holds an invalid value.
    """

    lrChanged = Signal(float)
    settingsError = Signal(str)

    def __init__(self, document: Document, run_actions: Sequence[QAction],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "trainingToolbar", "Training toolbar")
        self.document = document
        self.run_actions = list(run_actions)
        self._updating = False
        self._final = ""
        self.state = "idle"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 2)
        layout.setSpacing(4)
        layout.addLayout(self._settings_row())
        layout.addLayout(self._progress_row())
        document.history.connect(self._history_changed)
        self._attached = True
        self.refresh()

    # -- construction -------------------------------------------------------------------------
    def _settings_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self._run_bar())
        self.dataset = self._combo("trainDataset", "Data set", DATASET_TITLES,
                                   "The images to train on (adapted to the input node)")
        self.dataset.addItem("Image folder…", IMAGEFOLDER)
        self.epochs = self._spin("trainEpochs", "Epochs", 1, 100_000,
                                 "Passes over the training set")
        self.batch = self._spin("trainBatchSize", "Batch size", 1, 65_536, "Images per step")
        self.optimizer = self._combo("trainOptimizer", "Optimiser", OPTIMIZER_TITLES,
                                     "How the weights are updated")
        self.lr = LogSpinBox()
        named(self.lr, "trainLearningRate", "Learning rate",
              "Step size of the optimiser; may be changed while training runs")
        self.schedule = self._combo("trainSchedule", "Schedule", SCHEDULE_TITLES,
                                    "How the learning rate changes during the run")
        self.augment = self._augment_button()
        self.device = self._combo("trainDevice", "Device", DEVICE_TITLES,
                                  "Where to train: Auto picks a GPU when there is one")
        for text, widget in (("Data", self.dataset), ("Epochs", self.epochs),
                             ("Batch", self.batch), ("Optimiser", self.optimizer),
                             ("LR", self.lr), ("Schedule", self.schedule),
                             ("", self.augment), ("Device", self.device)):
            if text:
                label = caption(text, f"{widget.objectName()}Label")
                label.setBuddy(widget)
                row.addWidget(label)
            row.addWidget(widget)
        row.addStretch(1)
        self._connect_settings()
        return row

    def _run_bar(self) -> QToolBar:
        bar = QToolBar("Training controls", self)
        named(bar, "trainingControls", "Training controls")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setMovable(False)
        for action in self.run_actions:
            bar.addAction(action)
            button = bar.widgetForAction(action)
            if button is not None:
                name = f"trainingButton{action.objectName().removeprefix('action')}"
                named(button, name, action.text().replace("&", ""), action.toolTip())
        self.run_bar = bar
        return bar

    def _progress_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(8)
        self.progress = ProgressStrip()
        named(self.progress, "trainingProgress", "Training progress",
              "Epoch, step, throughput and the time the run still needs")
        self.progress.setFormat("Ready: press Train (Ctrl+R)")
        self.metrics = caption("", "trainingMetrics",
                               "Latest validation loss and accuracy")
        self.metrics.setMinimumWidth(220)
        self.metrics.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.progress, 1)
        row.addWidget(self.metrics)
        return row

    def _combo(self, name: str, accessible: str, items: Mapping[str, str],
               tip: str) -> QComboBox:
        combo = QComboBox()
        named(combo, name, accessible, tip)
        for key, title in items.items():
            combo.addItem(title, key)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        return combo

    def _spin(self, name: str, accessible: str, low: int, high: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        named(spin, name, accessible, tip)
        spin.setRange(low, high)
        spin.setKeyboardTracking(False)
        spin.setAccelerated(True)
        return spin

    def _augment_button(self) -> QToolButton:
        button = QToolButton()
        named(button, "trainAugment", "Augmentation",
              "Random changes to the training images (AlexNet's recipes)")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        named(menu, "trainAugmentMenu", "Augmentation menu")
        self.augment_actions: dict[str, QAction] = {}
        for key, text, _on, _off in AUGMENTATIONS:
            action = menu.addAction(text)
            action.setObjectName(f"actionAugment{key.title().replace('_', '')}")
            action.setCheckable(True)
            action.toggled.connect(lambda checked, k=key: self._augment_toggled(k, checked))
            self.augment_actions[key] = action
        button.setMenu(menu)
        return button

    def _connect_settings(self) -> None:
        self.dataset.activated.connect(self._dataset_chosen)
        self.epochs.valueChanged.connect(lambda v: self._edit("epochs", epochs=v))
        self.batch.valueChanged.connect(lambda v: self._edit("batch_size", batch_size=v))
        self.optimizer.activated.connect(
            lambda _i: self._edit("optimizer", optimizer=self.optimizer.currentData()))
        self.lr.valueChanged.connect(self._lr_changed)
        self.schedule.activated.connect(self._schedule_chosen)
        self.device.activated.connect(
            lambda _i: self._edit("device", device=self.device.currentData()))

    # -- the document ---------------------------------------------------------------------------
    def set_document(self, document: Document) -> None:
        """Show and edit the settings of ``document``."""
        self.detach()
        self.document = document
        document.history.connect(self._history_changed)
        self._attached = True
        self.refresh()

    def detach(self) -> None:
        """Stop following the document (the toolbar is going away); idempotent."""
        if self._attached:
            self._attached = False
            self.document.history.disconnect(self._history_changed)

    def _history_changed(self) -> None:
        if not self._updating:
            self.refresh()

    def config(self) -> TrainConfig:
        """The document's settings, validated.

        Raises:
            ConfigError: naming the first invalid setting.
        """
        return TrainConfig.from_dict(self.document.training)

    def _current(self) -> TrainConfig:
        try:
            return self.config()
        except ConfigError as exc:
            self.settingsError.emit(f"The project's training settings are invalid: {exc}")
            return TrainConfig()

    def refresh(self) -> None:
        """Show the document's settings in the widgets."""
        config = self._current()
        self._updating = True
        try:
            self._show_dataset(config.dataset)
            self.epochs.setValue(config.epochs)
            self.batch.setValue(config.batch_size)
            _select(self.optimizer, config.optimizer)
            self.lr.setValue(config.lr)
            _select(self.schedule, config.schedule)
            _select(self.device, config.device)
            for key, action in self.augment_actions.items():
                action.setChecked(bool(getattr(config.augment, key)))
            self._label_augment(config)
        finally:
            self._updating = False

    def _show_dataset(self, dataset: str) -> None:
        index = self.dataset.findData(dataset)
        if index < 0:
            folder = dataset[len(IMAGEFOLDER):]
            self.dataset.insertItem(self.dataset.count() - 1, f"Folder: {folder}", dataset)
            index = self.dataset.findData(dataset)
        self.dataset.setCurrentIndex(index)

    def _label_augment(self, config: TrainConfig) -> None:
        chosen = [_SHORT[key] for key in self.augment_actions
                  if getattr(config.augment, key)]
        self.augment.setText("Augment: " + (", ".join(chosen) if chosen else "none"))

    # -- edits -------------------------------------------------------------------------------
    def _edit(self, field: str, **changes: Any) -> None:
        """Write ``changes`` into ``document.training`` as one undoable step."""
        if self._updating:
            return
        try:
            config = self._current().updated(**changes)
        except ConfigError as exc:
            self.settingsError.emit(str(exc))
            self.refresh()
            return
        settings = config.to_dict(compact=True)
        if settings == self.document.training:
            return
        self._updating = True
        try:
            self.document.push(SetTrainingSettings(self.document, settings, field))
        finally:
            self._updating = False
        self._label_augment(config)

    def _dataset_chosen(self, _index: int) -> None:
        key = self.dataset.currentData()
        if key == IMAGEFOLDER:
            folder = QFileDialog.getExistingDirectory(self, "Folder of class sub-folders")
            if not folder:
                self.refresh()
                return
            key = IMAGEFOLDER + folder
        changes: dict[str, Any] = {"dataset": key}
        if key in DOWNLOADED:
            changes["download"] = True
        self._edit("dataset", **changes)
        self.refresh()

    def _lr_changed(self, value: float) -> None:
        if self._updating or not math.isfinite(value):
            return
        self._edit("lr", lr=value)
        self.lrChanged.emit(value)

    def _schedule_chosen(self, _index: int) -> None:
        schedule = self.schedule.currentData()
        changes: dict[str, Any] = {"schedule": schedule}
        config = self._current()
        if schedule == "multistep" and not config.milestones:
            epochs = config.epochs
            changes["milestones"] = sorted({max(1, epochs // 2), max(1, 3 * epochs // 4)})
        self._edit("schedule", **changes)

    def _augment_toggled(self, key: str, checked: bool) -> None:
        if self._updating:
            return
        for name, _text, on, off in AUGMENTATIONS:
            if name == key:
                self._edit("augment", augment=on if checked else off)

    # -- run state and progress ---------------------------------------------------------------
    def set_state(self, state: str) -> None:
        """Enable the settings that may change in ``state`` (see :class:`TrainingSession`).

        The run actions follow the state through their own predicates
        (:data:`~netbuilder.ui.action_table.TRAINING_ACTIONS`).
        """
        self.state = state
        busy = state != "idle"
        for widget in (self.dataset, self.epochs, self.batch, self.optimizer, self.schedule,
                       self.augment, self.device):
            widget.setEnabled(not busy)
        self.lr.setEnabled(state in ("idle", "running", "paused"))
        if state == "idle" and self._final:
            self.progress.setRange(0, 1000)
            self.progress.setFormat(self._final)
        elif state == "preparing":
            self._final = ""
            self.progress.setRange(0, 0)
            self.progress.setFormat("Preparing: compiling the network and reading the data…")
            self.metrics.setText("")
        elif state == "evaluating":
            self.progress.setFormat("Judging the validation set…")
        elif state == "stopping":
            self.progress.setFormat("Stopping after this step…")

    def show_started(self, epochs: int) -> None:
        """A run began: an empty bar."""
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat(f"Epoch 1/{epochs}")

    def show_batch(self, batch: BatchEnd, epochs: int, seconds_left: float | None) -> None:
        """Show the progress of the latest step."""
        total = max(epochs * batch.steps, 1)
        done = (batch.epoch - 1) * batch.steps + batch.step
        self.progress.setValue(min(1000, round(1000 * done / total)))
        left = f" · {duration(seconds_left)} left" if seconds_left is not None else ""
        self.progress.setFormat(
            f"Epoch {batch.epoch}/{epochs} · step {batch.step}/{batch.steps} · "
            f"loss {batch.loss:.4f} · {batch.samples_per_s:,.0f} samples/s{left}")

    def show_epoch(self, val_loss: float | None, val_acc: float | None, lr: float) -> None:
        """Show the latest validation figures."""
        if val_loss is None or val_acc is None:
            self.metrics.setText(f"lr {lr:.3g}")
            return
        self.metrics.setText(f"val loss {val_loss:.4f} · val acc {100 * val_acc:.1f} %")

    def show_paused(self, fault: bool) -> None:
        """Say that the run is paused."""
        text = self.progress.format().split(" · ")
        head = " · ".join(text[:2]) if len(text) >= 2 else self.progress.format()
        self.progress.setFormat(f"{'Stopped by a fault' if fault else 'Paused'} at {head}")

    def show_finished(self, message: str, completed: bool = False) -> None:
        """Show how the run ended (and keep saying it once the run is over)."""
        self._final = message[:1].upper() + message[1:]
        self.progress.setRange(0, 1000)
        if completed:
            self.progress.setValue(1000)
        self.progress.setFormat(self._final)


def _select(combo: QComboBox, key: str) -> None:
    index = combo.findData(key)
    if index >= 0:
        combo.setCurrentIndex(index)
