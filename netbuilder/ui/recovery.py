"""Crash recovery: autosave a modified document, offer to restore it after a crash.

Each window owns an :class:`Autosaver`. While its document has unsaved changes, the
autosaver writes a snapshot every minute to ``<app data>/recovery/<stem>.nbproj``, with a
small ``<stem>.json`` beside it saying which file the work belongs to. A lock file
(``QLockFile``) marks the snapshot as belonging to a running window; a clean save or a
clean close deletes all three files.

On launch, :func:`find_orphans` lists snapshots whose lock is not held by a live process —
work left behind by a crash — and :func:`offer_recovery` asks whether to restore them.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QStandardPaths, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from netbuilder.core import serialize
from netbuilder.core.document import Document
from netbuilder.core.errors import NetBuilderError

AUTOSAVE_INTERVAL_MS = 60_000


def default_recovery_dir() -> Path:
    """``<application data>/recovery``."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "recovery"


@dataclass(frozen=True)
class RecoveryFile:
    """A snapshot left by a session.

    Attributes:
        snapshot: The project file holding the unsaved work.
        origin: The file the work belongs to (None for a document never saved).
        saved: When the snapshot was written (seconds since the epoch).
        title: The document's title then.
    """

    snapshot: Path
    origin: Path | None
    saved: float
    title: str

    @property
    def stem(self) -> Path:
        """The snapshot path without its suffix (shared by its three files)."""
        return self.snapshot.with_suffix("")

    def remove(self) -> None:
        """Delete the snapshot, its description and its lock file."""
        for suffix in (".nbproj", ".json", ".lock"):
            self.stem.with_suffix(suffix).unlink(missing_ok=True)


class Autosaver(QObject):
    """Autosaves one window's document to its own recovery file while it is modified."""

    def __init__(self, document: Document, directory: Path | None = None,
                 interval_ms: int = AUTOSAVE_INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("autosaver")
        self.document = document
        self.directory = directory if directory is not None else default_recovery_dir()
        self.stem = self.directory / f"recovery-{uuid.uuid4().hex[:12]}"
        self._lock: QLockFile | None = None
        self._saved_at: tuple[int, int] | None = None
        self.timer = QTimer(self)
        self.timer.setObjectName("autosaveTimer")
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    @property
    def snapshot(self) -> Path:
        """Where this window's snapshot goes."""
        return self.stem.with_suffix(".nbproj")

    def set_document(self, document: Document) -> None:
        """Follow another document (the old snapshot is dropped)."""
        self.discard()
        self.document = document

    def save_now(self) -> Path | None:
        """Write a snapshot if the document changed since the last one; return its path."""
        document = self.document
        if not document.modified:
            return None
        state = (id(document.history), document.history.index, len(document.history))
        if state == self._saved_at and self.snapshot.exists():
            return None
        self._hold_lock()
        project = serialize.Project(document.graph, document.training, document.meta)
        serialize.save(project, self.snapshot)
        about = {"origin": str(document.path) if document.path else None,
                 "saved": time.time(), "title": document.title}
        self.stem.with_suffix(".json").write_text(json.dumps(about), encoding="utf-8")
        self._saved_at = state
        return self.snapshot

    def _hold_lock(self) -> None:
        if self._lock is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = QLockFile(str(self.stem.with_suffix(".lock")))
        lock.setStaleLockTime(0)
        if lock.tryLock(0):
            self._lock = lock

    def discard(self) -> None:
        """Delete the snapshot (after a clean save or close) and release the lock."""
        self._saved_at = None
        for suffix in (".nbproj", ".json"):
            self.stem.with_suffix(suffix).unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def stop(self) -> None:
        """Stop autosaving and drop the snapshot (the window closes cleanly)."""
        self.timer.stop()
        self.discard()


def find_orphans(directory: Path | None = None) -> list[RecoveryFile]:
    """Snapshots no running window holds (left by a crash), newest first."""
    directory = directory if directory is not None else default_recovery_dir()
    found = []
    for about in directory.glob("recovery-*.json"):
        info = _read(about)
        if info is not None and info.snapshot.exists() and not _held(info):
            found.append(info)
    return sorted(found, key=lambda i: i.saved, reverse=True)


def _read(about: Path) -> RecoveryFile | None:
    try:
        data = json.loads(about.read_text(encoding="utf-8"))
        origin = data.get("origin")
        return RecoveryFile(about.with_suffix(".nbproj"), Path(origin) if origin else None,
                            float(data.get("saved", 0.0)), str(data.get("title", "untitled")))
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def _held(info: RecoveryFile) -> bool:
    """Whether a live process holds the snapshot's lock."""
    lock = QLockFile(str(info.stem.with_suffix(".lock")))
    lock.setStaleLockTime(0)
    if lock.tryLock(0):
        lock.unlock()
        return False
    return lock.error() == QLockFile.LockError.LockFailedError


def restore(info: RecoveryFile) -> Document:
    """The document saved in a snapshot, belonging to its original file, marked modified.

    Raises:
        ProjectFileError: when the snapshot cannot be read.
    """
    project = serialize.load(info.snapshot)
    document = Document(project.graph, path=info.origin, training=project.training,
                         meta=project.meta)
    mark_modified(document)
    return document


def mark_modified(document: Document) -> None:
    """Make ``document`` count as unsaved although its history is empty."""
    document.history.mark_modified()


Ask = Callable[[RecoveryFile], bool]


def ask_user(parent: QWidget | None) -> Ask:
    """A question box asking whether to restore one snapshot."""
    def ask(info: RecoveryFile) -> bool:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.saved))
        box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved work?",
                          f"NetBuilder did not close properly. Unsaved changes to "
                          f"“{info.title}” were recovered from {when}.", parent=parent)
        box.setObjectName("recoveryQuestion")
        box.setInformativeText("Restore them? Discarding deletes the recovered copy.")
        restore_button = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(restore_button)
        box.exec()
        return box.clickedButton() is restore_button
    return ask


def offer_recovery(directory: Path | None = None, ask: Ask | None = None,
                   parent: QWidget | None = None) -> list[Document]:
    """Offer every orphaned snapshot; return the documents the user chose to restore.

    Args:
        directory: Where snapshots live (default: the application's recovery folder).
        ask: Decides for one snapshot (default: a question box); tests pass a function.
        parent: Parent of the question box.
    """
    ask = ask or ask_user(parent)
    restored = []
    for info in find_orphans(directory):
        if ask(info):
            with contextlib.suppress(NetBuilderError, OSError):
                restored.append(restore(info))
        info.remove()
    return restored
