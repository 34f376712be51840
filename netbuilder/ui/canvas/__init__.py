"""The node-graph canvas: a ``QGraphicsView`` over the document's graph model.

Contract with the editor
========================

:class:`~netbuilder.ui.editor.NetworkEditor` hosts the view; it holds the commands on the
selection (delete, group, clipboard...) and the actions whose keys act on the canvas.

``GraphView(document: netbuilder.core.document.Document, parent=None)``
    Shows ``document.graph``, or a group's body after ``open_group(node_id)``;
    ``close_group()`` goes back up; ``current_graph`` is the level shown.

Signals
    ``selectionChanged(list)``
        Ids of the selected nodes (model order), emitted when the selected nodes or wires
        change.
    ``nodeActivated(str)``
        A node was double-clicked (a group is also opened).
    ``statusMessage(str)``
        Why an edit was refused, e.g. ``"connecting c to a would make a cycle"``.
    ``contextMenuRequested(list, QPoint)``
        Right click: the selected node ids (the clicked node is selected first) and the
        global position for ``QMenu.exec``.
    ``currentGraphChanged(list)``
        Names of the groups from the root to the shown level (for a breadcrumb).
    ``zoomChanged(float)``
        The new scale, 1.0 being 100 %.

Methods
    ``selected_ids() -> list[str]`` (may include nodes of groups expanded in place:
    ``view.graph_scene.level_of(id)`` is the graph holding a node),
    ``selected_by_level()`` and ``selected_wires()`` (graph level → node ids, wires),
    ``select(ids)``, ``select_all()``, ``fit(min_scale=FIT_MIN_SCALE)`` (the whole
    diagram, but never smaller than node names are readable: then the selection or the
    top of the diagram; ``fit(MIN_SCALE)`` shows everything), ``zoom_by(factor)``,
    ``zoom`` (property), ``quick_add()`` (Tab, or double-click on empty canvas),
    ``empty_hint()`` (what the empty canvas says),
    ``grab_image(scale) -> QImage``, ``set_dark(bool | None)``, ``cancel_interaction()``,
    ``set_node_flags({node_id: "vanishing" | "exploding"})`` (a badge on each node whose
    gradients vanish or explode during training; ``{}`` clears them).

Gesture edits (``view.edits``, a :class:`~netbuilder.ui.canvas.gesture_edits.GestureEdits`)
    ``add_block(key, scene_pos=None) -> str`` (dropped on a wire: inserted into it, one
    undo step; returns ``""`` and emits ``statusMessage`` when refused),
    ``add_block_after(key, source_id) -> str``, ``auto_layout()`` (one ``MoveNodes``
    step; long chains folded into columns that fit the view while ``fold`` is on),
    ``set_expanded(node_id, bool) -> bool`` (a ``SetAttribute(collapsed)`` step with the
    moves that make room around the frame), ``with_room_after_grouping(command, level,
    ids)`` (a grouping and the moves closing its gap, one step), ``move_command(moves)``.

Semantic zoom
    A node shows what can be read at the view's scale, never a text under 9 px: its full
    view from 75 %, its name and shape from 56 %, below that a bar labelled in device
    pixels (:mod:`netbuilder.ui.canvas.node_item`).

Groups
    A group is drawn as one box (its ports, type, key parameters, output shape) with a
    ▸ chevron; clicking the chevron expands it in place (``collapsed = False``): a frame
    holds its body, editable where it is (move, wire, delete, drop blocks into it), and
    the ▾ chevron of the frame collapses it. Double-click opens a group on its own.

Drag and drop
    Mime type ``application/x-netbuilder-block`` (:data:`BLOCK_MIME`), data = the block
    key in UTF-8. Dropped on a wire, the block is inserted into it.

Keys handled by the view
    Wheel zoom (anchored under the mouse), middle-drag or Space+drag pan, Escape cancels
    the gesture (or clears the selection), Tab quick add. Every other key (F, Delete,
    Ctrl+A, +/-...) is an action of :mod:`netbuilder.ui.action_table`, bound once.

Every edit goes through ``document.push(command)``; moves are one ``MoveNodes`` per drag
(pushed on release, then ``history.seal()``). The scene mirrors the model's events and
never changes the model.

``Minimap(view, parent=None)`` is an overview; with no parent it floats in the view's
bottom-right corner and shows itself only when the diagram does not fit.

:mod:`netbuilder.ui.render` renders a document to PNG or SVG without a window.
"""

from __future__ import annotations

from netbuilder.ui.canvas.minimap import Minimap
from netbuilder.ui.canvas.scene import GraphScene
from netbuilder.ui.canvas.style import CanvasStyle, current_style, style_for
from netbuilder.ui.canvas.view import BLOCK_MIME, GraphView

__all__ = ["BLOCK_MIME", "CanvasStyle", "GraphScene", "GraphView", "Minimap",
           "current_style", "style_for"]
