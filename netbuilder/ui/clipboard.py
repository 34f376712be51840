"""Copy and paste of graph fragments through the system clipboard.

A copy puts the fragment JSON (``serialize.fragment_to_dict``) on the clipboard under
``application/x-netbuilder-fragment``, and the same JSON as text, so nodes move between
two windows (or two NetBuilder processes) and can be read in a text editor. Paste reads
the custom format first, then text that parses as a fragment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from netbuilder.core import commands, serialize
from netbuilder.core.document import Document
from netbuilder.core.errors import NetBuilderError
from netbuilder.core.graph import Graph
from netbuilder.ui.palette import MIME_FRAGMENT


def fragment_mime(data: dict[str, Any]) -> QMimeData:
    """Clipboard (or drag) data carrying a fragment."""
    text = json.dumps(data, ensure_ascii=False)
    mime = QMimeData()
    mime.setData(MIME_FRAGMENT, text.encode("utf-8"))
    mime.setText(text)
    return mime


def copy_nodes(graph: Graph, node_ids: Iterable[str]) -> dict[str, Any] | None:
    """Put nodes of ``graph`` on the system clipboard; return the fragment (None if none)."""
    ids = list(node_ids)
    if not ids:
        return None
    data = serialize.fragment_to_dict(graph, ids)
    QGuiApplication.clipboard().setMimeData(fragment_mime(data))
    return data


def fragment_from_mime(mime: QMimeData | None) -> dict[str, Any] | None:
    """The fragment in ``mime``, from the custom format or from JSON text."""
    if mime is None:
        return None
    if mime.hasFormat(MIME_FRAGMENT):
        raw = bytes(mime.data(MIME_FRAGMENT).data()).decode("utf-8", "replace")
    elif mime.hasText() and '"netbuilder-fragment"' in mime.text():
        raw = mime.text()
    else:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def clipboard_fragment() -> dict[str, Any] | None:
    """The fragment on the system clipboard, if there is one."""
    return fragment_from_mime(QGuiApplication.clipboard().mimeData())


def paste_fragment(document: Document, graph: Graph, data: dict[str, Any],
                   offset: tuple[float, float] = (40.0, 40.0),
                   at: tuple[float, float] | None = None) -> list[str]:
    """Insert a fragment into ``graph`` as one undo step; return the new node ids.

    Args:
        document: The document whose history records the paste.
        graph: The graph level to paste into.
        data: Fragment data.
        offset: Shift from the copied positions (ignored when ``at`` is given).
        at: Where the fragment's top-left corner goes.

    Raises:
        ProjectFileError: when the data is not a valid fragment.
    """
    nodes, edges = serialize.fragment_from_dict(data, graph)
    if not nodes:
        return []
    if at is not None:
        left = min(n.pos[0] for n in nodes)
        top = min(n.pos[1] for n in nodes)
        offset = (at[0] - left, at[1] - top)
    macro = commands.paste(graph, nodes, edges, offset)
    document.push(macro)
    return list(getattr(macro, "pasted", []))


__all__ = ["NetBuilderError", "clipboard_fragment", "copy_nodes", "fragment_from_mime",
           "fragment_mime", "paste_fragment"]
