"""The work behind the editor's model commands, free of Qt (it runs on worker threads).

* :func:`parse_request` checks what the import dialog was given;
* :func:`import_to_file` imports a model (:mod:`netbuilder.compiler.importer`) and writes
  its weights to a file of their own with
  :meth:`~netbuilder.compiler.importer.ImportResult.write_weights`, exactly as
  ``netbuilder import`` does: every layer of the graph loads the imported weights from
  that file whenever the graph is compiled (training, export), and ``meta["weights"]``
  says where they are.

torch is imported only inside the functions that need it.
"""

from __future__ import annotations

import ast
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netbuilder.core.graph import Graph
from netbuilder.core.shapes import parse_shape


@dataclass(frozen=True)
class ImportRequest:
    """A model to import.

    Attributes:
        factory: ``package.module:factory``.
        input_shape: One sample's shape without the batch.
        kwargs: Keyword arguments for the factory.
    """

    factory: str
    input_shape: tuple[int, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The factory's own name (``resnet18``)."""
        return re.split(r"[.:]", self.factory)[-1]


@dataclass
class ImportedModel:
    """An imported model, ready to open as a document.

    Attributes:
        graph: The editable graph; its layers load their weights from ``weights_file``.
        meta: The project's ``meta`` (title, origin, weights file).
        weights_file: Where the weights were written.
        max_difference: Largest output difference between the model and the graph.
        name: The model's name.
    """

    graph: Graph
    meta: dict[str, Any]
    weights_file: Path
    max_difference: float | None
    name: str


# -- the dialog's fields -------------------------------------------------------------------
def parse_factory(text: str) -> str:
    """``package.module:factory`` (or dotted), stripped.

    Raises:
        ValueError: when ``text`` does not name a module and an attribute.
    """
    spec = text.strip()
    module, colon, attribute = spec.partition(":")
    if not colon:
        module, _, attribute = spec.rpartition(".")
    names = [*module.split("."), *attribute.split(".")]
    if not module or not attribute or not all(n.isidentifier() for n in names):
        raise ValueError(f"{spec or 'nothing'}: give package.module:factory, "
                         "e.g. torchvision.models:resnet18")
    return spec


def parse_kwargs(text: str) -> dict[str, Any]:
    """``"num_classes=10, aux_logits=False"`` → keyword arguments (Python literals only).

    Nothing is evaluated: each value is read with :func:`ast.literal_eval`.

    Raises:
        ValueError: when the text is not ``name=literal`` pairs.
    """
    if not text.strip():
        return {}
    usage = "write keyword arguments as name=value, e.g. num_classes=10, aux_logits=False"
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError:
        raise ValueError(f"{text.strip()!r}: {usage}") from None
    if not isinstance(call, ast.Call) or call.args or any(k.arg is None
                                                          for k in call.keywords):
        raise ValueError(f"{text.strip()!r}: {usage}")
    values: dict[str, Any] = {}
    for keyword in call.keywords:
        try:
            values[str(keyword.arg)] = ast.literal_eval(keyword.value)
        except ValueError:
            raise ValueError(f"{keyword.arg}: the value must be a Python literal (a number, "
                             "True, False, None, a string or a tuple)") from None
    return values


def parse_request(factory: str, shape: str, kwargs: str) -> ImportRequest:
    """The request the dialog's three fields describe.

    Raises:
        ValueError: naming the field at fault.
    """
    try:
        input_shape = parse_shape(shape)
    except ValueError as error:
        raise ValueError(f"input shape {error}") from None
    return ImportRequest(parse_factory(factory), input_shape, parse_kwargs(kwargs))


# -- the work ---------------------------------------------------------------------------
def import_to_file(request: ImportRequest, weights_dir: Path,
                   cancelled: threading.Event | None = None) -> ImportedModel | None:
    """Import the model and write its weights into a new file in ``weights_dir``.

    Args:
        request: The model to import.
        weights_dir: Folder for the weights file (created if missing).
        cancelled: When set before the work ends, nothing is kept and ``None`` returned.

    Raises:
        ModelImportError: listing what cannot be mapped, or why the model cannot be
            loaded, traced or reproduced.
        OSError: when the weights cannot be written.
    """
    from netbuilder.compiler.importer import import_model

    flag = cancelled or threading.Event()
    result = import_model(request.factory, request.input_shape, **request.kwargs)
    if flag.is_set():
        return None
    weights_dir.mkdir(parents=True, exist_ok=True)
    path = (weights_dir / f"{_slug(result.name)}-{uuid.uuid4().hex[:8]}.pt").resolve()
    project = result.write_weights(path)
    if flag.is_set():
        path.unlink(missing_ok=True)
        return None
    return ImportedModel(project.graph, project.meta, path, result.max_difference,
                         result.name)


def _slug(name: str) -> str:
    """A file-name-safe form of ``name``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"
