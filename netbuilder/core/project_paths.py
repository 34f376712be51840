"""Paths a project file names, and what the application may do with them.

A project is a document, not a program. The only places where a project names a file or
folder are:

* a node's ``init`` with ``{"scheme": "checkpoint", "file": …}`` (weights read with
  ``torch.load(weights_only=True)`` when the graph is compiled: Train, ``export``);
* ``training.init`` with the same scheme (the graph-wide initialisation);
* ``training.dataset`` of the form ``imagefolder:PATH`` (images read);
* ``training.data_dir`` (torchvision data sets read; written only when downloading);
* ``training.download`` (a data set downloaded into the data folder).

Relative paths resolve against the project's folder (:func:`anchor_project`). A path
outside that folder, and any download, needs the person's confirmation first
(:func:`external_paths` lists them; the command line asks for ``--allow-outside-paths``
and ``--download``). :func:`safe_folder_name` turns a title into a folder name that
stays where it is put, and :func:`file_problem` says why a path cannot be opened as a
project without reading it (a pipe would block). Nothing here imports torch or Qt.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netbuilder.core.errors import NetBuilderError
from netbuilder.core.graph import Graph
from netbuilder.core.inits import is_checkpoint_init

#: Prefix of ``training.dataset`` naming a folder of images.
IMAGEFOLDER = "imagefolder:"
#: Longest folder name :func:`safe_folder_name` returns.
MAX_FOLDER_NAME = 80
_WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{k}" for k in range(10)),
                               *(f"LPT{k}" for k in range(10))})


class UnconfirmedPathError(NetBuilderError):
    """A path outside the project's folder, or a download, that was not confirmed."""


@dataclass(frozen=True)
class PathUse:
    """One file, folder or download a project asks for.

    Attributes:
        field: Where the project asks for it (``node layer1.conv init.file``,
            ``training.data_dir``).
        path: The file or folder, resolved against the project's folder (``None`` for a
            download into the default data folder).
        action: What the application does with it, e.g. ``reads weights from``.
        outside: Whether it lies outside the project's folder (or there is no folder).
        download: Whether it is a download.
    """

    field: str
    path: Path | None
    action: str
    outside: bool
    download: bool = False

    @property
    def needs_confirmation(self) -> bool:
        """Whether the person must confirm it before it happens."""
        return self.outside or self.download

    def describe(self) -> str:
        """One line for a message or a confirmation dialog."""
        where = f" {self.path}" if self.path is not None else ""
        return f"{self.field}: {self.action}{where}"


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be opened as a project file, or ``None`` when it can be tried.

    Only the file's kind is looked at (nothing is read), so a pipe with no writer does
    not block: a missing file, a folder, a pipe, a device or an unreadable file each give
    a one-line message.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return f"{path}: no such file"
    except OSError as error:
        return f"{path}: cannot be opened: {error.strerror or error}"
    if stat.S_ISDIR(info.st_mode):
        return f"{path} is a folder, not a project file"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file (a pipe, device or socket), so it is not read"
    if not os.access(path, os.R_OK):
        return f"{path}: permission denied"
    return None


def safe_folder_name(text: str, fallback: str = "untitled") -> str:
    """``text`` as one folder name that stays inside the folder it is put in.

    Separators, ``..``, control characters and other unsafe characters become ``-``;
    leading and trailing dots and dashes are dropped (no hidden or parent folders);
    Windows' reserved device names get a trailing ``_``.
    """
    name = re.sub(r"[^\w.-]+", "-", unicodedata.normalize("NFC", str(text)))
    name = name.strip("-.")[:MAX_FOLDER_NAME].strip("-.")
    if not name:
        return fallback
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        return f"{name}_"
    return name


# -- what a project asks for ------------------------------------------------------------
def path_uses(graph: Graph, training: Mapping[str, Any],
              project_dir: str | os.PathLike[str] | None,
              trusted: Iterable[str | os.PathLike[str]] = ()) -> list[PathUse]:
    """Every file, folder and download the project asks for, resolved.

    Args:
        graph: The project's graph.
        training: The project's ``training`` section (plain JSON data).
        project_dir: The project's folder (``None`` for a document never saved: relative
            paths resolve against the working folder and every path counts as outside).
        trusted: More folders whose contents count as inside (e.g. the application's own
            folder of imported weights).
    """
    homes = [_real(Path(p)) for p in (project_dir, *trusted) if p is not None]
    base = Path(project_dir) if project_dir is not None else None
    return [PathUse(field, path, action, not _inside(path, homes) if path else False,
                    download)
            for field, path, action, download in _raw_uses(graph, training, base)]


def external_paths(graph: Graph, training: Mapping[str, Any],
                   project_dir: str | os.PathLike[str] | None,
                   trusted: Iterable[str | os.PathLike[str]] = ()) -> list[PathUse]:
    """What must be confirmed before Train or export: paths outside the project's folder
    (and ``trusted``), and downloads. Empty when nothing needs asking."""
    return [use for use in path_uses(graph, training, project_dir, trusted)
            if use.needs_confirmation]


def require_confirmation(uses: Iterable[PathUse], *, outside_allowed: bool,
                         download_allowed: bool, outside_hint: str, download_hint: str) -> None:
    """Refuse the first use in ``uses`` that needs a confirmation it did not get.

    Args:
        uses: What the project asks for (:func:`path_uses` or :func:`external_paths`).
        outside_allowed: Whether paths outside the project's folder were confirmed.
        download_allowed: Whether downloads were confirmed.
        outside_hint: How to confirm a path (``pass --allow-outside-paths``).
        download_hint: How to confirm a download (``pass --download``).

    Raises:
        UnconfirmedPathError: one line naming the field and the path, and how to confirm.
    """
    pending = [use for use in uses
               if (use.download and not download_allowed)
               or (use.outside and not use.download and not outside_allowed)]
    if not pending:
        return
    first = pending[0]
    why = "" if first.download else ", outside the project's folder"
    more = f" ({len(pending) - 1} more)" if len(pending) > 1 else ""
    hint = download_hint if first.download else outside_hint
    raise UnconfirmedPathError(f"{first.describe()}{why}{more}: {hint}")


def _raw_uses(graph: Graph, training: Mapping[str, Any],
              base: Path | None) -> Iterator[tuple[str, Path | None, str, bool]]:
    for name, file in _node_checkpoint_files(graph):
        yield f"node {name} init.file", resolve(file, base), "reads weights from", False
    init_file = _checkpoint_file(training.get("init"))
    if init_file is not None:
        yield "training.init.file", resolve(init_file, base), "reads weights from", False
    dataset = training.get("dataset")
    if isinstance(dataset, str) and dataset.startswith(IMAGEFOLDER):
        images = resolve(dataset[len(IMAGEFOLDER):], base)
        yield "training.dataset", images, "reads the images in", False
    data_dir = training.get("data_dir")
    folder = resolve(data_dir, base) if isinstance(data_dir, str) else None
    if folder is not None:
        yield "training.data_dir", folder, "reads data sets from", False
    if training.get("download") is True:
        name = dataset if isinstance(dataset, str) else "the data set"
        yield "training.download", folder, f"downloads {name} from the internet into", True


def _node_checkpoint_files(graph: Graph) -> Iterator[tuple[str, str]]:
    for level, node in graph.walk():
        file = _checkpoint_file(node.init)
        if file is not None:
            yield ".".join((*level.path(), node.name)), file


def _checkpoint_file(init: Any) -> str | None:
    if is_checkpoint_init(init):
        file = init.get("file")
        return file if isinstance(file, str) and file else None
    return None


def resolve(text: str, base: Path | None) -> Path:
    """A path named in a project, resolved against the project's folder ``base``.

    ``~`` is expanded; a relative path is joined to ``base`` (kept relative when there is
    no folder, so it resolves against the working folder as before).
    """
    path = Path(text).expanduser()
    return path if path.is_absolute() or base is None else Path(base) / path


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(path: Path, homes: list[Path]) -> bool:
    real = _real(path)
    return any(real == home or real.is_relative_to(home) for home in homes)


# -- resolving in place --------------------------------------------------------------------
def anchor_graph(graph: Graph, project_dir: str | os.PathLike[str]) -> None:
    """Make every ``checkpoint`` init file of ``graph`` absolute, against ``project_dir``.

    For a graph about to be compiled outside the editor's document (the command line, or
    a copy the editor trains); the document itself keeps what the file says.
    """
    base = Path(project_dir).absolute()
    for _level, node in graph.walk():
        file = _checkpoint_file(node.init)
        if file is not None and node.init is not None:
            node.init = {**node.init, "file": str(resolve(file, base))}


def anchor_training(training: Mapping[str, Any],
                    project_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """A copy of a ``training`` section with its paths absolute, against ``project_dir``."""
    base = Path(project_dir).absolute()
    out = dict(training)
    file = _checkpoint_file(out.get("init"))
    if file is not None:
        out["init"] = {**out["init"], "file": str(resolve(file, base))}
    dataset = out.get("dataset")
    if isinstance(dataset, str) and dataset.startswith(IMAGEFOLDER):
        out["dataset"] = IMAGEFOLDER + str(resolve(dataset[len(IMAGEFOLDER):], base))
    if isinstance(out.get("data_dir"), str):
        out["data_dir"] = str(resolve(out["data_dir"], base))
    return out


def anchored_graph(graph: Graph, project_dir: str | os.PathLike[str] | None) -> Graph:
    """A copy of ``graph`` (same node ids) with its init files resolved against
    ``project_dir``; ``graph`` itself is not changed (the editor's Train and export)."""
    copy = graph.copy()
    if project_dir is not None:
        anchor_graph(copy, project_dir)
    return copy
