"""The edits made by gestures on the canvas: add, expand, arrange, move.

:class:`GestureEdits` belongs to one :class:`~netbuilder.ui.canvas.view.GraphView`
(``view.edits``): a block dropped or chosen in quick add, a chevron clicked, a group
opened that was never laid out, boxes dragged. With groups expanded in place, a gesture
may touch several graph levels: moves of a body's nodes that would shift the body's
frame move the group too, so the other nodes stay where they are on screen. The
selection commands (delete, group, ungroup...) are the editor's
(:class:`~netbuilder.ui.editor.NetworkEditor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF

from netbuilder.core import commands, editing
from netbuilder.core.errors import GraphError
from netbuilder.core.graph import Graph
from netbuilder.core.layout import LayoutOptions, layered_layout
from netbuilder.ui.canvas.levels import Point, compensate
from netbuilder.ui.canvas.room import RoomPlanner

if TYPE_CHECKING:
    from netbuilder.ui.canvas.view import GraphView


class GestureEdits:
    """Turns the canvas's gestures into undo steps on the levels a view shows.

    Every method pushes at most one step on the view's document and reports a refused
    edit (a :class:`~netbuilder.core.errors.GraphError`) through ``view.statusMessage``.
    """

    def __init__(self, view: GraphView) -> None:
        self.view = view
        #: Auto Layout folds long chains into columns that fit the view.
        self.fold = True

    # -- adding ---------------------------------------------------------------------------
    def add_block(self, key: str, scene_pos: QPointF | None = None) -> str:
        """Add a ``key`` block centred at ``scene_pos``; dropped on a wire, insert it there.

        Dropped inside a group expanded in place, the block goes into the group's body;
        without a position it goes in the middle of the view.

        Returns:
            The new node's id, or ``""`` when the block could not be added.
        """
        view = self.view
        scene = view.graph_scene
        pos = scene_pos if scene_pos is not None else \
            view.mapToScene(view.viewport().rect().center())
        wire = scene.edge_near(pos) if scene_pos is not None else None
        level = wire.level if wire is not None and wire.level is not None \
            else scene.level_at(pos)
        local = scene.placement(level).to_level(pos)
        try:
            command, node_id = editing.add_command(level, key, local,
                                                   wire.edge if wire else None)
            view.document.push(self._with_owner_moves(command, level, node_id))
        except GraphError as error:
            view.statusMessage.emit(error.message)
            return ""
        view.select([node_id])
        return node_id

    def _with_owner_moves(self, command: commands.Command, level: Graph,
                          node_id: str) -> commands.Command:
        """Add the group moves that keep a body still when a node is added far left/up."""
        if level is self.view.current_graph:
            return command
        insert = command.children[0] if isinstance(command, commands.Macro) else command
        node = getattr(insert, "node", None)
        if node is None:
            return command
        moves: dict[Graph, dict[str, Point]] = {level: {node_id: node.pos}}
        owners = self.move_command(self._owner_moves(moves), follow=False)
        if owners is None:
            return command
        return commands.Macro(command.text, [command, owners])

    def add_block_after(self, key: str, source_id: str) -> str:
        """Add a ``key`` block below ``source_id``, wired from it (one undo step)."""
        view = self.view
        level = view.graph_scene.level_of(source_id) or view.current_graph
        try:
            command, node_id = editing.add_after_command(level, key, source_id)
            view.document.push(command)
        except GraphError as error:
            view.statusMessage.emit(error.message)
            return ""
        view.select([node_id])
        box = view.graph_scene.box(node_id)
        if box is not None:
            view.ensureVisible(box.scene_box(), 40, 40)
        return node_id

    # -- groups and arrangement -------------------------------------------------------------
    def set_expanded(self, node_id: str, expanded: bool) -> bool:
        """Expand a group in place (or collapse it), making room around it: one step.

        The boxes below the group and to its right move so that the frame overlaps
        nothing (and, collapsing, so that no gap is left); see :class:`RoomPlanner`.
        """
        scene = self.view.graph_scene
        level = scene.level_of(node_id)
        node = level.nodes.get(node_id) if level is not None else None
        if level is None or node is None or node.body is None:
            return False
        if node.collapsed == (not expanded):
            return True
        toggle = commands.SetAttribute(level, node_id, "collapsed", not expanded)
        room = self.move_command(
            RoomPlanner(scene, self.layout_options()).toggle(level, node_id, expanded),
            follow=False)
        history = self.view.document.history
        history.seal()
        self.view.document.push(toggle if room is None else
                                commands.Macro(toggle.text, [toggle, room]))
        history.seal()
        return True

    def with_room_after_grouping(self, command: commands.Command, level: Graph,
                                 node_ids: list[str]) -> commands.Command:
        """``command`` (grouping ``node_ids`` of ``level``) and the moves closing its gap.

        The grouped nodes leave room that one box does not fill: the boxes below move up
        (and those to the right move left), in the same undo step.
        """
        group = next((c.node for c in getattr(command, "children", [])
                      if isinstance(c, commands.InsertNode)), None)
        if group is None:
            return command
        planner = RoomPlanner(self.view.graph_scene, self.layout_options())
        room = self.move_command(planner.grouping(level, node_ids, group), follow=False)
        return command if room is None else commands.Macro(command.text, [command, room])

    def layout_options(self) -> LayoutOptions:
        """Spacing of Auto Layout: folded to the view's size when :attr:`fold` is on."""
        if not self.fold:
            return LayoutOptions()
        size = self.view.viewport().size()
        return LayoutOptions(fold=(max(size.width() - 80.0, 400.0),
                                   max(size.height() - 80.0, 300.0)))

    def auto_layout(self) -> None:
        """Arrange the shown level with the layered layout (one ``MoveNodes`` step).

        Groups expanded in place are arranged with the size of their frames; with
        :attr:`fold`, long chains fold into columns that fit the view at 100 %.
        """
        view = self.view
        graph, scene = view.current_graph, view.graph_scene
        sizes = {n: box.size for n in graph.nodes if (box := scene.box(n)) is not None}
        positions = layered_layout(graph, sizes, options=self.layout_options())
        changed = {k: v for k, v in positions.items() if graph.nodes[k].pos != v}
        if changed:
            view.document.history.seal()
            view.document.push(commands.MoveNodes(graph, changed))
            view.document.history.seal()
        view.fit()

    # -- moving ----------------------------------------------------------------------------
    def move_command(self, moves: dict[Graph, dict[str, Point]], text: str = "", *,
                     follow: bool = True) -> commands.Command | None:
        """One step moving nodes of several levels (None: nothing moves).

        Args:
            moves: Level → node id → new position (completed in place when ``follow``).
            text: Name of the step (default: the name of the first move).
            follow: Move enclosing groups so that bodies stay still on screen.
        """
        if follow:
            compensate(moves, self._depths())
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

    def _depths(self) -> dict[Graph, int]:
        base = self.view.current_graph
        return {g: _depth(g, base) for g in self.view.graph_scene.levels()}

    def _owner_moves(self, moves: dict[Graph, dict[str, Point]]
                     ) -> dict[Graph, dict[str, Point]]:
        """The moves of enclosing groups only (the level's own entries removed)."""
        levels = set(moves)
        compensate(moves, self._depths())
        return {g: m for g, m in moves.items() if g not in levels}


def _depth(graph: Graph, base: Graph) -> int:
    depth = 0
    while graph is not base and graph.parent is not None:
        graph, depth = graph.parent, depth + 1
    return depth
