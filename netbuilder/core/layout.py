"""Automatic layered layout of one graph level, top to bottom (no Qt).

A Sugiyama-style layout in four steps, and an optional fifth:

1. **Layering** by longest path from the sources, so every edge goes at least one layer
   down; sources that feed only later layers are pulled down next to their consumers.
2. **Dummy nodes** split every edge that spans several layers, so long wires (residual
   shortcuts) get a lane of their own instead of running through other nodes.
3. **Ordering**: barycentre sweeps down and up reduce crossings; the ordering with the
   fewest crossings wins. Ties keep the graph's topological order, so the result is
   deterministic.
4. **Coordinates**: each node is pulled towards the weighted median of its neighbours
   (chains stay straight, branches sit side by side under their fork) and the layer is
   then packed without overlap by isotonic regression (pool adjacent violators), which
   moves real nodes far less than the lanes of long wires.
5. **Folding** (when :attr:`LayoutOptions.fold` gives an area): a long chain is cut into
   columns side by side, so that it fits a wide window at a readable scale. Cuts fall only
   between layers joined by a single wire (a chain point), never through a branch; the
   wire from the foot of one column climbs to the head of the next in the gap between
   them. The fewest columns that fit the area about as well as any number does win.

:func:`make_room` moves the boxes around one box that grows or shrinks (a group expanded
or collapsed in place, a selection replaced by its group), so that nothing overlaps and no
gap is left.

Positions are the top-left corners of node boxes, in canvas pixels. The canvas passes
its real box sizes; templates and imports can call :func:`apply_layout` on a graph that
is not in a document yet, with sizes estimated by :func:`estimate_size`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from netbuilder.core.graph import Graph, Node
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT, INPUT, OUTPUT

Size = tuple[float, float]
Point = tuple[float, float]

#: Width of an ordinary node box on the canvas.
NODE_WIDTH = 196.0
#: Height of an ordinary node box on the canvas.
NODE_HEIGHT = 72.0
#: Height of a compact node box: input/output, group ports, parameterless blocks.
IO_HEIGHT = 52.0
#: Horizontal room each port needs on a node's edge.
PORT_PITCH = 44.0
#: The area (canvas pixels at 100 %) a fresh graph is folded to fit: about the canvas of a
#: default editor window.
FOLD_AREA = (960.0, 720.0)
#: A fold is worth it only when it fits the area at least this much better per column.
FOLD_TOLERANCE = 0.97
#: Most columns a level is folded into.
MAX_COLUMNS = 8

_IO_TYPES = (INPUT, OUTPUT, GROUP_INPUT, GROUP_OUTPUT)
_WEIGHTED_FAMILIES = ("Convolution", "Linear", "Normalization")
_REAL_WEIGHT = 1000.0
_DUMMY_WEIGHT = 1.0


@dataclass(frozen=True)
class LayoutOptions:
    """Spacing of a layout.

    Attributes:
        node_gap: Horizontal space between neighbouring boxes of a layer.
        layer_gap: Vertical space between consecutive layers.
        lane_width: Width reserved for a long wire passing through a layer.
        origin: Top-left corner of the whole layout.
        sweeps: Ordering sweeps (each one down and one up).
        passes: Coordinate refinement passes.
        fold: Width and height of the area to fit by folding long chains into columns
            (None: one column, however long).
        column_gap: Horizontal space between folded columns (room for the climbing wire).
    """

    node_gap: float = 36.0
    layer_gap: float = 44.0
    lane_width: float = 16.0
    origin: Point = (0.0, 0.0)
    sweeps: int = 6
    passes: int = 8
    fold: Size | None = None
    column_gap: float = 96.0


def estimate_size(graph: Graph, node: Node) -> Size:
    """The size the canvas gives ``node``'s box (used when no canvas is at hand).

    The canvas draws a box compact when it has no key parameters and no cost to show;
    without an analysis at hand, blocks of weighted families are assumed to have a cost.
    """
    ports = max(len(graph.input_ports(node)), len(graph.output_ports(node)), 1)
    width = max(NODE_WIDTH, ports * PORT_PITCH + 24.0)
    spec = graph.spec(node)
    try:
        label = spec.label(node.resolved)
    except Exception:  # a block's label must never break a layout
        label = ""
    compact = node.type in _IO_TYPES or (
        node.body is None and not label and spec.family not in _WEIGHTED_FAMILIES)
    return width, IO_HEIGHT if compact else NODE_HEIGHT


def needs_layout(graph: Graph) -> bool:
    """Whether every node of ``graph`` sits at the same point (never laid out)."""
    positions = {node.pos for node in graph.nodes.values()}
    return len(graph.nodes) > 1 and len(positions) == 1


def apply_layout(graph: Graph, *, deep: bool = True,
                 options: LayoutOptions | None = None) -> None:
    """Lay ``graph`` out in place by setting ``node.pos`` directly.

    Only for graphs that no view shows yet (a template being built, an import): it emits
    no events and records no undo step. Edit a shown graph with a ``MoveNodes`` command.

    Args:
        graph: The graph to arrange.
        deep: Also arrange every group body that was never laid out.
        options: Spacing (default: long chains folded to fit :data:`FOLD_AREA`).
    """
    options = options or LayoutOptions(fold=FOLD_AREA)
    positions = layered_layout(graph, options=options)
    for node_id, pos in positions.items():
        graph.nodes[node_id].pos = pos
    if deep:
        for node in graph.nodes.values():
            if node.body is not None and needs_layout(node.body):
                apply_layout(node.body, deep=True, options=options)


def layered_layout(graph: Graph, sizes: Mapping[str, Size] | None = None, *,
                   options: LayoutOptions | None = None) -> dict[str, Point]:
    """Positions (top-left corners) for every node of one graph level.

    Args:
        graph: The graph level to arrange (group bodies are not entered).
        sizes: Box size per node id; missing ones are estimated.
        options: Spacing.

    Returns:
        Node id → top-left corner.
    """
    options = options or LayoutOptions()
    sizes = dict(sizes or {})
    for node in graph.nodes.values():
        if node.id not in sizes:
            sizes[node.id] = estimate_size(graph, node)
    edges = list(dict.fromkeys((e.source, e.target) for e in graph.edges
                               if e.source != e.target))
    layered = _LayerGraph.build(list(graph.nodes), edges, sizes, options)
    layered.order_layers()
    layered.assign_x()
    return layered.positions()


# -- layering ---------------------------------------------------------------------------
def _topological(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[str]:
    """Nodes so that edges go forward; nodes on cycles come last, in node order."""
    indegree = dict.fromkeys(nodes, 0)
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    for source, target in edges:
        successors[source].append(target)
        indegree[target] += 1
    position = {n: i for i, n in enumerate(nodes)}
    ready = [n for n in nodes if indegree[n] == 0]
    order: list[str] = []
    while ready:
        current = ready.pop(0)
        order.append(current)
        released = []
        for target in successors[current]:
            indegree[target] -= 1
            if indegree[target] == 0:
                released.append(target)
        ready = sorted(ready + released, key=position.__getitem__)
    seen = set(order)
    return order + [n for n in nodes if n not in seen]


def _assign_layers(order: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest path from the sources; sources are then pulled down to their consumers."""
    rank = {n: i for i, n in enumerate(order)}
    forward = [(s, t) for s, t in edges if rank[s] < rank[t]]
    consumers: dict[str, list[str]] = {}
    for source, target in forward:
        consumers.setdefault(source, []).append(target)
    layer = dict.fromkeys(order, 0)
    for node in order:
        for target in consumers.get(node, ()):
            layer[target] = max(layer[target], layer[node] + 1)
    has_input = {t for _, t in forward}
    for node in order:
        if node not in has_input and node in consumers:
            layer[node] = min(layer[t] for t in consumers[node]) - 1
    return layer


# -- the layered graph ------------------------------------------------------------------
@dataclass
class _LayerGraph:
    """Layers of real and dummy nodes with their edges, widths and x coordinates."""

    layers: list[list[str]]
    up: dict[str, list[str]]
    down: dict[str, list[str]]
    width: dict[str, float]
    height: dict[str, float]
    dummies: set[str]
    options: LayoutOptions
    x: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(cls, nodes: Sequence[str], edges: Sequence[tuple[str, str]],
              sizes: Mapping[str, Size], options: LayoutOptions) -> _LayerGraph:
        order = _topological(nodes, edges)
        layer = _assign_layers(order, edges)
        rank = {n: i for i, n in enumerate(order)}
        count = max(layer.values(), default=-1) + 1
        graph = cls([[] for _ in range(count)], {}, {}, {}, {}, set(), options)
        for node in sorted(order, key=lambda n: (layer[n], rank[n])):
            graph._add(node, layer[node], *sizes[node])
        for source, target in edges:
            graph._link(source, target, layer)
        return graph

    def _add(self, node: str, layer: int, width: float, height: float) -> None:
        self.layers[layer].append(node)
        self.up[node], self.down[node] = [], []
        self.width[node], self.height[node] = width, height

    def _link(self, source: str, target: str, layer: Mapping[str, int]) -> None:
        top, bottom = layer[source], layer[target]
        if top == bottom:  # an edge between nodes of a cycle: not laid out
            return
        if top > bottom:  # an edge of a cycle: lay it out upside down
            source, target, top, bottom = target, source, bottom, top
        previous = source
        for between in range(top + 1, bottom):
            dummy = f"\0{source}\0{target}\0{between}"
            self.dummies.add(dummy)
            self._add(dummy, between, self.options.lane_width, 0.0)
            self._connect(previous, dummy)
            previous = dummy
        if previous != target:
            self._connect(previous, target)

    def _connect(self, upper: str, lower: str) -> None:
        self.down[upper].append(lower)
        self.up[lower].append(upper)

    # -- ordering -------------------------------------------------------------------
    def order_layers(self) -> None:
        """Barycentre sweeps; keep the ordering with the fewest crossings."""
        best = [list(layer) for layer in self.layers]
        best_crossings = self._crossings()
        for _ in range(self.options.sweeps):
            for index in range(1, len(self.layers)):
                self._sort_by_barycentre(index, self.up, index - 1)
            for index in range(len(self.layers) - 2, -1, -1):
                self._sort_by_barycentre(index, self.down, index + 1)
            crossings = self._crossings()
            if crossings < best_crossings:
                best, best_crossings = [list(layer) for layer in self.layers], crossings
            if best_crossings == 0:
                break
        self.layers = best

    def _sort_by_barycentre(self, index: int, links: Mapping[str, list[str]],
                            other: int) -> None:
        where = {n: i for i, n in enumerate(self.layers[other])}
        layer = self.layers[index]

        def barycentre(item: tuple[int, str]) -> float:
            position, node = item
            linked = [where[n] for n in links[node] if n in where]
            return sum(linked) / len(linked) if linked else float(position)

        keyed = sorted(enumerate(layer), key=lambda item: (barycentre(item), item[0]))
        self.layers[index] = [node for _, node in keyed]

    def _crossings(self) -> int:
        total = 0
        for upper, lower in pairwise(self.layers):
            where = {n: i for i, n in enumerate(lower)}
            pairs = sorted((i, where[t]) for i, n in enumerate(upper) for t in self.down[n])
            total += _inversions([b for _, b in pairs])
        return total

    # -- coordinates --------------------------------------------------------------------
    def assign_x(self) -> None:
        """Median alignment with overlap-free packing, refined by sweeps.

        The last sweep goes down, so that chains end up straight below their heads and
        branches centred under their fork.
        """
        for layer in self.layers:
            self.x.update(zip(layer, _pack(layer, self.width, self.options.node_gap)))
        down = list(range(len(self.layers)))
        for step in range(self.options.passes):
            downward = step % 2 == 1
            for index in down if downward else reversed(down):
                self._place_layer(index, self.up if downward else self.down)

    def _place_layer(self, index: int, links: Mapping[str, list[str]]) -> None:
        layer = self.layers[index]
        targets = [self._desired(node, links) for node in layer]
        weights = [_DUMMY_WEIGHT if n in self.dummies else _REAL_WEIGHT for n in layer]
        gaps = [(self.width[a] + self.width[b]) / 2 + self.options.node_gap
                for a, b in pairwise(layer)]
        self.x.update(zip(layer, _isotonic_with_gaps(targets, weights, gaps)))

    def _desired(self, node: str, links: Mapping[str, list[str]]) -> float:
        neighbours = links[node]
        if not neighbours:
            return self.x[node]
        real = node not in self.dummies
        weighted = [(self.x[n], 4.0 if real and n not in self.dummies else 1.0)
                    for n in neighbours]
        return _weighted_median(weighted)

    def positions(self) -> dict[str, Point]:
        """Top-left corners of the real nodes, the layout starting at the origin.

        Layers are stacked in columns (one unless the options ask to fold); each column
        starts at the top, to the right of the previous one.
        """
        ox, oy = self.options.origin
        out: dict[str, Point] = {}
        left_edge = ox
        for first, last in self._columns():
            layers = self.layers[first:last]
            left, right = self._extent(layers)
            y = oy
            for layer in layers:
                real = [n for n in layer if n not in self.dummies]
                height = max((self.height[n] for n in real), default=0.0)
                for node in real:
                    x = self.x[node] - self.width[node] / 2 - left + left_edge
                    out[node] = (float(round(x)),
                                 float(round(y + (height - self.height[node]) / 2)))
                y += height + self.options.layer_gap
            left_edge += right - left + self.options.column_gap
        return out

    def _extent(self, layers: Sequence[list[str]]) -> tuple[float, float]:
        """Left and right edges of the real boxes of ``layers`` (wire lanes included)."""
        members = [n for layer in layers for n in layer]
        if not members:
            return 0.0, 0.0
        return (min(self.x[n] - self.width[n] / 2 for n in members),
                max(self.x[n] + self.width[n] / 2 for n in members))

    # -- folding --------------------------------------------------------------------------
    def _columns(self) -> list[tuple[int, int]]:
        """Layer ranges ``[first, last)`` of the columns, top to bottom, left to right."""
        whole = [(0, len(self.layers))]
        area = self.options.fold
        cuts = self._chain_points()
        if area is None or not cuts:
            return whole
        scored = []
        for count in range(1, min(MAX_COLUMNS, len(cuts) + 1) + 1):
            columns = self._split(count, cuts)
            scored.append((self._fit(columns, area), columns))
        best = max(score for score, _ in scored)
        return next(columns for score, columns in scored if score >= best * FOLD_TOLERANCE)

    def _chain_points(self) -> list[int]:
        """Layers before which a column may start: one wire (or none) enters them."""
        points = []
        for index in range(1, len(self.layers)):
            wires = sum(len(self.down[n]) for n in self.layers[index - 1])
            if wires <= 1 and any(n not in self.dummies for n in self.layers[index]):
                points.append(index)
        return points

    def _layer_heights(self) -> list[float]:
        return [max((self.height[n] for n in layer if n not in self.dummies), default=0.0)
                + self.options.layer_gap for layer in self.layers]

    def _split(self, count: int, cuts: Sequence[int]) -> list[tuple[int, int]]:
        """``count`` columns of about equal height, cut at the chain points nearest."""
        heights = self._layer_heights()
        above = [0.0]
        for height in heights:
            above.append(above[-1] + height)
        starts = [0]
        for k in range(1, count):
            ideal = above[-1] * k / count
            later = [c for c in cuts if c > starts[-1]]
            if not later:
                break
            starts.append(min(later, key=lambda c: (abs(above[c] - ideal), c)))
        ends = [*starts[1:], len(self.layers)]
        return list(zip(starts, ends))

    def _fit(self, columns: Sequence[tuple[int, int]], area: Size) -> float:
        """The scale (at most 1) at which ``columns`` fit ``area``."""
        heights = self._layer_heights()
        width = sum(right - left for left, right in
                    (self._extent(self.layers[a:b]) for a, b in columns))
        width += self.options.column_gap * (len(columns) - 1)
        height = max(sum(heights[a:b]) for a, b in columns) - self.options.layer_gap
        return min(1.0, area[0] / max(width, 1.0), area[1] / max(height, 1.0))


# -- making room ------------------------------------------------------------------------
Rect = tuple[float, float, float, float]


def make_room(boxes: Mapping[str, Rect], old: Rect, new: Rect, *,
              gap: float = 36.0) -> dict[str, Point]:
    """New top-left corners of the boxes that must move when ``old`` becomes ``new``.

    ``old`` and ``new`` (``(x, y, width, height)``, the same top-left corner) are one box
    growing or shrinking in place: a group expanded or collapsed, nodes replaced by their
    group. Boxes below it (overlapping its columns, ``gap`` included) move down or up by
    the change of its bottom edge, boxes to its right move by the change of its right
    edge, so that a layout keeps its shape: no overlap when it grows, no gap when it
    shrinks.

    Args:
        boxes: The other boxes of the level, ``(x, y, width, height)`` by node id.
        old: The box before.
        new: The box after.
        gap: Horizontal margin of the band of boxes counted as below.

    Returns:
        Node id → new top-left corner, for the boxes that move.
    """
    dx = (new[0] + new[2]) - (old[0] + old[2])
    dy = (new[1] + new[3]) - (old[1] + old[3])
    band = (min(old[0], new[0]) - gap, max(old[0] + old[2], new[0] + new[2]) + gap)
    moves: dict[str, Point] = {}
    for node_id, (x, y, width, _height) in boxes.items():
        below = y >= old[1] + old[3] - 1.0 and x < band[1] and x + width > band[0]
        right = x >= old[0] + old[2] - 1.0
        shift = (dx if right else 0.0, dy if below else 0.0)
        if shift != (0.0, 0.0):
            moves[node_id] = (x + shift[0], y + shift[1])
    return moves


def overlapping_pairs(boxes: Mapping[str, Rect]) -> list[tuple[str, str]]:
    """Pairs of boxes ``(x, y, width, height)`` that overlap (touching is not overlapping)."""
    ordered = sorted(boxes.items(), key=lambda item: item[1][0])
    pairs = []
    for index, (a, ra) in enumerate(ordered):
        for b, rb in ordered[index + 1:]:
            if rb[0] >= ra[0] + ra[2]:
                break
            if ra[1] < rb[1] + rb[3] and rb[1] < ra[1] + ra[3]:
                pairs.append((a, b))
    return pairs


# -- numeric helpers --------------------------------------------------------------------
def _pack(layer: Sequence[str], width: Mapping[str, float], gap: float) -> list[float]:
    """Centres of boxes placed left to right, the row centred on zero."""
    centres, cursor = [], 0.0
    for node in layer:
        centres.append(cursor + width[node] / 2)
        cursor += width[node] + gap
    shift = (cursor - gap) / 2
    return [c - shift for c in centres]


def _weighted_median(values: Sequence[tuple[float, float]]) -> float:
    """The weighted median; with an even split, the mean of the two middle values."""
    ordered = sorted(values)
    total = sum(w for _, w in ordered)
    running = 0.0
    for index, (value, weight) in enumerate(ordered):
        running += weight
        if running * 2 > total:
            return value
        if running * 2 == total:
            return (value + ordered[index + 1][0]) / 2
    return ordered[-1][0]


def _isotonic_with_gaps(targets: Sequence[float], weights: Sequence[float],
                        gaps: Sequence[float]) -> list[float]:
    """Closest positions (weighted least squares) with ``x[i+1] - x[i] >= gaps[i]``.

    Subtracting the cumulative gaps turns the constraints into ``y[i] <= y[i+1]``, solved
    exactly by pool adjacent violators.
    """
    offsets = [0.0]
    for gap in gaps:
        offsets.append(offsets[-1] + gap)
    blocks: list[list[float]] = []  # [weighted mean, total weight, count]
    for target, weight, offset in zip(targets, weights, offsets):
        blocks.append([target - offset, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            value, weight_b, count = blocks.pop()
            last = blocks[-1]
            merged = last[1] + weight_b
            last[0] = (last[0] * last[1] + value * weight_b) / merged
            last[1], last[2] = merged, last[2] + count
    values = [block[0] for block in blocks for _ in range(int(block[2]))]
    return [value + offset for value, offset in zip(values, offsets)]


def _inversions(values: list[int]) -> int:
    """Number of pairs out of order (merge sort)."""
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    left, right = values[:middle], values[middle:]
    count = _inversions(left) + _inversions(right)
    merged, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            count += len(left) - i
            j += 1
    values[:] = merged + left[i:] + right[j:]
    return count

