"""The network editor: the canvas over one document and every command that edits it.

:class:`NetworkEditor` is to the main window what orange-canvas-core's
``SchemeEditWidget`` is to its ``CanvasMainWindow``: it owns the canvas
(:class:`~netbuilder.ui.canvas.GraphView` and its minimap), the selection, the edit
commands (history, clipboard, delete, grouping, levels, node attributes, user blocks,
adding blocks and fragments, the view of the canvas), the paste memory and the actions
of all these (the ``EDIT_ACTIONS`` section of :mod:`netbuilder.ui.action_table`), which
it hands out as :attr:`NetworkEditor.edit_actions`. It reports through signals and
knows nothing of the window around it.

With groups expanded in place, the selection may hold nodes of several graph levels:
delete and freeze act on every level, group, copy, duplicate and save-as-user-block on
the one level the selection lies in (refused, with a message, when it spans several).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QDropEvent, QResizeEvent
from PySide6.QtWidgets import QInputDialog, QMenu, QVBoxLayout, QWidget

from netbuilder.core import commands, editing, serialize
from netbuilder.core.document import Document
from netbuilder.core.errors import GraphError, NetBuilderError, UnknownNodeError
from netbuilder.core.graph import Graph, Node
from netbuilder.ui.action_table import EDIT_ACTIONS
from netbuilder.ui.actions import CANVAS_MENU, NODE_MENU, ActionSet, fill
from netbuilder.ui.canvas import GraphView, Minimap
from netbuilder.ui.canvas.node_item import LOD_FULL
from netbuilder.ui.clipboard import (
    clipboard_fragment,
    copy_nodes,
    fragment_from_mime,
    paste_fragment,
)
from netbuilder.ui.palette import MIME_FRAGMENT

#: How far each paste of the same nodes lands from the previous one.
PASTE_STEP = 40.0
#: Smallest zoom the first view of a document uses: every text of a node is readable.
READABLE_ZOOM = LOD_FULL
#: Saves a fragment as a user block under a name; returns the name it was stored under.
SaveBlock = Callable[[str, dict[str, Any]], str]
_SHORT, _LONG = 3000, 6000


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


class NetworkEditor(QWidget):
    """The canvas over one document, its selection, edit commands and their actions.

    Signals:
        selectionChanged(list): Ids of the selected nodes (every shown level).
        levelChanged(list): Names of the groups from the root to the level shown.
        nodeActivated(str): A node was double-clicked.
        renameRequested(str): Rename was chosen for this node (the window shows its name
            field).
        statusMessage(str, int): News for the status bar, and for how many milliseconds.
    """

    selectionChanged = Signal(list)
    levelChanged = Signal(list)
    nodeActivated = Signal(str)
    renameRequested = Signal(str)
    statusMessage = Signal(str, int)

    def __init__(self, document: Document, *, save_block: SaveBlock | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvasHost")
        self.setAccessibleName("Canvas")
        QVBoxLayout(self).setContentsMargins(0, 0, 0, 0)
        self.document = document
        self.save_block = save_block
        self._paste_memory: tuple[str, int] = ("", 0)
        self._minimap: Minimap | None = None
        self._forced_dark: bool | None = None
        self._fold_columns = True
        self.view = self._make_view(document)
        self.layout().addWidget(self.view)
        document.history.connect(self._history_changed)
        self.edit_actions = ActionSet(EDIT_ACTIONS, self, self)
        self.edit_actions.bind_keys(self)

    # -- the document and its canvas ------------------------------------------------------------
    def _make_view(self, document: Document) -> GraphView:
        view = GraphView(document, self)
        view.setStatusTip("Drag blocks here; drag from an output port to an input port to "
                          "connect; Tab adds a block at the cursor")
        view.selectionChanged.connect(self._selection_changed)
        view.nodeActivated.connect(self.nodeActivated)
        view.statusMessage.connect(lambda text: self.statusMessage.emit(text, _LONG))
        view.contextMenuRequested.connect(self.show_context_menu)
        view.currentGraphChanged.connect(self._level_changed)
        view.viewport().installEventFilter(self)
        view.viewport().setAcceptDrops(True)
        view.set_dark(self._forced_dark)
        view.edits.fold = self._fold_columns
        return view

    def set_document(self, document: Document) -> None:
        """Edit ``document`` from now on, in a new canvas (the old one is dropped)."""
        self.document.history.disconnect(self._history_changed)
        self.document = document
        minimap = self.minimap_enabled()
        self.set_minimap_enabled(False)
        old, self.view = self.view, self._make_view(document)
        self.layout().replaceWidget(old, self.view)
        old.close()
        old.deleteLater()
        document.history.connect(self._history_changed)
        self.set_minimap_enabled(minimap)
        self._level_changed([])
        self._selection_changed(self.view.selected_ids())

    def _history_changed(self) -> None:
        self.edit_actions.refresh()

    def _selection_changed(self, ids: list[str]) -> None:
        self.edit_actions.refresh()
        self.selectionChanged.emit(ids)

    def _level_changed(self, names: list[str]) -> None:
        self.edit_actions.refresh()
        self.levelChanged.emit(names)

    def _report(self, text: str, timeout_ms: int = _LONG) -> None:
        self.statusMessage.emit(text, timeout_ms)

    # -- the selection ------------------------------------------------------------------------
    def selected_nodes(self) -> list[Node]:
        """The selected nodes, on every level shown."""
        return [level.nodes[i] for level, ids in self.view.selected_by_level().items()
                for i in ids]

    def _one_level(self, verb: str) -> tuple[Graph, list[Node]] | None:
        """The selection's level and nodes; None (reported) when it spans several levels."""
        levels = self.view.selected_by_level()
        if len(levels) > 1:
            self._report(f"cannot {verb} nodes of different groups together")
            return None
        level, ids = next(iter(levels.items()), (self.view.current_graph, []))
        return level, [level.nodes[i] for i in ids]

    def has_selection(self) -> bool:
        """Whether any node is selected."""
        return bool(self.view.selected_ids())

    def can_delete(self) -> bool:
        """Whether any node or wire is selected."""
        return self.has_selection() or bool(self.view.selected_wires())

    def has_one_node(self) -> bool:
        """Whether exactly one node is selected."""
        return len(self.view.selected_ids()) == 1

    def has_group_selected(self) -> bool:
        """Whether a group (or composite block) is among the selected nodes."""
        return any(node.body is not None for node in self.selected_nodes())

    def can_open_group(self) -> bool:
        """Whether exactly one node is selected and it is a group."""
        nodes = self.selected_nodes()
        return len(nodes) == 1 and nodes[0].body is not None

    def can_leave_group(self) -> bool:
        """Whether the canvas shows a group's body (there is a level above)."""
        return self.view.current_graph.parent is not None

    def all_frozen(self) -> bool:
        """Whether nodes are selected and every one of them is frozen."""
        nodes = self.selected_nodes()
        return bool(nodes) and all(node.frozen for node in nodes)

    def select_all(self) -> None:
        """Select every node of the graph shown."""
        self.view.select_all()

    # -- history ---------------------------------------------------------------------------
    def can_undo(self) -> bool:
        """Whether there is an edit to undo."""
        return self.document.history.can_undo

    def can_redo(self) -> bool:
        """Whether there is an undone edit to redo."""
        return self.document.history.can_redo

    def undo_label(self) -> str:
        """``&Undo`` and the name of the edit it would undo."""
        return f"&Undo {self.document.history.undo_text}".rstrip()

    def redo_label(self) -> str:
        """``&Redo`` and the name of the edit it would redo."""
        return f"&Redo {self.document.history.redo_text}".rstrip()

    def undo(self) -> None:
        """Undo the last edit."""
        text = self.document.history.undo_text
        if self.document.undo():
            self._report(f"Undid {text}", _SHORT)

    def redo(self) -> None:
        """Redo the edit just undone."""
        text = self.document.history.redo_text
        if self.document.redo():
            self._report(f"Redid {text}", _SHORT)

    # -- clipboard --------------------------------------------------------------------------
    def copy(self) -> bool:
        """Copy the selected nodes (and the wires among them) to the system clipboard."""
        selection = self._one_level("copy")
        if selection is None or not selection[1]:
            return False
        graph, nodes = selection
        try:
            data = copy_nodes(graph, [n.id for n in nodes])
        except NetBuilderError as error:
            self._report(f"Cannot copy: {error}")
            return False
        if data is None:
            return False
        self._paste_memory = (json.dumps(data, sort_keys=True), 0)
        self._report(f"Copied {_plural(len(nodes), 'node')}", _SHORT)
        return True

    def cut(self) -> None:
        """Copy the selected nodes, then delete them (one undo step for the delete)."""
        if self.copy():
            self.delete_selected()

    def paste(self) -> list[str]:
        """Paste the clipboard's nodes into the graph shown, offset from where they were."""
        data = clipboard_fragment()
        if data is None:
            self._report("The clipboard holds no NetBuilder nodes", _SHORT)
            return []
        key = json.dumps(data, sort_keys=True)
        count = self._paste_memory[1] + 1 if self._paste_memory[0] == key else 1
        self._paste_memory = (key, count)
        return self.insert_fragment(data, offset=(PASTE_STEP * count, PASTE_STEP * count))

    def duplicate(self) -> list[str]:
        """Copy the selection in place, shifted a little (the clipboard is left alone)."""
        selection = self._one_level("duplicate")
        if selection is None or not selection[1]:
            return []
        graph, nodes = selection
        data = serialize.fragment_to_dict(graph, [n.id for n in nodes])
        return self.insert_fragment(data, offset=(PASTE_STEP, PASTE_STEP), level=graph)

    def insert_fragment(self, data: dict[str, Any], at: tuple[float, float] | None = None,
                        offset: tuple[float, float] | None = None,
                        level: Graph | None = None) -> list[str]:
        """Insert fragment ``data`` as one undo step and select what was inserted.

        Args:
            data: Fragment data (clipboard or user block).
            at: Where its top-left corner goes (default: ``offset`` from where it was,
                or the middle of the canvas when no offset is given).
            offset: Shift from the positions stored in the fragment.
            level: The graph level to insert into (default: the one shown).
        """
        if at is None and offset is None:
            center = self.view.mapToScene(self.view.viewport().rect().center())
            at = (center.x(), center.y())
        try:
            ids = paste_fragment(self.document, level or self.view.current_graph, data,
                                 offset or (0.0, 0.0), at)
        except NetBuilderError as error:
            self._report(f"Cannot paste: {error}")
            return []
        self.view.select(ids)
        return ids

    # -- structure ---------------------------------------------------------------------------
    def delete_selected(self) -> None:
        """Delete the selected nodes and wires of every level shown (one undo step)."""
        nodes, wires = self.view.selected_by_level(), self.view.selected_wires()
        steps = [step for level in dict.fromkeys([*nodes, *wires])
                 if (step := editing.delete_command(level, nodes.get(level, []),
                                                    wires.get(level, []))) is not None]
        if len(steps) == 1:
            self.document.push(steps[0])
        elif steps:
            count = sum(map(len, nodes.values())) + sum(map(len, wires.values()))
            self.document.push(commands.Macro(f"Delete {count} items", steps))

    def group_selected(self) -> str:
        """Group the selected nodes, in the level they lie in (one undo step).

        Returns:
            The new group's id (selected), or ``""`` when nothing was grouped: nothing
            selected, or a refusal (reported), e.g. nodes of different levels.
        """
        selection = self._one_level("group")
        if selection is None or not selection[1]:
            return ""
        level, nodes = selection
        try:
            command, group_id = editing.group_command(level, [n.id for n in nodes])
        except GraphError as error:
            self._report(error.message)
            return ""
        self.document.push(self.view.edits.with_room_after_grouping(
            command, level, [n.id for n in nodes]))
        self.view.select([group_id])
        return group_id

    def ungroup_selected(self) -> list[str]:
        """Dissolve every selected group, on every level (one undo step each).

        Returns:
            The ids of the freed nodes (selected).
        """
        freed: list[str] = []
        for level, ids in self.view.selected_by_level().items():
            nodes = [node for i in ids if (node := level.nodes.get(i)) is not None]
            for group_id in [node.id for node in nodes if node.body is not None]:
                try:
                    command, inner = editing.ungroup_command(level, group_id)
                except GraphError as error:
                    self._report(error.message)
                    continue
                self.document.push(command)
                freed += inner
        if freed:
            self.view.select(freed)
        return freed

    def open_group(self, node_id: str | None = None) -> bool:
        """Show a group's body in the canvas (the selected group by default)."""
        if node_id is None:
            if not self.can_open_group():
                return False
            node_id = self.selected_nodes()[0].id
        return self.view.open_group(node_id)

    def leave_group(self) -> bool:
        """Go back up to the graph around the group shown."""
        return self.view.close_group()

    # -- node attributes ---------------------------------------------------------------------
    def rename_selected(self) -> None:
        """Ask for the selected node's new name (:attr:`renameRequested`)."""
        ids = self.view.selected_ids()
        if len(ids) != 1:
            self._report("Select one node to rename it", _SHORT)
            return
        self.renameRequested.emit(ids[0])

    def toggle_freeze(self) -> None:
        """Freeze the selected nodes, or unfreeze them when all are frozen."""
        self.set_frozen(not self.all_frozen())

    def set_frozen(self, frozen: bool) -> None:
        """Freeze (or unfreeze) the selected nodes of every level, as one undo step."""
        changes = [commands.SetAttribute(level, node_id, "frozen", frozen)
                   for level, ids in self.view.selected_by_level().items() for node_id in ids
                   if level.nodes[node_id].frozen != frozen]
        if not changes:
            return
        verb = "Freeze" if frozen else "Unfreeze"
        text = changes[0].text if len(changes) == 1 else f"{verb} {len(changes)} nodes"
        self.document.push(commands.Macro(text, changes))

    def save_user_block(self, name: str | None = None) -> str | None:
        """Save the selection as a user block (asking for a name); return its name."""
        selection = self._one_level("save")
        if selection is None or not selection[1] or self.save_block is None:
            if selection is not None:
                self._report("Select the nodes to save as a user block", _SHORT)
            return None
        graph, nodes = selection
        if name is None:
            suggestion = nodes[0].name if len(nodes) == 1 else "my_block"
            name, ok = QInputDialog.getText(self, "Save as User Block", "Name in the palette:",
                                            text=suggestion)
            if not ok or not name.strip():
                return None
        stored = self.save_block(name, serialize.fragment_to_dict(graph, [n.id for n in nodes]))
        self._report(f"Saved user block {stored}", _SHORT)
        return stored

    def add_block(self, key: str) -> str | None:
        """Add a ``key`` block in the middle of the canvas and select it (None: refused)."""
        return self.view.edits.add_block(key) or None

    # -- the view ------------------------------------------------------------------------------
    def fit(self) -> None:
        """Zoom to show the whole graph."""
        self.view.fit()

    def zoom_in(self) -> None:
        """Zoom in one step."""
        self.view.zoom_by(1.25)

    def zoom_out(self) -> None:
        """Zoom out one step."""
        self.view.zoom_by(0.8)

    def auto_layout(self) -> None:
        """Arrange the graph shown in tidy layers (one undo step)."""
        self.view.edits.auto_layout()

    def fold_columns(self) -> bool:
        """Whether Auto Layout folds long chains into columns that fit the window."""
        return self._fold_columns

    def toggle_fold_columns(self) -> None:
        """Turn column folding on or off and arrange the graph shown again (one step)."""
        self.set_fold_columns(not self._fold_columns)

    def set_fold_columns(self, fold: bool, *, arrange: bool = True) -> None:
        """Fold long chains into columns (or not) in Auto Layout.

        Args:
            fold: Fold long chains.
            arrange: Arrange the graph shown now with the new setting (one undo step).
        """
        self._fold_columns = fold
        self.view.edits.fold = fold
        if arrange:
            self.auto_layout()
        self.edit_actions.refresh()

    def quick_add(self) -> None:
        """Open the quick-add search box on the canvas."""
        self.view.setFocus()
        self.view.quick_add()

    def show_start_view(self) -> None:
        """Fit the graph, but no smaller than every text is readable: then show its top."""
        self.view.fit(READABLE_ZOOM)

    def reveal_node(self, node_id: str) -> None:
        """Show the graph level holding ``node_id`` and select the node."""
        try:
            graph, _node = self.document.graph.find(node_id)
        except UnknownNodeError:
            return
        owners: list[str] = []
        level = graph
        while level.owner is not None and level.parent is not None:
            owners.insert(0, level.owner.id)
            level = level.parent
        if self.view.current_graph is not graph:
            while self.view.close_group():
                pass
            for owner in owners:
                self.view.open_group(owner)
        self.view.select([node_id])

    def set_dark(self, dark: bool | None) -> None:
        """Force the dark (True) or light (False) canvas, or follow the system (None).

        The minimap redraws itself in the new colours (the scene says it was refreshed).
        """
        self._forced_dark = dark
        self.view.set_dark(dark)

    # -- minimap ---------------------------------------------------------------------------
    def minimap_enabled(self) -> bool:
        """Whether the minimap is on (it shows itself when the diagram does not fit)."""
        return self._minimap is not None

    def toggle_minimap(self) -> None:
        """Turn the minimap on or off."""
        self.set_minimap_enabled(not self.minimap_enabled())

    def set_minimap_enabled(self, enabled: bool) -> None:
        """Turn the minimap on or off."""
        if enabled and self._minimap is None:
            self._minimap = Minimap(self.view, self)
            self._place_minimap()
        elif not enabled and self._minimap is not None:
            # at once: a deferred deletion would leave it drawn (and following its view)
            # until the event loop next runs
            shiboken6.delete(self._minimap)
            self._minimap = None
        self.edit_actions.refresh()

    def _place_minimap(self) -> None:
        """Keep the minimap in the canvas's bottom-right corner, above the view."""
        if self._minimap is None:
            return
        margin, area = 12, self.rect()
        self._minimap.move(area.right() - self._minimap.width() - margin,
                           area.bottom() - self._minimap.height() - margin)
        self._minimap.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_minimap()

    # -- context menu and drops -----------------------------------------------------------------
    def show_context_menu(self, ids: list[str], pos: QPoint) -> QMenu:
        """Pop up the canvas menu (node commands when nodes are selected) at ``pos``."""
        self.edit_actions.refresh()
        menu = QMenu(self)
        menu.setObjectName("canvasContextMenu")
        menu.setAccessibleName("Canvas menu")
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        fill(menu, NODE_MENU if ids else CANVAS_MENU, self.edit_actions.entries())
        menu.popup(pos)
        return menu

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Accept fragment drops (user blocks) on the canvas."""
        if watched is self.view.viewport() and isinstance(event, QDropEvent):
            mime = event.mimeData()
            if mime is not None and mime.hasFormat(MIME_FRAGMENT):
                if event.type() == QEvent.Type.Drop:
                    self._drop_fragment(event)
                event.acceptProposedAction()
                return True
        return super().eventFilter(watched, event)

    def _drop_fragment(self, event: QDropEvent) -> None:
        data = fragment_from_mime(event.mimeData())
        if data is not None:
            pos = self.view.mapToScene(event.position().toPoint())
            self.insert_fragment(data, (pos.x(), pos.y()))


__all__ = ["PASTE_STEP", "READABLE_ZOOM", "NetworkEditor", "SaveBlock"]
