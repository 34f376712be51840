"""The editing methods of :class:`~netbuilder.ui.canvas.view.GraphView` (a mixin).

Every method pushes at most one undo step on the document. With groups expanded in
place, the selection may span several graph levels: edits are grouped by level, and
moves of a body's nodes that would shift the body's frame move the group too, so the
other nodes stay where they are on screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF

from netbuilder.core import commands, editing
from netbuilder.core.errors import GraphError
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.layout import layered_layout
from netbuilder.ui.canvas.edge_item import EdgeItem
from netbuilder.ui.canvas.levels import Point, compensate

if TYPE_CHECKING:
    from netbuilder.ui.canvas.view import GraphView


def move_command(view: GraphView, moves: dict[Graph, dict[str, Point]],
                 text: str = "", *, follow: bool = True) -> commands.Command | None:
    """One step moving nodes of several levels.

    Args:
        view: The view (its shown levels give the nesting depths).
        moves: Level → node id → new position (completed in place when ``follow``).
        text: Name of the step (default: the name of the first move).
        follow: Move enclosing groups so that bodies stay still on screen.
    """
    if follow:
        compensate(moves, {g: _depth(g, view.current_graph) for g in view.graph_scene.levels()})
    steps: list[commands.Command] = []
    for graph, positions in moves.items():
        changed = {k: v for k, v in positions.items()
                   if k in graph.nodes and graph.nodes[k].pos != v}
        if changed:
            steps.append(commands.MoveNodes(graph, changed))
    if not steps:
        return None
    if len(steps) == 1 and not text:
        return steps[0]
    return commands.Macro(text or steps[0].text, steps)


def _depth(graph: Graph, base: Graph) -> int:
    depth = 0
    while graph is not base and graph.parent is not None:
        graph, depth = graph.parent, depth + 1
    return depth


class ViewEditing:
    """Adding, deleting, grouping, arranging and expanding, for :class:`GraphView`."""

    def add_block(self: GraphView, key: str,  # type: ignore[misc]
                  scene_pos: QPointF | None = None) -> str:
        """Add a ``key`` block centred at ``scene_pos``; dropped on a wire, insert it there.

        Dropped inside a group expanded in place, the block goes into the group's body.

        Returns:
            The new node's id, or ``""`` when the block could not be added (the reason
            goes to :attr:`statusMessage`).
        """
        scene = self.graph_scene
        pos = scene_pos if scene_pos is not None else self._free_spot()
        wire = scene.edge_near(pos) if scene_pos is not None else None
        level = wire.level if wire is not None and wire.level is not None \
            else scene.level_at(pos)
        placement = scene.placement(level)
        local = placement.to_level(pos)
        try:
            command, node_id = editing.add_command(level, key, local,
                                                   wire.edge if wire else None)
            command = self._with_owner_moves(command, level, node_id)
            self.document.push(command)
        except GraphError as error:
            self.statusMessage.emit(error.message)
            return ""
        self.select([node_id])
        return node_id

    def _with_owner_moves(self: GraphView, command: commands.Command,  # type: ignore[misc]
                          level: Graph, node_id: str) -> commands.Command:
        """Add the group moves that keep a body still when a node is added far left/up."""
        if level is self.current_graph:
            return command
        insert = command.children[0] if isinstance(command, commands.Macro) else command
        node = getattr(insert, "node", None)
        if node is None:
            return command
        moves: dict[Graph, dict[str, Point]] = {level: {node_id: node.pos}}
        owners = move_command(self, _owner_moves(self, moves), follow=False)
        if owners is None:
            return command
        return commands.Macro(command.text, [command, owners])

    def add_block_after(self: GraphView, key: str,  # type: ignore[misc]
                        source_id: str) -> str:
        """Add a ``key`` block below ``source_id``, wired from it (one undo step)."""
        level = self.graph_scene.level_of(source_id) or self.current_graph
        try:
            command, node_id = editing.add_after_command(level, key, source_id)
            self.document.push(command)
        except GraphError as error:
            self.statusMessage.emit(error.message)
            return ""
        self.select([node_id])
        box = self.graph_scene.box(node_id)
        if box is not None:
            self.ensureVisible(box.scene_box(), 40, 40)
        return node_id

    def _free_spot(self: GraphView) -> QPointF:  # type: ignore[misc]
        return self.mapToScene(self.viewport().rect().center())

    def _by_level(self: GraphView, ids: Sequence[str]) -> dict[Graph, list[str]]:  # type: ignore[misc]
        out: dict[Graph, list[str]] = {}
        for node_id in ids:
            level = self.graph_scene.level_of(node_id)
            if level is not None:
                out.setdefault(level, []).append(node_id)
        return out

    def delete_selected(self: GraphView) -> None:  # type: ignore[misc]
        """Delete the selected nodes and wires (one undo step)."""
        edges: dict[Graph, list[Edge]] = {}
        for item in self.graph_scene.selectedItems():
            if isinstance(item, EdgeItem) and item.level is not None:
                edges.setdefault(item.level, []).append(item.edge)
        nodes = self._by_level(self.selected_ids())
        steps = [step for level in dict.fromkeys([*nodes, *edges])
                 if (step := editing.delete_command(level, nodes.get(level, []),
                                                    edges.get(level, []))) is not None]
        if len(steps) == 1:
            self.document.push(steps[0])
        elif steps:
            self.document.push(commands.Macro(f"Delete {len(self.selected_ids())} items",
                                              steps))

    def group_selected(self: GraphView) -> str:  # type: ignore[misc]
        """Group the selected nodes (one undo step); return the group's id or ``""``."""
        levels = self._by_level(self.selected_ids())
        if len(levels) > 1:
            self.statusMessage.emit("cannot group nodes of different groups together")
            return ""
        level, ids = next(iter(levels.items()), (self.current_graph, []))
        try:
            command = commands.group_nodes(level, ids)
            self.document.push(command)
        except GraphError as error:
            self.statusMessage.emit(error.message)
            return ""
        group_id = command.group.id  # type: ignore[attr-defined]
        self.select([group_id])
        return group_id

    def ungroup_selected(self: GraphView) -> None:  # type: ignore[misc]
        """Dissolve the selected groups (one undo step each)."""
        for level, ids in self._by_level(self.selected_ids()).items():
            for node_id in ids:
                node = level.nodes.get(node_id)
                if node is None or node.body is None:
                    continue
                try:
                    self.document.push(commands.ungroup(level, node_id))
                except GraphError as error:
                    self.statusMessage.emit(error.message)

    def set_expanded(self: GraphView, node_id: str,  # type: ignore[misc]
                     expanded: bool) -> bool:
        """Expand a group in place (or collapse it): one ``SetAttribute`` step."""
        level = self.graph_scene.level_of(node_id)
        node = level.nodes.get(node_id) if level is not None else None
        if level is None or node is None or node.body is None:
            return False
        if node.collapsed == (not expanded):
            return True
        self.document.push(commands.SetAttribute(level, node_id, "collapsed", not expanded))
        self.document.history.seal()
        return True

    def auto_layout(self: GraphView) -> None:  # type: ignore[misc]
        """Arrange the shown level with the layered layout (one ``MoveNodes`` step).

        Groups expanded in place are arranged with the size of their frames.
        """
        graph = self.current_graph
        scene = self.graph_scene
        sizes = {n: box.size for n in graph.nodes if (box := scene.box(n)) is not None}
        positions = layered_layout(graph, sizes)
        changed = {k: v for k, v in positions.items() if graph.nodes[k].pos != v}
        if changed:
            self.document.history.seal()
            self.document.push(commands.MoveNodes(graph, changed))
            self.document.history.seal()
        self.fit()


def _owner_moves(view: GraphView, moves: dict[Graph, dict[str, Point]]
                 ) -> dict[Graph, dict[str, Point]]:
    """The moves of enclosing groups only (the level's own entries removed)."""
    levels = set(moves)
    depths = {g: _depth(g, view.current_graph) for g in view.graph_scene.levels()}
    compensate(moves, depths)
    return {g: m for g, m in moves.items() if g not in levels}
