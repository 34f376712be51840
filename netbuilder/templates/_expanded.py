"""The level a template opens at: which groups are expanded in place, and their layout.

A template shows its architecture at the level the lecture draws it: VGG's convolutions
and pools, AlexNet's five convolutions, ResNet's stages holding their residual blocks,
DenseNet's dense blocks and transitions. Groups that stand for a ``nn.Sequential`` (VGG's
``features`` and its stage blocks, a ResNet stage) are therefore *expanded in place*
(``node.collapsed = False``): the canvas draws them as frames around their bodies, while
blocks that branch (a residual block, an inception module, a dense block) stay one box
each. Expanding is a view attribute: the compiled module, its ``state_dict`` keys and its
outputs do not change.

A frame is larger than a box, so a level holding expanded groups is laid out with each
frame's size: bodies first (deepest first), then the level around them
(:func:`lay_out_expanded`). Nothing here imports Qt.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from netbuilder.core.graph import Graph, Node
from netbuilder.core.layout import (
    FOLD_AREA,
    LayoutOptions,
    Size,
    apply_layout,
    estimate_size,
    layered_layout,
    needs_layout,
)

#: Room a frame adds around its body on each side, and its header band (the canvas's
#: ``FRAME_PAD`` and ``FRAME_HEADER``, rounded up so that frames never overlap).
FRAME_PAD = 20.0
FRAME_HEADER = 32.0
#: Smallest frame the canvas draws.
FRAME_MIN = (220.0, 72.0)
#: The area a body inside a frame is folded to fit: twice as tall as the top level's, so
#: that a VGG block or a ResNet stage of a few blocks stays one column and only long ones
#: (ResNet-152's 36 blocks) fold, their frames standing side by side at the top level.
BODY_FOLD_AREA = (FOLD_AREA[0], 2 * FOLD_AREA[1])


def expand(graph: Graph, *patterns: str) -> list[Node]:
    """Mark the groups at the dotted ``patterns`` expanded in place; return them.

    Each segment of a pattern is matched against node names with shell wildcards:
    ``"features"``, ``"features.block*"``, ``"layer*"``.

    Raises:
        ValueError: when a pattern names no group (a template typo must not go unseen).
    """
    expanded: list[Node] = []
    for pattern in patterns:
        found = _matches(graph, pattern.split("."))
        if not found:
            raise ValueError(f"no group matches {pattern!r}")
        for node in found:
            node.collapsed = False
        expanded += found
    return expanded


def _matches(graph: Graph, segments: list[str]) -> list[Node]:
    head, rest = segments[0], segments[1:]
    found: list[Node] = []
    for node in graph.nodes.values():
        if node.body is None or not fnmatchcase(node.name, head):
            continue
        found += _matches(node.body, rest) if rest else [node]
    return found


def lay_out_expanded(graph: Graph, options: LayoutOptions | None = None) -> Size:
    """Lay out ``graph`` and every body below it, expanded frames at their full size.

    Bodies of expanded groups are laid out first (folded to :data:`BODY_FOLD_AREA`), so
    that their frames' sizes are known when the level around them is; collapsed bodies
    are laid out as :func:`~netbuilder.core.layout.apply_layout` does. Returns the extent
    of ``graph``.
    """
    options = options or LayoutOptions(fold=FOLD_AREA)
    inner = LayoutOptions(fold=BODY_FOLD_AREA)
    sizes: dict[str, Size] = {}
    for node in graph.nodes.values():
        if node.body is None:
            continue
        if node.collapsed:
            if needs_layout(node.body):
                apply_layout(node.body, deep=True)
            continue
        sizes[node.id] = frame_size(lay_out_expanded(node.body, inner))
    for node_id, pos in layered_layout(graph, sizes, options=options).items():
        graph.nodes[node_id].pos = pos
    return extent(graph, sizes)


def frame_size(body: Size) -> Size:
    """The size of a frame around a body whose boxes span ``body``."""
    width, height = body
    return (max(width + 2 * FRAME_PAD, FRAME_MIN[0]),
            max(height + FRAME_HEADER + 2 * FRAME_PAD, FRAME_MIN[1]))


def extent(graph: Graph, sizes: dict[str, Size]) -> Size:
    """Width and height spanned by the boxes of ``graph`` (``sizes`` where given)."""
    if not graph.nodes:
        return 0.0, 0.0
    boxes = [(*node.pos, *sizes.get(node.id, estimate_size(graph, node)))
             for node in graph.nodes.values()]
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    return (max(b[0] + b[2] for b in boxes) - left, max(b[1] + b[3] for b in boxes) - top)
