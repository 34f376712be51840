"""Atomic writes: the file is the old one or the new one, and no temporary file stays."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

import pytest

from netbuilder.core.fileio import atomic_write


def test_bytes_and_a_writer_replace_the_file(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    assert atomic_write(target, b"first") == target
    assert target.read_bytes() == b"first"

    def write(stream: BinaryIO) -> None:
        stream.write(b"sec")
        stream.write(b"ond")

    atomic_write(target, write)
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def fail(stream: BinaryIO) -> None:
        stream.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


def test_a_failing_rename_leaves_the_old_file_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def refuse(*_args: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        atomic_write(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_the_new_file_keeps_the_old_files_permissions(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
