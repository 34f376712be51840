"""Readers of the data sets' own files, as raw image tensors at their native size.

Each reader returns a :class:`RawSet` (or, for a folder of image files, a
:class:`FolderSet` read lazily). Fitting to a model's input happens in
:mod:`netbuilder.training.data`.

The torchvision data sets are read from the files torchvision downloads, in their official
formats: MNIST and Fashion-MNIST as IDX files (``train-images-idx3-ubyte`` ..., plain or
``.gz``), CIFAR-10/100 as the "python version" pickled batches. The pickles are read with
an unpickler that accepts only the NumPy array constructors those files use, so a file
dropped into the data folder cannot run code. Files are looked for in the folder layout
torchvision uses (``ROOT/MNIST/raw``, ``ROOT/cifar-10-batches-py``) and directly in the
folder; they are downloaded with torchvision only when the user allows it.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from netbuilder.core.messages import one_line
from netbuilder.training.errors import DataError


@dataclass
class RawSet:
    """Images and labels held in memory at their native size.

    Attributes:
        images: ``(N, C, H, W)``, ``uint8`` (0..255) or ``float32`` (0..1).
        labels: ``(N,)`` class indices, ``int64``.
        classes: Class names, in label order.
        test: The data set's own test split, when it has one.
    """

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...]
    test: RawSet | None = None


@dataclass
class FolderSet:
    """A folder of images, one sub-folder per class, read image by image.

    Attributes:
        root: The folder.
        samples: ``(path, label)`` of every image.
        classes: Class names (the sub-folder names), in label order.
    """

    root: Path
    samples: list[tuple[str, int]]
    classes: tuple[str, ...]

    def read(self, index: int) -> Tensor:
        """Image ``index`` as ``uint8`` ``(3, H, W)``.

        Raises:
            DataError: when the file cannot be decoded (damaged, not an image, or so
                large that PIL takes it for a decompression bomb).
        """
        from PIL import Image

        path = self.samples[index][0]
        try:
            with Image.open(path) as image:
                array = np.asarray(image.convert("RGB"), dtype=np.uint8)
        except Exception as exc:  # decoders raise many types (SyntaxError, zlib.error...)
            raise DataError(f"cannot read the image {path}: {one_line(str(exc))}") from None
        return torch.from_numpy(array.copy()).permute(2, 0, 1)


def default_data_dir() -> Path:
    """Where torchvision data sets live when no folder is given.

    ``$NETBUILDER_DATA`` if set, else ``~/.cache/netbuilder/datasets``.
    """
    env = os.environ.get("NETBUILDER_DATA")
    return Path(env) if env else Path.home() / ".cache" / "netbuilder" / "datasets"


# -- scikit-learn digits -------------------------------------------------------------
def load_digits_set() -> RawSet:
    """scikit-learn's 1,797 handwritten digits, 8×8 grey, values 0..1."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.as_tensor(digits.target, dtype=torch.int64)
    return RawSet(images, labels, tuple(str(d) for d in range(10)))


# -- MNIST and Fashion-MNIST ---------------------------------------------------------------
_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_MNIST = {
    "mnist": ("MNIST", tuple(str(d) for d in range(10))),
    "fashion_mnist": ("FashionMNIST", ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")),
}


def load_mnist_set(name: str, root: Path, download: bool) -> RawSet:
    """MNIST or Fashion-MNIST (``name``) from ``root``, downloading only if allowed.

    Raises:
        DataError: when the files are missing (saying where to put them) or damaged.
    """
    folder_name, classes = _MNIST[name]
    candidates = [root / folder_name / "raw", root / folder_name, root]
    folder = _folder_with(candidates, _MNIST_FILES, (".gz",))
    if folder is None and download:
        _download(name, root)
        folder = _folder_with(candidates, _MNIST_FILES, (".gz",))
    if folder is None:
        files = ", ".join(_MNIST_FILES)
        raise DataError(
            f"{name} is not in {root}: put {files} (or the same names with .gz) in "
            f"{root / folder_name / 'raw'}, or allow downloading (--download)")
    paths = [_existing(folder / stem, (".gz",)) for stem in _MNIST_FILES]
    train_x, train_y, test_x, test_y = (read_idx(p) for p in paths)
    test = RawSet(test_x.unsqueeze(1), test_y.long(), classes)
    return RawSet(train_x.unsqueeze(1), train_y.long(), classes, test)


def read_idx(path: Path) -> Tensor:
    """An IDX file (the MNIST format) as a tensor; ``.gz`` files are decompressed.

    Raises:
        DataError: when the file is not a valid unsigned-byte IDX file.
    """
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim)]
    if len(raw) != header + int(np.prod(dims)):
        raise DataError(f"{path} is truncated or damaged (expected shape {dims})")
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    return torch.from_numpy(array.copy())


# -- CIFAR ----------------------------------------------------------------------------------
_CIFAR = {
    "cifar10": ("cifar-10-batches-py", tuple(f"data_batch_{k}" for k in range(1, 6)),
                "test_batch", "batches.meta", "labels", "label_names"),
    "cifar100": ("cifar-100-python", ("train",), "test", "meta", "fine_labels",
                 "fine_label_names"),
}


def load_cifar_set(name: str, root: Path, download: bool) -> RawSet:
    """CIFAR-10 or CIFAR-100 (``name``) from ``root``, downloading only if allowed.

    Raises:
        DataError: when the files are missing (saying where to put them) or damaged.
    """
    folder_name, train_files, test_file, meta_file, label_key, names_key = _CIFAR[name]
    needed = (*train_files, test_file)
    candidates = [root / folder_name, root]
    folder = _folder_with(candidates, needed, ())
    if folder is None and download:
        _download(name, root)
        folder = _folder_with(candidates, needed, ())
    if folder is None:
        raise DataError(
            f"{name} is not in {root}: put the python version's files ({', '.join(needed)}, "
            f"{meta_file}) in {root / folder_name}, or allow downloading (--download)")
    batches = [_cifar_batch(folder / f, label_key) for f in train_files]
    train_x = torch.cat([b[0] for b in batches])
    train_y = torch.cat([b[1] for b in batches])
    classes = _cifar_classes(folder / meta_file, names_key, int(train_y.max()) + 1)
    test_x, test_y = _cifar_batch(folder / test_file, label_key)
    return RawSet(train_x, train_y, classes, RawSet(test_x, test_y, classes))


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only; refuses every other global."""

    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    })

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the file refers to {module}.{name}, which a data "
                                     f"file has no reason to contain")


def _unpickle(path: Path) -> dict[str, Any]:
    try:
        data = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} is not a CIFAR batch (it holds no dictionary)")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in data.items()}


def _cifar_batch(path: Path, label_key: str) -> tuple[Tensor, Tensor]:
    data = _unpickle(path)
    try:
        pixels = np.asarray(data["data"], dtype=np.uint8)
        labels = np.asarray(data[label_key], dtype=np.int64)
        images = pixels.reshape(len(labels), 3, 32, 32)
    except (KeyError, ValueError) as exc:
        raise DataError(f"{path} is not a CIFAR batch: {exc}") from None
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.copy())


def _cifar_classes(path: Path, key: str, count: int) -> tuple[str, ...]:
    names: Sequence[Any] = ()
    if path.is_file():
        names = _unpickle(path).get(key, ())
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return tuple(names) if len(names) >= count else tuple(str(k) for k in range(count))


# -- image folders ------------------------------------------------------------------------
#: Image file suffixes of an image folder (torchvision's ImageFolder's).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def load_image_folder(path: str) -> FolderSet:
    """A folder of images sorted into one sub-folder per class (torchvision's layout).

    Class folders are the sub-folders, sorted by name; each class holds the image files
    below its folder, symbolic links followed. Every real file counts once (the first
    class to reach it keeps it), and a link back to a folder already walked — a loop, the
    data set's own folder, another class's folder — is not followed. Only regular files
    are read (a pipe named ``x.png`` would block the reader).

    Raises:
        DataError: when the folder is missing, has fewer than two class folders (a
            classifier needs two), or a class folder holds no images.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist: make a folder with one "
                        f"sub-folder of images per class (e.g. {root}/cat/001.jpg)")
    try:
        classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    except OSError as exc:
        raise DataError(f"image folder {root} cannot be read: {exc.strerror}") from None
    if len(classes) < 2:
        found = f"one ({classes[0]})" if classes else "none"
        raise DataError(f"image folder {root} cannot be used: a classifier needs at least 2 "
                        f"classes, one sub-folder of images each; it has {found}")
    return FolderSet(root, _scan_classes(root, classes), tuple(classes))


def _scan_classes(root: Path, classes: Sequence[str]) -> list[tuple[str, int]]:
    """``(path, label)`` of every image, each real file once, loops not followed."""
    homes = {os.path.realpath(root), *(os.path.realpath(root / c) for c in classes)}
    seen: set[str] = set()
    samples: list[tuple[str, int]] = []
    for label, name in enumerate(classes):
        own = os.path.realpath(root / name)
        walked = homes - {own}
        count = len(samples)
        for file in _walk_images(root / name, walked):
            real = os.path.realpath(file)
            if real not in seen:
                seen.add(real)
                samples.append((file, label))
        if len(samples) == count:
            raise DataError(f"the class folder {root / name} holds no images "
                            f"({', '.join(IMAGE_SUFFIXES)}) not already counted")
    return samples


def _walk_images(folder: Path, walked: set[str]) -> list[str]:
    """Image files below ``folder`` in sorted order, skipping folders in ``walked`` (which
    gains every folder visited)."""
    files: list[str] = []
    for current, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(current)
        if real in walked:
            dirs[:] = []
            continue
        walked.add(real)
        dirs.sort()
        files += [path for path in (os.path.join(current, n) for n in sorted(names)
                                    if n.lower().endswith(IMAGE_SUFFIXES))
                  if os.path.isfile(path)]  # not a pipe, which would block the reader
    return files


# -- helpers -------------------------------------------------------------------------------
def _existing(stem: Path, suffixes: Sequence[str]) -> Path:
    for candidate in (stem, *(stem.with_name(stem.name + s) for s in suffixes)):
        if candidate.is_file():
            return candidate
    return stem


def _folder_with(candidates: Sequence[Path], names: Sequence[str],
                 suffixes: Sequence[str]) -> Path | None:
    for folder in candidates:
        if all(_existing(folder / n, suffixes).is_file() for n in names):
            return folder
    return None


def _download(name: str, root: Path) -> None:
    """Fetch a data set with torchvision into ``root``.

    Raises:
        DataError: when the download fails (e.g. offline).
    """
    from torchvision import datasets

    cls = {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST,
           "cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as exc:  # network errors come in many types
        raise DataError(f"cannot download {name} into {root}: {exc}") from None
