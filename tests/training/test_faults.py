"""``netbuilder train`` faults: each is one line on standard error, exit 1 or 2, no traceback.

Bad images (a decompression bomb, a corrupt file read in a loader worker), files that are
not checkpoints, checkpoint folders that cannot be written (refused before anything
trains), graphs without an output, a non-finite loss under ``--quiet``, symlink loops and
one-class image folders.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from netbuilder import cli
from netbuilder.core import serialize
from netbuilder.training.data import FittedDataset, Fitter, LoaderBatches, split_indices
from netbuilder.training.errors import DataError
from netbuilder.training.sources import load_image_folder

from .graphs import small_cnn


def train(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code: int, err: str, expected: int = 2) -> str:
    assert code == expected, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    return err


def project(tmp_path: Path, **training: object) -> str:
    path = tmp_path / "small.nbproj"
    serialize.save(serialize.Project(small_cnn(), {"epochs": 1, "batch_size": 8, **training}),
                   path)
    return str(path)


def image_folder(root: Path, classes: tuple[str, ...] = ("a", "b"), per_class: int = 6) -> Path:
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{k}.png")
    return root


def png_bomb(path: Path, side: int = 20_000) -> None:
    """A PNG whose header claims ``side``² pixels: PIL refuses it as a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


# -- images ------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_decompression_bomb_is_one_line_naming_the_file(
        tmp_path: Path, workers: str, capsys: pytest.CaptureFixture[str]) -> None:
    folder = image_folder(tmp_path / "images")
    png_bomb(folder / "a" / "bomb.png")
    code, _, err = train(capsys, project(tmp_path), "--dataset", f"imagefolder:{folder}",
                         "--workers", workers, "--no-checkpoint", "--quiet")
    assert "bomb.png" in assert_one_line(code, err)


def _failing_reader(index: int) -> torch.Tensor:
    if index == 5:
        raise DataError("cannot read the image /data/5.png: broken")
    return torch.zeros(3, 8, 8, dtype=torch.uint8)


def test_a_data_error_in_a_loader_worker_keeps_its_one_line_message() -> None:
    dataset = FittedDataset(_failing_reader, [0] * 10, torch.arange(10), Fitter(3, (8, 8)))
    batches = LoaderBatches(dataset, 4, shuffle=False, seed=0, workers=2, pin_memory=False)
    with pytest.raises(DataError) as caught:
        list(batches.epoch(0))
    assert str(caught.value) == "cannot read the image /data/5.png: broken"


def test_a_corrupt_image_read_by_a_worker_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = image_folder(tmp_path / "images")
    files = sorted(folder.glob("*/*.png"))
    _, val = split_indices(len(files), 0.2, 0)
    broken = files[int(val[0])]  # read by the validation loader, not by the statistics
    broken.write_bytes(b"not a png")
    code, _, err = train(capsys, project(tmp_path, in_memory="never"), "--dataset",
                         f"imagefolder:{folder}", "--workers", "2", "--no-checkpoint", "--quiet")
    assert broken.name in assert_one_line(code, err)
    assert "worker" not in err


def test_a_symlink_loop_is_followed_once(tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "images")
    (folder / "a" / "loop").symlink_to(folder / "a")
    (folder / "a" / "up").symlink_to(folder)
    (folder / "b" / "to_a").symlink_to(folder / "a")
    (folder / "b" / "same.png").symlink_to(folder / "b" / "0.png")
    os.mkfifo(folder / "b" / "pipe.png")
    (folder / "b" / "dangling.png").symlink_to(folder / "missing.png")
    found = load_image_folder(str(folder))
    assert found.classes == ("a", "b")
    assert len(found.samples) == 12
    assert [label for _, label in found.samples] == [0] * 6 + [1] * 6


def test_a_one_class_folder_is_refused(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder = image_folder(tmp_path / "images", classes=("only",))
    code, _, err = train(capsys, project(tmp_path), "--dataset", f"imagefolder:{folder}",
                         "--no-checkpoint", "--quiet")
    assert "2 classes" in assert_one_line(code, err) and "only" in err


def test_a_class_folder_without_images_is_refused(tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "images")
    (folder / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_image_folder(str(folder))


# -- checkpoints --------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"\x80\x02he.", b"{\"format\": \"netbuilder-project\"}",
                                     bytes(range(256)) * 4, b""])
def test_resume_of_a_file_that_is_not_a_checkpoint_is_one_line(
        tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "last.pt"
    path.write_bytes(content)
    code, _, err = train(capsys, "--resume", str(path), "--no-checkpoint")
    assert str(path) in assert_one_line(code, err)


@pytest.mark.parametrize("kind", ["file", "proc"])
def test_an_unwritable_checkpoint_dir_is_refused_before_training(
        tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file" if kind == "file" else Path("/proc/netbuilder-test/ck")
    if kind == "file":
        target.write_text("x")
    code, out, err = train(capsys, project(tmp_path), "--checkpoint-dir", str(target),
                           "--json-log", "--quiet")
    assert str(target) in assert_one_line(code, err)
    assert out == "", "no epoch may train"


def test_a_checkpoint_that_cannot_be_written_mid_run_is_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from netbuilder.training import checkpoint

    def full_disk(state: object, path: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_checkpoint", full_disk)
    code, _, err = train(capsys, project(tmp_path), "--checkpoint-dir", str(tmp_path / "ck"),
                         "--quiet")
    assert "no space left on device" in assert_one_line(code, err).lower()


# -- the run ------------------------------------------------------------------------------------
def test_a_graph_without_an_output_node_says_so(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "noout.nbproj"
    path.write_text(json.dumps({"format": "netbuilder-project", "format_version": 1, "graph": {
        "nodes": [{"id": "in", "type": "input", "name": "image", "params": {"shape": [1, 8, 8]}},
                  {"id": "f", "type": "flatten", "name": "flat"},
                  {"id": "l", "type": "linear", "name": "fc", "params": {"out_features": 10}}],
        "edges": [{"source": "in", "target": "f"}, {"source": "f", "target": "l"}]}}))
    code, _, err = train(capsys, str(path), "--no-checkpoint", "--quiet")
    assert "output node" in assert_one_line(code, err, expected=1)


def test_a_nan_loss_under_quiet_still_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from netbuilder.training import trainer

    real = trainer.build_loss

    def nan_loss(*args: object, **kwargs: object) -> object:
        loss = real(*args, **kwargs)  # type: ignore[arg-type]
        return lambda out, y: loss(out, y) * float("nan")

    monkeypatch.setattr(trainer, "build_loss", nan_loss)
    code, out, err = train(capsys, project(tmp_path), "--no-checkpoint", "--quiet")
    assert "loss became nan" in assert_one_line(code, err, expected=1) and out == ""


def test_the_json_log_is_unchanged_by_quiet_faults(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = train(capsys, project(tmp_path), "--no-checkpoint", "--quiet",
                           "--json-log")
    assert code == 0 and err == ""
    assert [json.loads(line)["epoch"] for line in out.splitlines()] == [1]
