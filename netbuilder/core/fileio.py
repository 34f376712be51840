"""Atomic file writes: a file is either its old self or its new self, never half written.

:func:`atomic_write` is the one way NetBuilder replaces a file it owns (project files,
training checkpoints). The new content goes to a temporary file in the target's folder
(named ``.NAME.XXXXXXXX.tmp``, see :func:`temp_name`), is flushed to disk, then replaces
the target in one ``os.replace``; on any failure the temporary file is removed and the old
file is left as it was. The temporary file takes the target's permissions when the target
exists. A save that was killed leaves its temporary file behind; the next save of the same
file removes it (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

#: Writes the new content to an open binary stream.
Writer = Callable[[BinaryIO], None]

TEMP_SUFFIX = ".tmp"
#: Seconds since its last write after which a temporary file is taken for a killed save's
#: (a save in progress writes it continuously, then renames it at once).
STALE_AFTER = 120.0
_HEX = frozenset("0123456789abcdef")


def temp_name(target: Path) -> Path:
    """A fresh temporary name beside ``target``: ``.NAME.<8 hex digits>.tmp``."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def atomic_write(path: str | os.PathLike[str], content: bytes | Writer) -> Path:
    """Replace the file at ``path`` with ``content`` in one step; return the path.

    Args:
        path: The file to write (its folder must exist).
        content: The bytes to write, or a function writing them to a binary stream.

    Raises:
        OSError: when the file cannot be written (the old file, if any, is intact).
        Exception: whatever ``content`` raises (nothing is replaced).
    """
    target = Path(path)
    handle, temp = _create_temp(target)
    try:
        with os.fdopen(handle, "wb") as stream:
            if isinstance(content, bytes):
                stream.write(content)
            else:
                content(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_folder(target.parent)
    remove_stale_temps(target)
    return target


def atomic_write_with(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Like :func:`atomic_write`, for a writer that needs a file name (``torch.save``, Qt).

    ``write`` receives a path with the target's own file name inside a new hidden folder
    beside the target (``.NAME.<8 hex digits>.tmp/NAME``), so writers that choose the
    format by the suffix see the real one; the file is then renamed over the target.

    Raises:
        OSError: when the file cannot be written or ``write`` wrote nothing (the old
            file, if any, is intact).
        Exception: whatever ``write`` raises (nothing is replaced).
    """
    target = Path(path)
    staging = make_staging_folder(target)
    written = staging / target.name
    try:
        write(written)
        if not written.is_file() or written.stat().st_size == 0:
            raise OSError("nothing was written")
        if target.is_file():  # keep the old file's permissions
            with contextlib.suppress(OSError):
                shutil.copymode(target, written)
        os.replace(written, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _sync_folder(target.parent)
    remove_stale_temps(target)
    return target


def make_staging_folder(target: Path) -> Path:
    """A new, empty hidden folder beside ``target`` named as :func:`temp_name` names.

    Raises:
        OSError: when nothing can be created in the target's folder.
    """
    while True:
        staging = temp_name(target)
        try:
            staging.mkdir()
        except FileExistsError:
            continue
        return staging


def remove_stale_temps(target: Path, older_than: float = STALE_AFTER) -> list[Path]:
    """Remove what killed saves of ``target`` left beside it; return what was removed.

    Only entries named as :func:`temp_name` names them (``.NAME.<8 hex digits>.tmp``,
    files or the staging folders of :mod:`netbuilder.core.outputs`) and untouched for
    ``older_than`` seconds are removed; failures are ignored.
    """
    prefix = f".{target.name}."
    cutoff = time.time() - older_than
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        digits = entry.name[len(prefix):-len(TEMP_SUFFIX)]
        if not (entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX)
                and len(digits) == 8 and set(digits) <= _HEX):
            continue
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def _create_temp(target: Path) -> tuple[int, Path]:
    """A new file beside ``target``, with ``target``'s permissions (else the umask's)."""
    try:
        mode: int | None = target.stat().st_mode & 0o7777
    except OSError:
        mode = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = temp_name(target)
        try:
            handle = os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
        if mode is not None:
            with contextlib.suppress(OSError):
                os.chmod(temp, mode)
        return handle, temp


def _sync_folder(folder: Path) -> None:
    """Flush the rename itself to disk where the platform allows it."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
