"""Ask before a project makes the editor read or write outside its folder, or download.

A project is a document, not a program: the files it names (weights read by a
``checkpoint`` init, a data folder) resolve against the project's folder
(:mod:`netbuilder.core.project_paths`). Anything outside that folder — and the folder of
weights the editor's own imports write — and any download is listed in one question
before Train or an export goes on. The command line asks for flags instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QMessageBox, QWidget

from netbuilder.core.document import Document
from netbuilder.core.project_paths import PathUse, external_paths

#: Most uses listed by name in the question (the rest are counted).
MAX_LISTED = 8


def default_imported_weights_dir() -> Path:
    """``<application data>/imported_weights``: where imported models' weights are kept."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "imported_weights"


def project_folder(document: Document) -> Path | None:
    """The folder paths in ``document`` resolve against (``None`` until it is saved)."""
    return document.path.parent if document.path is not None else None


def uses_to_confirm(document: Document, training: Mapping[str, Any] | None = None,
                    trusted: Iterable[Path] = ()) -> list[PathUse]:
    """What ``document`` asks for outside its folder, ``trusted`` and the imports' folder."""
    homes = [*trusted, default_imported_weights_dir()]
    return external_paths(document.graph, training or {}, project_folder(document), homes)


def confirm_paths(parent: QWidget, document: Document, what: str,
                  training: Mapping[str, Any] | None = None,
                  trusted: Iterable[Path] = ()) -> bool:
    """Ask whether ``what`` (``Train``, ``Export``) may use what the project names outside
    its folder, and download; return whether to go on (True when nothing needs asking)."""
    uses = uses_to_confirm(document, training, trusted)
    if not uses:
        return True
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(parent, f"{what}: files outside the project",
                                  confirmation_text(uses, document), buttons.Yes | buttons.Cancel,
                                  buttons.Cancel)
    return answer == buttons.Yes


def confirmation_text(uses: list[PathUse], document: Document) -> str:
    """The question's text: each use on a line, then what Yes does."""
    lines = [use.describe() for use in uses[:MAX_LISTED]]
    if len(uses) > MAX_LISTED:
        lines.append(f"… and {len(uses) - MAX_LISTED} more")
    folder = project_folder(document)
    where = f"outside its folder {folder}" if folder is not None else \
        "outside a project folder (it was never saved)"
    return (f"This project names files {where}, or asks for a download:\n\n"
            + "\n".join(lines) + "\n\nGo on and use them?")


__all__ = ["confirm_paths", "confirmation_text", "default_imported_weights_dir",
           "project_folder", "uses_to_confirm"]
