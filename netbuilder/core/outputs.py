"""One writer for every file the application writes on a person's request.

:func:`write_output` checks the target before anything is computed or written — its
folder exists and can be written, the target is not a folder or a pipe — then lets a
writer function write the file under its own name in a hidden folder beside the target,
and renames it over the target in one step. A target that cannot be written (a missing
folder, ``/proc``, a full disk, a folder in the way) raises :class:`OutputError` with a
one-line message naming it, and leaves any old file as it was. The command line reports
it in one line (exit status 2); the editor shows the same message.

:func:`prepare_output_folder` does the same for a folder a run writes into (checkpoints).
Nothing here imports torch or Qt.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from netbuilder.core.errors import NetBuilderError
from netbuilder.core.fileio import atomic_write_with, make_staging_folder

#: Phrases of torch's errors for a file it could not write (``torch.save``).
_TORCH_WRITE_ERRORS = ("inline_container", "PytorchStreamWriter", "enforce fail")


class OutputError(NetBuilderError):
    """A file or folder that cannot be written; the message is one line naming it."""


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`~pathlib.Path` once it is known to be a writable file name.

    Besides looking at the folder, an entry is created in it and removed again, which
    catches folders that only look writable (``/proc``, a read-only mount).

    Raises:
        OutputError: when its folder is missing or not writable, or the target is a
            folder or something other than a regular file.
    """
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise OutputError(f"cannot write {target}: give a file name")
    folder = target.parent
    if not folder.is_dir():
        why = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"cannot write {target}: the folder {folder} {why}")
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a folder")
    if target.exists() and not target.is_file():
        raise OutputError(f"cannot write {target}: it is not a regular file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {target}: the folder {folder} is not writable")
    _staging_folder(target).rmdir()  # the folder accepts new entries (``/proc`` does not)
    return target


def write_output(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Write a file through ``write`` and put it in place atomically; return its path.

    ``write`` receives a path with the target's file name in a hidden folder beside the
    target (:func:`netbuilder.core.fileio.atomic_write_with`); the file is then renamed
    over the target. An empty result counts as a failure.

    Raises:
        OutputError: when the target cannot be written (checked before ``write`` runs),
            or ``write`` fails with an ``OSError`` or a torch write error.
    """
    target = check_output_path(path)
    try:
        return atomic_write_with(target, write)
    except Exception as error:
        if isinstance(error, OSError) or is_torch_write_error(error):
            raise OutputError(f"cannot write {target}: {reason(error)}") from None
        raise


def prepare_output_folder(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` if needed and make sure files can be written in it.

    Raises:
        OutputError: when it is a file, cannot be created, or cannot be written into.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write into {folder}: it is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the folder {folder}: {reason(error)}") from None
    probe = folder / f".netbuilder-probe-{secrets.token_hex(4)}.tmp"
    try:
        probe.touch(exist_ok=False)
    except OSError as error:
        raise OutputError(f"cannot write into {folder}: {reason(error)}") from None
    with contextlib.suppress(OSError):
        probe.unlink()
    return folder


def is_torch_write_error(error: BaseException) -> bool:
    """Whether ``error`` is torch's way of saying a file could not be written."""
    return isinstance(error, RuntimeError) and any(p in str(error) for p in _TORCH_WRITE_ERRORS)


def reason(error: BaseException) -> str:
    """Why a write failed, in a few words (an ``OSError``'s text without the path)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[0].lower() + error.strerror[1:]
    if is_torch_write_error(error):
        text = str(error)
        return text[text.index("strerror:") + 9:].strip() if "strerror:" in text else \
            "the file could not be written"
    return str(error)


def _staging_folder(target: Path) -> Path:
    """A new hidden folder beside ``target`` (:func:`~netbuilder.core.fileio.make_staging_folder`).

    Raises:
        OutputError: when nothing can be created in the target's folder.
    """
    try:
        return make_staging_folder(target)
    except OSError as error:
        raise OutputError(f"cannot write {target}: {reason(error)}") from None
