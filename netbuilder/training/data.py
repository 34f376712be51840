"""Data sets fitted to a model's input, split, and served in batches.

:func:`prepare_data` reads a data set (:mod:`netbuilder.training.sources`), fits every
image to the model's input shape — channel count (grey ↔ RGB), size (bilinear, with
antialiasing when shrinking), normalisation with the data set's own per-channel mean and
standard deviation — splits off a validation set (deterministic per seed), and returns
batch iterators:

* :class:`TensorBatches` when the fitted set fits in memory (1 GiB by default): one
  tensor, moved once to the training device, batched by index permutation;
* :class:`LoaderBatches` otherwise: a ``DataLoader`` with worker processes and pinned
  memory, fitting images as they are read.

Both shuffle with a permutation drawn from ``(seed, epoch)`` alone and can start an epoch
at any step, which is what lets a run resume exactly where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from netbuilder.training.augment import Augmenter, colour_pca
from netbuilder.training.config import IMAGEFOLDER, AugmentConfig, TrainConfig
from netbuilder.training.errors import DataError
from netbuilder.training.shapes import SHAPE_NAMES, make_shapes
from netbuilder.training.sources import (
    FolderSet,
    RawSet,
    default_data_dir,
    load_cifar_set,
    load_digits_set,
    load_image_folder,
    load_mnist_set,
)

Shape = tuple[int, ...]
#: Largest fitted data set (float32 bytes) held in memory when ``in_memory`` is ``auto``.
MEMORY_BUDGET = 1 << 30
#: Images a folder's statistics are computed from.
STATS_SAMPLE = 256


# -- fitting -------------------------------------------------------------------------------
def to_unit(images: Tensor) -> Tensor:
    """``uint8`` 0..255 or float 0..1 images as ``float32`` 0..1."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()


def convert_channels(pixels: Tensor, channels: int) -> Tensor:
    """Grey → RGB (repeated), RGB → grey (luminance), RGBA → RGB; else unchanged.

    Raises:
        DataError: when the channel counts cannot be matched.
    """
    have = pixels.shape[1]
    if have == channels:
        return pixels
    if have == 1:
        return pixels.expand(-1, channels, -1, -1)
    if have == 4 and channels in (1, 3):
        return convert_channels(pixels[:, :3], channels)
    if have == 3 and channels == 1:
        weights = torch.tensor((0.299, 0.587, 0.114), dtype=pixels.dtype).view(1, 3, 1, 1)
        return (pixels * weights.to(pixels.device)).sum(dim=1, keepdim=True)
    raise DataError(f"the model's input has {channels} channels and the data set's images "
                    f"have {have}: use 1 (grey) or 3 (RGB) input channels")


def resize(pixels: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize to ``size`` (antialiased when shrinking)."""
    if tuple(pixels.shape[-2:]) == tuple(size):
        return pixels
    shrink = pixels.shape[-2] > size[0] or pixels.shape[-1] > size[1]
    return F.interpolate(pixels, size=size, mode="bilinear", align_corners=False,
                         antialias=shrink)


@dataclass(frozen=True)
class Fitter:
    """Turns raw images into model inputs.

    Attributes:
        channels: Input channels of the model.
        size: Input height and width.
        mean: Per-channel mean of the fitted training pixels.
        std: Per-channel standard deviation of the fitted training pixels.
        flatten: Whether the model takes flat vectors (its input shape is ``(C·H·W,)``).
    """

    channels: int
    size: tuple[int, int]
    mean: Tensor = field(default_factory=lambda: torch.zeros(1))
    std: Tensor = field(default_factory=lambda: torch.ones(1))
    flatten: bool = False

    def pixels(self, images: Tensor) -> Tensor:
        """Images ``(N, c, h, w)`` as ``(N, C, H, W)`` pixel values 0..1, not normalised."""
        return resize(convert_channels(to_unit(images), self.channels), self.size)

    def __call__(self, images: Tensor) -> Tensor:
        """Images ``(N, c, h, w)`` as normalised model inputs."""
        x = (self.pixels(images) - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)
        x = x.contiguous()
        return x.flatten(1) if self.flatten else x


def image_geometry(input_shape: Shape, native: Shape) -> tuple[int, tuple[int, int], bool]:
    """Channels, size and whether to flatten, for a model input shape.

    A 3-D input ``(C, H, W)`` is taken as it is. A flat input ``(F,)`` takes the data
    set's own images when ``F`` is their size, else square grey (``F = H·W``) or RGB
    (``F = 3·H·W``) images.

    Raises:
        DataError: when no image geometry fits the input shape.
    """
    if len(input_shape) == 3:
        return input_shape[0], (input_shape[1], input_shape[2]), False
    if len(input_shape) == 1:
        features = input_shape[0]
        if math.prod(native) == features:
            return native[0], (native[1], native[2]), True
        for channels in (1, 3):
            side = math.isqrt(features // channels)
            if channels * side * side == features:
                return channels, (side, side), True
    raise DataError(f"cannot feed images to an input of shape {'×'.join(map(str, input_shape))}:"
                    f" use C×H×W (e.g. 1×28×28) or a flat size such as 784")


def channel_stats(pixels: Iterable[Tensor]) -> tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation of pixel chunks ``(n, C, H, W)``."""
    total: Tensor | None = None
    squares: Tensor | None = None
    count = 0
    for chunk in pixels:
        chunk = chunk.double()
        sums, sq = chunk.sum(dim=(0, 2, 3)), (chunk * chunk).sum(dim=(0, 2, 3))
        total = sums if total is None else total + sums
        squares = sq if squares is None else squares + sq
        count += chunk.numel() // chunk.shape[1]
    if total is None or squares is None or count == 0:
        raise DataError("the data set has no training images")
    mean = total / count
    std = (squares / count - mean * mean).clamp(min=0).sqrt()
    return mean.float(), std.clamp(min=1e-3).float()


# -- batching ------------------------------------------------------------------------------
class Batches(Protocol):
    """Batches of one split of a data set."""

    num_samples: int
    batch_size: int

    def __len__(self) -> int:
        """Steps per epoch."""
        ...

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches of ``epoch`` (from 0), beginning at step ``start``."""
        ...


def steps_per_epoch(samples: int, batch_size: int, drop_lone: bool = True) -> int:
    """Batches per epoch; a last batch of a single image is dropped when training
    (``drop_lone``: batch norm needs two)."""
    full, rest = divmod(samples, batch_size)
    return full + (1 if rest > 1 or (rest == 1 and (full == 0 or not drop_lone)) else 0)


def epoch_order(samples: int, seed: int, epoch: int, shuffle: bool) -> Tensor:
    """The order of the samples in ``epoch``: a function of ``(seed, epoch)`` alone."""
    if not shuffle:
        return torch.arange(samples)
    generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % (2**63 - 1))
    return torch.randperm(samples, generator=generator)


class TensorBatches:
    """An in-memory split, batched by index permutation (no ``DataLoader``).

    A training split (``shuffle``) drops a last batch of one image; a validation split
    keeps every image.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int, *, shuffle: bool,
                 seed: int) -> None:
        """Hold fitted inputs ``x`` and labels ``y``."""
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.num_samples = len(x)

    def __len__(self) -> int:
        return steps_per_epoch(self.num_samples, self.batch_size, self.shuffle)

    def to(self, device: torch.device, *, channels_last: bool = False) -> None:
        """Move the split to ``device`` once (optionally as channels-last)."""
        x = self.x.to(device)
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        self.x, self.y = x, self.y.to(device)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches of ``epoch``, beginning at step ``start``."""
        order = epoch_order(self.num_samples, self.seed, epoch, self.shuffle)
        order = order.to(self.x.device, non_blocking=True)
        size = self.batch_size
        x, y = self.x, self.y
        for step in range(start, len(self)):
            index = order[step * size:(step + 1) * size]
            yield x[index], y[index]  # indexing keeps a channels-last layout


class _Reader(Protocol):
    def __call__(self, index: int) -> Tensor: ...


@dataclass
class _ArrayReader:
    images: Tensor

    def __call__(self, index: int) -> Tensor:
        return self.images[index]


class FittedDataset(Dataset[tuple[Tensor, int]]):
    """Images read one at a time and fitted to the model's input (for ``DataLoader``)."""

    def __init__(self, read: _Reader, labels: Sequence[int], indices: Tensor,
                 fitter: Fitter) -> None:
        """Serve images ``indices`` of ``read`` with their ``labels``."""
        self.read, self.labels, self.indices, self.fitter = read, labels, indices, fitter

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> tuple[Tensor, int]:
        index = int(self.indices[item])
        return self.fitter(self.read(index).unsqueeze(0))[0], int(self.labels[index])


class EpochSampler(Sampler[int]):
    """Indices in :func:`epoch_order`, from step ``start``; set ``epoch``/``start`` first."""

    def __init__(self, samples: int, batch_size: int, *, shuffle: bool, seed: int) -> None:
        """Order ``samples`` indices."""
        self.samples, self.batch_size = samples, batch_size
        self.shuffle, self.seed = shuffle, seed
        self.epoch, self.start = 0, 0

    def _end(self) -> int:
        steps = steps_per_epoch(self.samples, self.batch_size, self.shuffle)
        return min(steps * self.batch_size, self.samples)

    def __len__(self) -> int:
        return max(self._end() - self.start * self.batch_size, 0)

    def __iter__(self) -> Iterator[int]:
        order = epoch_order(self.samples, self.seed, self.epoch, self.shuffle)
        return iter(order[self.start * self.batch_size:self._end()].tolist())


@dataclass(frozen=True)
class _Failure:
    """A data error met in a loader worker, carried to the training process as a batch."""

    message: str


class _GuardedDataset(Dataset[Any]):
    """A dataset whose :class:`DataError` comes back as a :class:`_Failure` item, so that
    the message reaches the training process as it was (a worker's exception would be
    re-raised there wrapped in the worker's whole traceback)."""

    def __init__(self, dataset: FittedDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: int) -> Any:
        try:
            return self.dataset[item]
        except DataError as error:
            return _Failure(str(error))


def _collate(items: list[Any]) -> Any:
    """A batch of ``items``, or the first :class:`_Failure` among them."""
    failure = next((item for item in items if isinstance(item, _Failure)), None)
    return failure if failure is not None else default_collate(items)


class LoaderBatches:
    """A split too big for memory, read by a ``DataLoader`` (workers, pinned memory).

    A data error in a worker (an image that cannot be read) is raised in the training
    process as the same one-line :class:`DataError`.
    """

    def __init__(self, dataset: FittedDataset, batch_size: int, *, shuffle: bool, seed: int,
                 workers: int, pin_memory: bool) -> None:
        """Batch ``dataset``."""
        self.dataset = dataset
        self.batch_size = batch_size
        self.num_samples = len(dataset)
        self.sampler = EpochSampler(len(dataset), batch_size, shuffle=shuffle, seed=seed)
        self.loader = DataLoader(_GuardedDataset(dataset), batch_size=batch_size,
                                 sampler=self.sampler, num_workers=workers,
                                 pin_memory=pin_memory, persistent_workers=workers > 0,
                                 collate_fn=_collate)

    def __len__(self) -> int:
        return steps_per_epoch(self.num_samples, self.batch_size, self.sampler.shuffle)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches of ``epoch``, beginning at step ``start``.

        Raises:
            DataError: when an image cannot be read.
        """
        self.sampler.epoch, self.sampler.start = epoch, start
        for batch in self.loader:
            if isinstance(batch, _Failure):
                raise DataError(batch.message)
            yield batch


# -- the prepared data set -------------------------------------------------------------------
@dataclass
class PreparedData:
    """A data set fitted to a model, split and batched.

    Attributes:
        name: The data set's name.
        classes: Class names, in label order.
        input_shape: The model input shape the images were fitted to.
        fitter: How raw images become inputs (channel count, size, mean, std).
        train: Training batches.
        val: Validation batches (``None`` without validation data).
        eigval: Variances along the principal colour components (for lighting).
        eigvec: The principal colour components, as columns.
        in_memory: Whether the splits are held as tensors (else read by a loader).
    """

    name: str
    classes: tuple[str, ...]
    input_shape: Shape
    fitter: Fitter
    train: TensorBatches | LoaderBatches
    val: TensorBatches | LoaderBatches | None
    eigval: Tensor
    eigvec: Tensor
    in_memory: bool

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def augmenter(self, config: AugmentConfig, *, seed: int = 0,
                  device: torch.device | str = "cpu") -> Augmenter:
        """An :class:`Augmenter` for batches of this data set."""
        return Augmenter(config, self.fitter.mean, self.fitter.std, self.eigval, self.eigvec,
                         seed=seed, device=device)

    def samples(self, count: int, split: str = "val") -> tuple[Tensor, Tensor]:
        """The first ``count`` inputs (normalised, on the CPU) and labels of a split.

        ``split`` is ``"val"`` (falling back to ``"train"`` without validation data) or
        ``"train"``.
        """
        batches = self.val if split == "val" and self.val is not None else self.train
        if isinstance(batches, TensorBatches):
            return batches.x[:count].cpu(), batches.y[:count].cpu()
        items = [batches.dataset[k] for k in range(min(count, batches.num_samples))]
        return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])

    def denormalise(self, x: Tensor) -> Tensor:
        """Inputs back to pixel values 0..1 ``(N, C, H, W)``, for display."""
        channels, (height, width) = self.fitter.channels, self.fitter.size
        x = x.reshape(len(x), channels, height, width).float().cpu()
        mean, std = self.fitter.mean.view(1, -1, 1, 1), self.fitter.std.view(1, -1, 1, 1)
        return (x * std + mean).clamp(0, 1)


def prepare_data(config: TrainConfig, input_shape: Shape, *,
                 device: torch.device | str = "cpu") -> PreparedData:
    """Read the data set of ``config`` and fit it to ``input_shape``.

    Args:
        config: The run's settings (data set, split, batch size, seed, loader options).
        input_shape: The model's input shape without the batch (``(1, 28, 28)``).
        device: Where training runs: in-memory splits move there, loaders pin memory for it.

    Raises:
        DataError: when the data set cannot be read or fitted; nothing is trained.
    """
    device = torch.device(device)
    source = read_source(config, input_shape)
    if isinstance(source, FolderSet):
        return _prepare_folder(config, source, tuple(input_shape), device)
    return _prepare_arrays(config, source, tuple(input_shape), device)


def read_source(config: TrainConfig, input_shape: Shape) -> RawSet | FolderSet:
    """The raw data set ``config.dataset`` names.

    Raises:
        DataError: when it cannot be read.
    """
    name = config.dataset
    root = default_data_dir() if config.data_dir is None else _path(config.data_dir)
    if name.startswith(IMAGEFOLDER):
        return load_image_folder(name[len(IMAGEFOLDER):])
    if name == "digits":
        return load_digits_set()
    if name == "shapes":
        return _shapes(config, input_shape)
    if name in ("mnist", "fashion_mnist"):
        return load_mnist_set(name, root, config.download)
    if name in ("cifar10", "cifar100"):
        return load_cifar_set(name, root, config.download)
    raise DataError(f"unknown data set {name!r}")


def _path(text: str) -> Path:
    return Path(text).expanduser()


def _shapes(config: TrainConfig, input_shape: Shape) -> RawSet:
    _, size, _ = image_geometry(input_shape, (3, 32, 32))
    images, labels = make_shapes(config.shapes_samples, size, config.shapes_classes,
                                 seed=config.seed or 0)
    return RawSet(images, labels, SHAPE_NAMES[:config.shapes_classes])


def split_indices(samples: int, val_split: float, seed: int) -> tuple[Tensor, Tensor]:
    """Training and validation indices: a ``val_split`` fraction held out, per seed."""
    generator = torch.Generator().manual_seed(seed + 7919)
    order = torch.randperm(samples, generator=generator)
    held = min(round(samples * val_split), samples - 1)
    return order[held:].sort().values, order[:held].sort().values


def _prepare_arrays(config: TrainConfig, raw: RawSet, input_shape: Shape,
                    device: torch.device) -> PreparedData:
    channels, size, flat = image_geometry(input_shape, tuple(raw.images.shape[1:]))
    seed = config.seed or 0
    train_idx, val_idx = split_indices(len(raw.labels), config.val_split, seed)
    val_raw: tuple[Tensor, Tensor] | None = None
    if config.val_split > 0:
        val_raw = (raw.images[val_idx], raw.labels[val_idx])
    elif raw.test is not None:
        val_raw = (raw.test.images, raw.test.labels)
    train_x, train_y = raw.images[train_idx], raw.labels[train_idx]
    base = Fitter(channels, size)
    mean, std = channel_stats(base.pixels(c) for c in train_x.split(2048))
    fitter = Fitter(channels, size, mean, std, flat)
    eigval, eigvec = colour_pca(base.pixels(train_x[:4096]), seed=seed)
    count = len(train_x) + (len(val_raw[1]) if val_raw is not None else 0)
    in_memory = _in_memory(config, count * math.prod(input_shape) * 4)
    make = _tensor_batches if in_memory else _loader_batches
    train = make(config, fitter, train_x, train_y, True, device)
    val = make(config, fitter, *val_raw, False, device) if val_raw is not None else None
    return PreparedData(config.dataset, raw.classes, input_shape, fitter, train, val,
                        eigval, eigvec, in_memory)


def _in_memory(config: TrainConfig, size: int) -> bool:
    return config.in_memory == "always" or (config.in_memory == "auto"
                                            and size <= MEMORY_BUDGET)


def _tensor_batches(config: TrainConfig, fitter: Fitter, images: Tensor, labels: Tensor,
                    shuffle: bool, device: torch.device) -> TensorBatches:
    x = torch.cat([fitter(chunk) for chunk in images.split(2048)]) if len(images) else \
        torch.empty(0)
    batches = TensorBatches(x, labels.long(), config.batch_size, shuffle=shuffle,
                            seed=config.seed or 0)
    batches.to(device, channels_last=config.channels_last)
    return batches


def _loader_batches(config: TrainConfig, fitter: Fitter, images: Tensor, labels: Tensor,
                    shuffle: bool, device: torch.device) -> LoaderBatches:
    dataset = FittedDataset(_ArrayReader(images), labels.tolist(),
                            torch.arange(len(labels)), fitter)
    return _loader(config, dataset, shuffle, device)


def _loader(config: TrainConfig, dataset: FittedDataset, shuffle: bool,
            device: torch.device) -> LoaderBatches:
    workers = config.num_workers if config.num_workers is not None else \
        min(4, torch.multiprocessing.cpu_count())
    return LoaderBatches(dataset, config.batch_size, shuffle=shuffle, seed=config.seed or 0,
                         workers=workers, pin_memory=device.type == "cuda")


def _prepare_folder(config: TrainConfig, folder: FolderSet, input_shape: Shape,
                    device: torch.device) -> PreparedData:
    channels, size, flat = image_geometry(input_shape, (3, *input_shape[-2:]))
    seed = config.seed or 0
    labels = [label for _, label in folder.samples]
    train_idx, val_idx = split_indices(len(labels), config.val_split, seed)
    base = Fitter(channels, size)
    generator = torch.Generator().manual_seed(seed)
    sample = train_idx[torch.randperm(len(train_idx), generator=generator)[:STATS_SAMPLE]]
    pixels = torch.cat([base.pixels(folder.read(int(i)).unsqueeze(0)) for i in sample])
    mean, std = channel_stats([pixels])
    eigval, eigvec = colour_pca(pixels, seed=seed)
    fitter = Fitter(channels, size, mean, std, flat)
    in_memory = _in_memory(config, len(labels) * math.prod(input_shape) * 4)
    splits = [_folder_split(config, folder, labels, idx, fitter, shuffle, device, in_memory)
              for idx, shuffle in ((train_idx, True), (val_idx, False))]
    val = splits[1] if len(val_idx) else None
    return PreparedData(config.dataset, folder.classes, input_shape, fitter, splits[0], val,
                        eigval, eigvec, in_memory)


def _folder_split(config: TrainConfig, folder: FolderSet, labels: list[int], indices: Tensor,
                  fitter: Fitter, shuffle: bool, device: torch.device,
                  in_memory: bool) -> TensorBatches | LoaderBatches:
    dataset = FittedDataset(folder.read, labels, indices, fitter)
    loader = _loader(config, dataset, False, device)
    if not in_memory:
        loader.sampler.shuffle = shuffle
        return loader
    parts = list(loader.epoch(0))
    x = torch.cat([p[0] for p in parts]) if parts else torch.empty(0)
    y = torch.cat([p[1] for p in parts]) if parts else torch.empty(0, dtype=torch.long)
    batches = TensorBatches(x, y, config.batch_size, shuffle=shuffle, seed=config.seed or 0)
    batches.to(device, channels_last=config.channels_last)
    return batches


def preview_augmentations(data: PreparedData, count: int = 16,
                          augment: AugmentConfig | None = None, *, seed: int = 0,
                          columns: int | None = None) -> Tensor:
    """A grid of ``count`` augmented training images, for the user to judge the settings.

    Args:
        data: The prepared data set.
        count: Number of images.
        augment: The augmentation to show (default: none, the fitted images as they are).
        seed: Seed of the random augmentations.
        columns: Images per row (default: about a square grid).

    Returns:
        A ``(3, H', W')`` float image, values 0..1 (grey data sets are shown as grey RGB).
    """
    from torchvision.utils import make_grid

    x, _ = data.samples(count, split="train")
    if data.fitter.flatten:
        x = x.reshape(len(x), data.fitter.channels, *data.fitter.size)
    if augment is not None and augment.enabled:
        x = data.augmenter(augment, seed=seed)(x)
    pixels = data.denormalise(x)
    if pixels.shape[1] == 1:
        pixels = pixels.expand(-1, 3, -1, -1)
    columns = columns or max(1, math.ceil(math.sqrt(len(pixels))))
    return make_grid(pixels, nrow=columns, padding=2, pad_value=1.0)
