"""Training settings: one validated dataclass, stored as the project file's ``training``.

:class:`TrainConfig` holds everything a run needs besides the graph: the data set, the
optimiser, the schedule, the loss, the device and precision, augmentation. It round-trips
through plain JSON data (:meth:`TrainConfig.to_dict` / :meth:`TrainConfig.from_dict`);
reading validates every value and raises :class:`~netbuilder.training.errors.ConfigError`
naming the field, e.g. ``lr: must be greater than 0 (got -1)``. Missing keys take their
defaults, so a project may store only what it changes. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netbuilder.training.errors import ConfigError

#: Built-in data set names; ``imagefolder:PATH`` names a folder of class sub-folders.
DATASETS = ("digits", "shapes", "mnist", "fashion_mnist", "cifar10", "cifar100")
IMAGEFOLDER = "imagefolder:"
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("none", "step", "multistep", "cosine", "onecycle", "plateau")
LOSSES = ("auto", "cross_entropy", "nll", "mse")
DEVICES = ("auto", "cpu", "cuda", "mps")
AMP = ("none", "bf16", "fp16")
EARLY_STOPPING = ("none", "val_loss", "val_acc")
IN_MEMORY = ("auto", "always", "never")
#: Names other tools use for some settings, for "did you mean" hints.
_ALIASES = {"learning_rate": "lr", "batch": "batch_size", "optim": "optimizer",
            "scheduler": "schedule", "lr_schedule": "schedule", "max_epochs": "epochs",
            "workers": "num_workers", "data": "dataset", "data_set": "dataset",
            "precision": "amp", "mixed_precision": "amp", "random_seed": "seed"}


@dataclass(frozen=True)
class _Rule:
    """How one field is checked: its kind and allowed range or choices."""

    kind: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    size: int = 0
    nullable: bool = False


def _rule(kind: str, **options: Any) -> dict[str, _Rule]:
    return {"rule": _Rule(kind, **options)}


@dataclass
class AugmentConfig:
    """Data augmentation, applied to training batches as tensors (AlexNet's recipes).

    Attributes:
        random_crop: Pad by ``crop_padding`` and crop back at a random place.
        crop_padding: Padding of the random crop, in pixels.
        random_resized_crop: Crop a random area (``crop_scale`` of the image, aspect ratio
            in ``crop_ratio``) and resize it to the input size.
        crop_scale: Smallest and largest area fraction of the resized crop.
        crop_ratio: Smallest and largest aspect ratio of the resized crop.
        horizontal_flip: Mirror half of the images left to right.
        color_jitter: Strength of random brightness, contrast and saturation changes
            (0 = off, 0.4 as in torchvision's recipes).
        lighting: Standard deviation of AlexNet's PCA lighting noise (0 = off, 0.1 in
            the paper), along the principal components of the data set's colours.
    """

    random_crop: bool = field(default=False, metadata=_rule("bool"))
    crop_padding: int = field(default=4, metadata=_rule("int", low=0, high=256))
    random_resized_crop: bool = field(default=False, metadata=_rule("bool"))
    crop_scale: tuple[float, float] = field(
        default=(0.08, 1.0), metadata=_rule("floats", size=2, low=0.0, high=1.0, low_open=True))
    crop_ratio: tuple[float, float] = field(
        default=(3 / 4, 4 / 3), metadata=_rule("floats", size=2, low=0.0, low_open=True))
    horizontal_flip: bool = field(default=False, metadata=_rule("bool"))
    color_jitter: float = field(default=0.0, metadata=_rule("float", low=0.0, high=1.0))
    lighting: float = field(default=0.0, metadata=_rule("float", low=0.0, high=10.0))

    def __post_init__(self) -> None:
        self.check()

    @property
    def enabled(self) -> bool:
        """Whether any augmentation is switched on."""
        return (self.random_crop or self.random_resized_crop or self.horizontal_flip
                or self.color_jitter > 0 or self.lighting > 0)

    def check(self, where: str = "augment") -> None:
        """Validate every field and their relations.

        Raises:
            ConfigError: naming the first invalid field.
        """
        _check_fields(self, where)
        for name in ("crop_scale", "crop_ratio"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(f"{where}.{name}", f"the first value must not exceed the "
                                  f"second (got {[low, high]})")


@dataclass
class TrainConfig:
    """Every setting of a training run (see the module docstring for the JSON form).

    Attributes:
        dataset: ``digits`` (default), ``shapes``, ``mnist``, ``fashion_mnist``,
            ``cifar10``, ``cifar100`` or ``imagefolder:PATH``.
        data_dir: Folder holding the torchvision data sets (default: the user cache).
        download: Download a torchvision data set that is not in ``data_dir``.
        shapes_classes: Number of classes of the procedural ``shapes`` data set.
        shapes_samples: Number of images of the ``shapes`` data set.
        val_split: Fraction of the training images held out for validation (0: use the
            data set's own test split where it has one, else validate on nothing).
        epochs: Passes over the training set.
        batch_size: Images per step.
        optimizer: ``sgd``, ``adam``, ``adamw``, ``rmsprop`` or ``adagrad``.
        lr: Learning rate (the peak rate of ``onecycle``).
        momentum: Momentum of SGD and RMSprop (Adam's is ``betas[0]``).
        nesterov: Nesterov momentum for SGD.
        weight_decay: L2 penalty (decoupled for AdamW).
        betas: Adam and AdamW coefficients.
        schedule: ``none``, ``step`` (× ``gamma`` every ``step_size`` epochs),
            ``multistep`` (× ``gamma`` at each of ``milestones``), ``cosine`` (to
            ``min_lr`` at the end), ``onecycle`` or ``plateau`` (× ``gamma`` when the
            validation loss has not improved for ``plateau_patience`` epochs: AlexNet's
            divide-by-ten).
        step_size: Epochs between decays of the ``step`` schedule.
        milestones: Epochs at which the ``multistep`` schedule decays.
        gamma: Decay factor of ``step``, ``multistep`` and ``plateau``.
        plateau_patience: Epochs without improvement before ``plateau`` decays.
        min_lr: Floor of ``cosine`` and ``plateau``.
        warmup_epochs: Linear warm-up from almost 0 to ``lr`` over this many epochs.
        loss: ``auto`` (NLL when the network ends in log-softmax, else cross-entropy),
            ``cross_entropy``, ``nll`` or ``mse`` (against one-hot targets).
        label_smoothing: Label smoothing of the cross-entropy.
        early_stopping: Metric watched for early stopping (``none``, ``val_loss``,
            ``val_acc``).
        early_stopping_patience: Epochs without improvement before stopping.
        seed: Seed of weights, split, shuffling, augmentation and dropout (``None``: a
            fresh seed is drawn and recorded).
        device: ``auto`` (CUDA, else MPS, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or
            ``mps``.
        amp: Mixed precision: ``none``, ``bf16`` or ``fp16`` (with gradient scaling).
        channels_last: Use the channels-last memory format.
        compile: Run the network through ``torch.compile``.
        num_workers: Loader processes for data sets too big to hold in memory (``None``:
            up to 4).
        in_memory: Hold the fitted data set as one tensor (``auto``: when it fits
            in 1 GiB), ``always`` or ``never`` (a ``DataLoader``).
        init: Graph-wide weight initialisation (``kaiming``, ``xavier``, ``normal``, or a
            dict such as ``{"scheme": "normal", "std": 0.01}``); ``None`` keeps PyTorch's.
        log_every: Steps between reads of the loss from the device (0: every step on the
            CPU, every 20 steps on a GPU). Callbacks still receive every step.
        augment: Data augmentation.
    """

    dataset: str = field(default="digits", metadata=_rule("dataset"))
    data_dir: str | None = field(default=None, metadata=_rule("str", nullable=True))
    download: bool = field(default=False, metadata=_rule("bool"))
    shapes_classes: int = field(default=4, metadata=_rule("int", low=2, high=8))
    shapes_samples: int = field(default=2000, metadata=_rule("int", low=10, high=10**7))
    val_split: float = field(default=0.2, metadata=_rule("float", low=0.0, high=0.9))
    epochs: int = field(default=10, metadata=_rule("int", low=1, high=10**6))
    batch_size: int = field(default=64, metadata=_rule("int", low=1, high=2**20))
    optimizer: str = field(default="adam", metadata=_rule("choice", choices=OPTIMIZERS))
    lr: float = field(default=5e-3, metadata=_rule("float", low=0.0, low_open=True, high=100))
    momentum: float = field(default=0.9, metadata=_rule("float", low=0.0, high=1.0))
    nesterov: bool = field(default=False, metadata=_rule("bool"))
    weight_decay: float = field(default=0.0, metadata=_rule("float", low=0.0, high=10.0))
    betas: tuple[float, float] = field(
        default=(0.9, 0.999), metadata=_rule("floats", size=2, low=0.0, high=1.0))
    schedule: str = field(default="none", metadata=_rule("choice", choices=SCHEDULES))
    step_size: int = field(default=10, metadata=_rule("int", low=1, high=10**6))
    milestones: tuple[int, ...] = field(default=(), metadata=_rule("ints", low=1))
    gamma: float = field(default=0.1, metadata=_rule("float", low=0.0, high=1.0,
                                                     low_open=True))
    plateau_patience: int = field(default=2, metadata=_rule("int", low=0, high=10**6))
    min_lr: float = field(default=0.0, metadata=_rule("float", low=0.0))
    warmup_epochs: float = field(default=0.0, metadata=_rule("float", low=0.0, high=10**6))
    loss: str = field(default="auto", metadata=_rule("choice", choices=LOSSES))
    label_smoothing: float = field(default=0.0, metadata=_rule("float", low=0.0, high=0.99))
    early_stopping: str = field(default="none", metadata=_rule("choice",
                                                                choices=EARLY_STOPPING))
    early_stopping_patience: int = field(default=5, metadata=_rule("int", low=1, high=10**6))
    seed: int | None = field(default=0, metadata=_rule("int", low=0, high=2**63 - 1,
                                                        nullable=True))
    device: str = field(default="auto", metadata=_rule("device"))
    amp: str = field(default="none", metadata=_rule("choice", choices=AMP))
    channels_last: bool = field(default=False, metadata=_rule("bool"))
    compile: bool = field(default=False, metadata=_rule("bool"))
    num_workers: int | None = field(default=None, metadata=_rule("int", low=0, high=256,
                                                                   nullable=True))
    in_memory: str = field(default="auto", metadata=_rule("choice", choices=IN_MEMORY))
    init: str | dict[str, Any] | None = field(default=None, metadata=_rule("init"))
    log_every: int = field(default=0, metadata=_rule("int", low=0, high=10**6))
    augment: AugmentConfig = field(default_factory=AugmentConfig,
                                   metadata=_rule("augment"))

    def __post_init__(self) -> None:
        if isinstance(self.augment, Mapping):
            self.augment = _from_dict(AugmentConfig, dict(self.augment), "augment.")
        elif not isinstance(self.augment, AugmentConfig):
            raise ConfigError("augment", f"must be an object of settings (got {self.augment!r})")
        self.check()

    def check(self) -> None:
        """Validate every field and their relations.

        Raises:
            ConfigError: naming the first invalid field.
        """
        _check_fields(self, "")
        self.augment.check("augment")
        if self.schedule == "multistep" and not self.milestones:
            raise ConfigError("milestones", "the multistep schedule needs at least one "
                              "milestone epoch")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ConfigError("milestones", f"must be increasing (got {list(self.milestones)})")

    # -- JSON ------------------------------------------------------------------------
    def to_dict(self, *, compact: bool = False) -> dict[str, Any]:
        """The settings as plain JSON data.

        Args:
            compact: Leave out values equal to their defaults.
        """
        return _to_dict(self, TrainConfig(), compact)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TrainConfig:
        """Settings from plain JSON data; missing keys take their defaults.

        Raises:
            ConfigError: naming the first unknown or invalid field.
        """
        data = dict(data or {})
        data["augment"] = _mapping(data.get("augment", {}), "augment")
        return _from_dict(cls, data, "")

    def updated(self, **changes: Any) -> TrainConfig:
        """A validated copy with ``changes`` applied (``augment`` may be a dict).

        Raises:
            ConfigError: naming the first invalid field.
        """
        data = self.to_dict()
        augment = changes.pop("augment", None)
        if isinstance(augment, AugmentConfig):
            augment = _to_dict(augment, AugmentConfig(), False)
        if augment is not None:
            data["augment"] = {**data["augment"], **_mapping(augment, "augment")}
        data.update(changes)
        return TrainConfig.from_dict(data)


# -- validation -----------------------------------------------------------------------
def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(where, f"must be an object of settings (got {value!r})")
    return dict(value)


def _from_dict(cls: type[Any], data: dict[str, Any], prefix: str) -> Any:
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            near = [_ALIASES[key]] if _ALIASES.get(key) in names else \
                difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"{prefix}{key}", f"unknown setting{hint}")
    values = {}
    for item in dataclasses.fields(cls):
        if item.name in data:
            rule = item.metadata["rule"]
            values[item.name] = data[item.name] if rule.kind == "augment" else \
                _normalise(rule, data[item.name], prefix + item.name)
    return cls(**values)


def _check_fields(obj: Any, where: str) -> None:
    prefix = f"{where}." if where else ""
    for item in dataclasses.fields(obj):
        rule: _Rule = item.metadata["rule"]
        if rule.kind != "augment":
            value = _normalise(rule, getattr(obj, item.name), prefix + item.name)
            object.__setattr__(obj, item.name, value)


def _normalise(rule: _Rule, value: Any, name: str) -> Any:
    """``value`` checked against ``rule`` and normalised (lists become tuples)."""
    if value is None:
        if rule.nullable or rule.kind == "init":
            return None
        raise ConfigError(name, "a value is required")
    return _CHECKERS[rule.kind](rule, value, name)


def _check_bool(rule: _Rule, value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(name, f"must be true or false (got {value!r})")
    return value


def _check_int(rule: _Rule, value: Any, name: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"must be a whole number (got {value!r})")
    _check_range(rule, value, name)
    return value


def _check_float(rule: _Rule, value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(name, f"must be a number (got {value!r})")
    if not math.isfinite(value):
        raise ConfigError(name, f"must be finite (got {value!r})")
    _check_range(rule, float(value), name)
    return float(value)


def _check_range(rule: _Rule, value: float, name: str) -> None:
    if rule.low is not None and (value <= rule.low if rule.low_open else value < rule.low):
        word = "greater than" if rule.low_open else "at least"
        raise ConfigError(name, f"must be {word} {_fmt(rule.low)} (got {value!r})")
    if rule.high is not None and value > rule.high:
        raise ConfigError(name, f"must be at most {_fmt(rule.high)} (got {value!r})")


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _check_sequence(rule: _Rule, value: Any, name: str, item: Any) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(name, f"must be a list (got {value!r})")
    if rule.size and len(value) != rule.size:
        raise ConfigError(name, f"must be a list of {rule.size} numbers (got {list(value)!r})")
    return tuple(item(rule, v, f"{name}[{k}]") for k, v in enumerate(value))


def _check_floats(rule: _Rule, value: Any, name: str) -> tuple[float, ...]:
    return _check_sequence(rule, value, name, _check_float)


def _check_ints(rule: _Rule, value: Any, name: str) -> tuple[int, ...]:
    return _check_sequence(rule, value, name, _check_int)


def _check_str(rule: _Rule, value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(name, f"must be text (got {value!r})")
    return value


def _check_choice(rule: _Rule, value: Any, name: str) -> str:
    if value not in rule.choices:
        raise ConfigError(name, f"must be one of {', '.join(rule.choices)} (got {value!r})")
    return value


def _check_dataset(rule: _Rule, value: Any, name: str) -> str:
    value = _check_str(rule, value, name)
    if value.startswith(IMAGEFOLDER):
        if not value[len(IMAGEFOLDER):].strip():
            raise ConfigError(name, "imagefolder: needs a folder, e.g. imagefolder:/data/pets")
        return value
    key = value.strip().lower().replace("-", "_")
    if key not in DATASETS:
        raise ConfigError(name, f"unknown data set {value!r} (use one of "
                          f"{', '.join(DATASETS)} or imagefolder:PATH)")
    return key


def _check_device(rule: _Rule, value: Any, name: str) -> str:
    value = _check_str(rule, value, name)
    base, _, index = value.partition(":")
    if base not in DEVICES or (index and (base != "cuda" or not index.isdigit())):
        raise ConfigError(name, f"must be one of {', '.join(DEVICES)} or cuda:N "
                          f"(got {value!r})")
    return value


def _check_init(rule: _Rule, value: Any, name: str) -> str | dict[str, Any]:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise ConfigError(name, f"must be a scheme name or an object (got {value!r})")


_CHECKERS = {
    "bool": _check_bool, "int": _check_int, "float": _check_float, "floats": _check_floats,
    "ints": _check_ints, "str": _check_str, "choice": _check_choice,
    "dataset": _check_dataset, "device": _check_device, "init": _check_init,
}


def _to_dict(obj: Any, default: Any, compact: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in dataclasses.fields(obj):
        value = getattr(obj, item.name)
        if isinstance(value, AugmentConfig):
            nested = _to_dict(value, AugmentConfig(), compact)
            if nested or not compact:
                out[item.name] = nested
            continue
        if compact and value == getattr(default, item.name):
            continue
        out[item.name] = list(value) if isinstance(value, tuple) else value
    return out
