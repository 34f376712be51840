"""``node.init`` values that load a layer's weights from a file, as project files store them.

A node whose ``init`` is ``{"scheme": "checkpoint", "file": "/path/to/weights.pt",
"key": "layer1.0.conv1"}`` takes, whenever the graph is compiled, the entries
``key + "." + name`` of the ``state_dict`` in ``file`` for each entry ``name`` of its
module's ``state_dict`` (:mod:`netbuilder.compiler.init` loads them). Imports and
pretrained template weights write these; transfer learning removes them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

#: Name of the ``node.init`` scheme that loads a node's weights from a file.
CHECKPOINT = "checkpoint"


def checkpoint_init(file: str | os.PathLike[str], key: str) -> dict[str, Any]:
    """The ``node.init`` loading the entries under ``key`` of the ``state_dict`` in ``file``."""
    return {"scheme": CHECKPOINT, "file": os.fspath(file), "key": key}


def is_checkpoint_init(init: Mapping[str, Any] | None) -> bool:
    """Whether ``init`` loads weights from a file."""
    return isinstance(init, Mapping) and init.get("scheme") == CHECKPOINT
