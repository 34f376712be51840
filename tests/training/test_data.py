"""Data sets: every one read and fitted to any input shape, split per seed, batched.

The torchvision data sets are written to a temporary folder in the formats torchvision
downloads (IDX files, CIFAR's pickled batches), so these tests need no network.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

from netbuilder.training.config import AugmentConfig, TrainConfig
from netbuilder.training.data import (
    LoaderBatches,
    TensorBatches,
    prepare_data,
    preview_augmentations,
    split_indices,
)
from netbuilder.training.errors import DataError
from netbuilder.training.shapes import make_shapes

from .fakedata import (
    write_cifar10,
    write_cifar100,
    write_image_folder,
    write_mnist,
)

INPUT_SHAPES = [(1, 28, 28), (3, 32, 32), (3, 8, 8)]
FAKE_SETS = ("mnist", "fashion_mnist", "cifar10", "cifar100", "imagefolder")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("datasets")
    write_mnist(root)
    write_mnist(root, "FashionMNIST", gz=True)
    write_cifar10(root)
    write_cifar100(root)
    write_image_folder(root / "pets")
    return root


def dataset_config(name: str, root: Path, **changes: Any) -> TrainConfig:
    dataset = f"imagefolder:{root / 'pets'}" if name == "imagefolder" else name
    return TrainConfig(dataset=dataset, data_dir=str(root), batch_size=8, **changes)


EXPECTED = {  # data set → (classes, training images, validation images) at val_split 0.2
    "digits": (10, 1438, 359), "shapes": (4, 1600, 400), "mnist": (10, 48, 12),
    "fashion_mnist": (10, 48, 12), "cifar10": (10, 48, 12), "cifar100": (100, 40, 10),
    "imagefolder": (3, 14, 4),
}


@pytest.mark.parametrize("shape", INPUT_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", ["digits", "shapes", *FAKE_SETS])
def test_every_data_set_is_fitted_to_the_input_shape(name: str, shape: tuple[int, ...],
                                                     data_root: Path) -> None:
    data = prepare_data(dataset_config(name, data_root), shape)
    classes, train, val = EXPECTED[name]
    assert data.num_classes == classes
    assert (data.train.num_samples, data.val.num_samples if data.val else 0) == (train, val)
    x, y = next(iter(data.train.epoch(0)))
    assert tuple(x.shape) == (8, *shape) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and int(y.min()) >= 0 and int(y.max()) < classes
    if isinstance(data.train, TensorBatches):
        every = data.train.x
        assert abs(float(every.mean())) < 0.1 and abs(float(every.std()) - 1) < 0.1


def test_flat_inputs_take_the_data_sets_own_size_or_a_square() -> None:
    assert next(iter(prepare_data(TrainConfig(), (64,)).train.epoch(0)))[0].shape == (64, 64)
    data = prepare_data(TrainConfig(dataset="shapes", shapes_samples=40), (3 * 12 * 12,))
    assert data.fitter.channels == 3 and data.fitter.size == (12, 12)


def test_val_split_zero_validates_on_the_official_test_split(data_root: Path) -> None:
    data = prepare_data(dataset_config("mnist", data_root, val_split=0.0), (1, 28, 28))
    assert data.train.num_samples == 60 and data.val is not None
    assert data.val.num_samples == 20
    assert prepare_data(TrainConfig(val_split=0.0), (1, 8, 8)).val is None


def test_large_data_sets_go_through_a_data_loader(data_root: Path) -> None:
    config = dataset_config("cifar10", data_root, in_memory="never", num_workers=0)
    data = prepare_data(config, (3, 16, 16))
    assert isinstance(data.train, LoaderBatches) and not data.in_memory
    batches = list(data.train.epoch(1))
    assert [len(b[1]) for b in batches] == [8] * 6
    memory = prepare_data(dataset_config("cifar10", data_root), (3, 16, 16))
    reference = list(memory.train.epoch(1))
    for (x, y), (xm, ym) in zip(batches, reference):
        assert torch.equal(y, ym) and torch.allclose(x, xm, atol=1e-5)
    resumed = list(data.train.epoch(1, start=4))
    assert len(resumed) == 2 and torch.equal(resumed[0][1], batches[4][1])


def test_split_and_order_depend_on_the_seed_alone() -> None:
    first, second = split_indices(100, 0.2, seed=3), split_indices(100, 0.2, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert not torch.equal(split_indices(100, 0.2, seed=4)[1], first[1])
    assert sorted(torch.cat(first).tolist()) == list(range(100))
    batches = prepare_data(TrainConfig(batch_size=50), (1, 8, 8)).train
    epoch0 = [y for _, y in batches.epoch(0)]
    assert all(torch.equal(a, b) for a, b in zip(epoch0, [y for _, y in batches.epoch(0)]))
    assert not torch.equal(epoch0[0], next(iter(batches.epoch(1)))[1])


def test_a_lone_last_image_is_not_a_training_batch_but_is_validated() -> None:
    x, y = torch.zeros(9, 2), torch.zeros(9, dtype=torch.long)
    training = TensorBatches(x, y, 4, shuffle=True, seed=0)
    assert [len(b) for _, b in training.epoch(0)] == [4, 4] and len(training) == 2
    validation = TensorBatches(x, y, 4, shuffle=False, seed=0)
    assert [len(b) for _, b in validation.epoch(0)] == [4, 4, 1] and len(validation) == 3


def test_shapes_are_deterministic_per_seed_and_balanced() -> None:
    images, labels = make_shapes(64, (16, 16), classes=8, seed=5)
    again, labels_again = make_shapes(64, (16, 16), classes=8, seed=5)
    assert torch.equal(images, again) and torch.equal(labels, labels_again)
    assert not torch.equal(images, make_shapes(64, (16, 16), classes=8, seed=6)[0])
    assert images.shape == (64, 3, 16, 16) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [8] * 8


# -- data that cannot be read -------------------------------------------------------------
@pytest.mark.parametrize(("name", "where"), [
    ("mnist", "MNIST/raw"), ("fashion_mnist", "FashionMNIST/raw"),
    ("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python")])
def test_a_missing_data_set_says_where_to_put_the_files(name: str, where: str,
                                                        tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not in") as caught:
        prepare_data(TrainConfig(dataset=name, data_dir=str(tmp_path)), (1, 28, 28))
    assert str(tmp_path / where) in str(caught.value)
    assert "--download" in str(caught.value)


def test_a_missing_image_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        prepare_data(TrainConfig(dataset=f"imagefolder:{tmp_path / 'none'}"), (3, 8, 8))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="cannot be used"):
        prepare_data(TrainConfig(dataset=f"imagefolder:{tmp_path / 'empty'}"), (3, 8, 8))


def test_a_truncated_idx_file_is_refused(tmp_path: Path) -> None:
    raw = write_mnist(tmp_path)
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated"):
        prepare_data(TrainConfig(dataset="mnist", data_dir=str(tmp_path)), (1, 28, 28))


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_a_cifar_batch_that_would_run_code_is_refused(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    with open(folder / "data_batch_3", "wb") as stream:
        pickle.dump({"data": _Exploit(), "labels": [0]}, stream)
    with pytest.raises(DataError, match="no reason to contain"):
        prepare_data(TrainConfig(dataset="cifar10", data_dir=str(tmp_path)), (3, 32, 32))


def test_channel_counts_other_than_grey_and_rgb_are_refused() -> None:
    with pytest.raises(DataError, match="2 channels"):
        prepare_data(TrainConfig(dataset="shapes", shapes_samples=20), (2, 8, 8))


# -- augmentation ----------------------------------------------------------------------------
ALL_AUGMENTATIONS = AugmentConfig(random_crop=True, random_resized_crop=True,
                                  horizontal_flip=True, color_jitter=0.4, lighting=0.1)


def test_preview_is_a_grid_of_augmented_images() -> None:
    data = prepare_data(TrainConfig(dataset="shapes", shapes_samples=40), (3, 16, 16))
    grid = preview_augmentations(data, 12, ALL_AUGMENTATIONS, columns=4)
    assert grid.shape == (3, 3 * 18 + 2, 4 * 18 + 2)
    assert float(grid.min()) >= 0 and float(grid.max()) <= 1
    plain = preview_augmentations(data, 12, None, columns=4)
    assert not torch.equal(grid, plain)
    grey = preview_augmentations(prepare_data(TrainConfig(), (1, 8, 8)), 9)
    assert grey.shape == (3, 32, 32)


def test_augmentations_keep_the_shape_and_follow_the_seed() -> None:
    data = prepare_data(TrainConfig(dataset="shapes", shapes_samples=40), (3, 16, 16))
    x, _ = data.samples(16, split="train")
    first = data.augmenter(ALL_AUGMENTATIONS, seed=1)(x)
    again = data.augmenter(ALL_AUGMENTATIONS, seed=1)(x)
    assert first.shape == x.shape and torch.equal(first, again)
    assert not torch.equal(first, data.augmenter(ALL_AUGMENTATIONS, seed=2)(x))


def test_flip_mirrors_and_padded_crop_shifts_with_black_borders() -> None:
    data = prepare_data(TrainConfig(dataset="shapes", shapes_samples=40), (3, 16, 16))
    x, _ = data.samples(32, split="train")
    flipped = data.augmenter(AugmentConfig(horizontal_flip=True))(x)
    same = [torch.equal(a, b) for a, b in zip(flipped, x)]
    mirrored = [torch.equal(a, b.flip(2)) for a, b in zip(flipped, x)]
    assert all(s or m for s, m in zip(same, mirrored)) and any(same) and any(mirrored)
    cropped = data.augmenter(AugmentConfig(random_crop=True, crop_padding=4))(x)
    pixels = data.denormalise(cropped)
    assert pixels.shape == x.shape
    assert float(pixels.min()) == pytest.approx(0.0, abs=1e-5)
