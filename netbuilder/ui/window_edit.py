"""Edit commands of the main window: undo, clipboard, grouping, rename, freeze, user blocks.

Each command acts on the canvas's selection in the graph level the canvas shows, builds a
:mod:`netbuilder.core.commands` command and pushes it on the document's history. A refused
edit (a typed :class:`~netbuilder.core.errors.GraphError`) is reported in the status bar
and changes nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QInputDialog

from netbuilder.core import commands, serialize
from netbuilder.core.document import Document
from netbuilder.core.errors import GraphError, NetBuilderError
from netbuilder.core.graph import Graph, Node
from netbuilder.ui.clipboard import clipboard_fragment, copy_nodes, paste_fragment

if TYPE_CHECKING:
    from netbuilder.ui.canvas import GraphView
    from netbuilder.ui.inspector import InspectorPanel
    from netbuilder.ui.palette import BlockPalette

PASTE_STEP = 40.0


class EditMixin:
    """The Edit menu: history, clipboard, structure, node attributes and user blocks."""

    document: Document
    view: GraphView
    act: dict[str, QAction]
    inspector: InspectorPanel
    inspector_dock: QDockWidget
    palette_panel: BlockPalette
    _paste_memory: tuple[str, int] = ("", 0)

    if TYPE_CHECKING:  # provided by MainWindow
        def show_message(self, text: str, timeout_ms: int = 6000) -> None: ...
        def _refresh_actions(self) -> None: ...

    # -- helpers ------------------------------------------------------------------------------
    def _selection(self) -> tuple[Graph, list[Node]]:
        graph = self.view.current_graph
        return graph, [graph.nodes[i] for i in self.view.selected_ids() if i in graph.nodes]

    def _push(self, build: Any, *args: Any) -> commands.Command | None:
        """Build a command (reporting refusals) and push it."""
        try:
            command = build(*args)
        except GraphError as error:
            self.show_message(f"Cannot do that: {error.message}")
            return None
        return self.document.push(command)

    # -- history ----------------------------------------------------------------------------
    def edit_undo(self) -> None:
        """Undo the last edit."""
        text = self.document.history.undo_text
        if self.document.undo():
            self.show_message(f"Undid {text}", 3000)

    def edit_redo(self) -> None:
        """Redo the edit just undone."""
        text = self.document.history.redo_text
        if self.document.redo():
            self.show_message(f"Redid {text}", 3000)

    # -- clipboard ------------------------------------------------------------------------------
    def edit_copy(self) -> bool:
        """Copy the selected nodes (and the wires among them) to the system clipboard."""
        graph, nodes = self._selection()
        try:
            data = copy_nodes(graph, [n.id for n in nodes])
        except NetBuilderError as error:
            self.show_message(f"Cannot copy: {error}")
            return False
        if data is None:
            return False
        self._paste_memory = (json.dumps(data, sort_keys=True), 0)
        self.show_message(f"Copied {len(nodes)} node{'s' if len(nodes) != 1 else ''}", 3000)
        return True

    def edit_cut(self) -> None:
        """Copy the selected nodes, then delete them (one undo step for the delete)."""
        if self.edit_copy():
            self.view.delete_selected()

    def edit_paste(self) -> list[str]:
        """Paste the clipboard's nodes into the graph shown, offset from where they were."""
        data = clipboard_fragment()
        if data is None:
            self.show_message("The clipboard holds no NetBuilder nodes", 3000)
            return []
        key = json.dumps(data, sort_keys=True)
        count = self._paste_memory[1] + 1 if self._paste_memory[0] == key else 1
        self._paste_memory = (key, count)
        return self.insert_fragment(data, offset=(PASTE_STEP * count, PASTE_STEP * count))

    def insert_fragment(self, data: dict[str, Any], at: tuple[float, float] | None = None,
                        offset: tuple[float, float] | None = None) -> list[str]:
        """Insert fragment ``data`` as one undo step and select what was inserted.

        Args:
            data: Fragment data (clipboard or user block).
            at: Where its top-left corner goes (default: ``offset`` from where it was,
                or the middle of the canvas when no offset is given).
            offset: Shift from the positions stored in the fragment.
        """
        if at is None and offset is None:
            center = self.view.mapToScene(self.view.viewport().rect().center())
            at = (center.x(), center.y())
        try:
            ids = paste_fragment(self.document, self.view.current_graph, data,
                                 offset or (0.0, 0.0), at)
        except NetBuilderError as error:
            self.show_message(f"Cannot paste: {error}")
            return []
        self.view.select(ids)
        return ids

    def edit_duplicate(self) -> list[str]:
        """Copy the selection in place, shifted a little (the clipboard is left alone)."""
        graph, nodes = self._selection()
        if not nodes:
            return []
        data = serialize.fragment_to_dict(graph, [n.id for n in nodes])
        return self.insert_fragment(data, offset=(PASTE_STEP, PASTE_STEP))

    def edit_delete(self) -> None:
        """Delete the selected nodes and their wires."""
        self.view.delete_selected()

    def edit_select_all(self) -> None:
        """Select every node of the graph shown."""
        self.view.select_all()

    # -- structure --------------------------------------------------------------------------------
    def edit_group(self) -> str | None:
        """Group the selected nodes; return the new group's id."""
        graph, nodes = self._selection()
        if not nodes:
            return None
        macro = self._push(commands.group_nodes, graph, [n.id for n in nodes])
        group = getattr(macro, "group", None)
        if group is None:
            return None
        self.view.select([group.id])
        return group.id

    def edit_ungroup(self) -> list[str]:
        """Dissolve every selected group (or composite block) into its nodes."""
        graph, nodes = self._selection()
        freed: list[str] = []
        for node in [n for n in nodes if n.body is not None]:
            inner = [n.id for n in node.body.nodes.values()  # type: ignore[union-attr]
                     if n.type not in ("group_input", "group_output")]
            if self._push(commands.ungroup, graph, node.id) is not None:
                freed += inner
        if freed:
            self.view.select(freed)
        return freed

    def edit_open_group(self, node_id: str | None = None) -> None:
        """Show a group's body in the canvas (the selected group by default)."""
        if node_id is None:
            _graph, nodes = self._selection()
            groups = [n for n in nodes if n.body is not None]
            if len(groups) != 1:
                return
            node_id = groups[0].id
        self.view.open_group(node_id)
        self._refresh_actions()

    def edit_close_group(self) -> None:
        """Go back up to the graph around the group shown."""
        self.view.close_group()
        self._refresh_actions()

    # -- node attributes ------------------------------------------------------------------------
    def edit_rename(self) -> None:
        """Rename the selected node in the inspector's name field."""
        _graph, nodes = self._selection()
        if len(nodes) != 1:
            self.show_message("Select one node to rename it", 3000)
            return
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        self.inspector.show_nodes([nodes[0].id])
        self.inspector.focus_name()

    def edit_freeze(self, frozen: bool) -> None:
        """Freeze (or unfreeze) the selected nodes, as one undo step."""
        graph, nodes = self._selection()
        changes = [commands.SetAttribute(graph, n.id, "frozen", frozen)
                   for n in nodes if n.frozen != frozen]
        if not changes:
            return
        verb = "Freeze" if frozen else "Unfreeze"
        text = changes[0].text if len(changes) == 1 else f"{verb} {len(changes)} nodes"
        self.document.push(commands.Macro(text, changes))

    # -- user blocks ------------------------------------------------------------------------------
    def edit_save_user_block(self, name: str | None = None) -> str | None:
        """Save the selection to the palette as a user block; return its name."""
        graph, nodes = self._selection()
        if not nodes:
            self.show_message("Select the nodes to save as a user block", 3000)
            return None
        if name is None:
            suggestion = nodes[0].name if len(nodes) == 1 else "my_block"
            name, ok = QInputDialog.getText(
                self, "Save as User Block", "Name in the palette:",  # type: ignore[arg-type]
                text=suggestion)
            if not ok or not name.strip():
                return None
        data = serialize.fragment_to_dict(graph, [n.id for n in nodes])
        block = self.palette_panel.add_user_block(name, data)
        self.show_message(f"Saved user block {block.name}", 3000)
        return block.name

    def add_block(self, key: str) -> str | None:
        """Add a block from the palette in the middle of the canvas and select it."""
        node_id = self.view.add_block(key)
        return node_id or None
