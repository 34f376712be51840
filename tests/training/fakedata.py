"""Tiny data sets written in the on-disk formats torchvision downloads.

MNIST and Fashion-MNIST as IDX files (``ROOT/MNIST/raw/train-images-idx3-ubyte``...),
CIFAR-10/100 as the "python version" pickled batches (``ROOT/cifar-10-batches-py/
data_batch_1``...), and an image folder of PNG files, one sub-folder per class.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file holding ``array``."""
    header = bytes((0, 0, 0x08, array.ndim))
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + array.astype(np.uint8).tobytes()


def write_mnist(root: Path, folder: str = "MNIST", train: int = 60, test: int = 20,
                gz: bool = False, seed: int = 0) -> Path:
    """Random 28×28 digits with labels 0..9 in ``root/folder/raw``; returns that folder."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = np.arange(count, dtype=np.uint8) % 10
        for kind, data in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte"
            payload = idx_bytes(data)
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(payload))
            else:
                (raw / name).write_bytes(payload)
    return raw


def _pickle(path: Path, data: dict[str, object]) -> None:
    with open(path, "wb") as stream:
        pickle.dump(data, stream, protocol=2)


def write_cifar10(root: Path, per_batch: int = 12, seed: int = 0) -> Path:
    """Five training batches, a test batch and the meta file, as CIFAR-10 ships them."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    for name in names:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in np.arange(per_batch) % 10]
        _pickle(folder / name, {"batch_label": name, "labels": labels, "data": data,
                                "filenames": [f"{k}.png" for k in range(per_batch)]})
    _pickle(folder / "batches.meta", {"label_names": [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
        "truck"], "num_cases_per_batch": per_batch, "num_vis": 3072})
    return folder


def write_cifar100(root: Path, train: int = 50, test: int = 20, seed: int = 0) -> Path:
    """The train and test files and the meta file, as CIFAR-100 ships them."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in (("train", train), ("test", test)):
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        fine = [int(v) for v in np.arange(count) % 100]
        _pickle(folder / name, {"filenames": [], "fine_labels": fine,
                                "coarse_labels": [f // 5 for f in fine], "data": data})
    _pickle(folder / "meta", {"fine_label_names": [f"class{k}" for k in range(100)],
                              "coarse_label_names": [f"super{k}" for k in range(20)]})
    return folder


def write_image_folder(root: Path, classes: tuple[str, ...] = ("cat", "dog", "fox"),
                       per_class: int = 6, size: tuple[int, int] = (20, 14),
                       seed: int = 0) -> Path:
    """PNG images of varied sizes and modes in one sub-folder per class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            height, width = size[0] + i, size[1] + 2 * i
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            image = Image.fromarray(pixels)
            if (i + k) % 3 == 0:
                image = image.convert("L")
            image.save(folder / f"{i:03d}.png")
    return root
