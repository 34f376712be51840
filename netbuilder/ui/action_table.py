"""The action table: every action of the editor window, one row each.

The table has one section per object the actions act on — :class:`FileController`
(``FILE_ACTIONS``), :class:`ModelsController` (``MODEL_ACTIONS``), the
:class:`NetworkEditor` (``EDIT_ACTIONS``: the Edit menu, the view commands and the canvas
context menus), the :class:`MainWindow` (``WINDOW_ACTIONS``) and the
:class:`TrainingLauncher` (``TRAINING_ACTIONS``); each object makes an
:class:`~netbuilder.ui.actions.ActionSet` of its section. :data:`ACTIONS` is the whole
table. Where each action appears is in its row (:class:`~netbuilder.ui.actions.Place`):
menus, toolbar, context menus and the training controls are all laid out from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netbuilder.ui.actions import (
    CANVAS,
    CANVAS_MENU,
    EDIT,
    FAULT_BANNER,
    FILE,
    HELP,
    NODE_MENU,
    RUN_BAR,
    THEME,
    TOOLBAR,
    TRAIN,
    VIEW,
    ActionSpec,
    Place,
    glyph,
)
from netbuilder.ui.measure import preflight_icon, profile_icon
from netbuilder.ui.training.common import run_icon

if TYPE_CHECKING:
    from netbuilder.ui.editor import NetworkEditor
    from netbuilder.ui.file_controller import FileController
    from netbuilder.ui.main_window import MainWindow
    from netbuilder.ui.models_controller import ModelsController
    from netbuilder.ui.training.launcher import TrainingLauncher

#: The three places every theme action appears in, by choice.
_THEMES = ("system", "light", "dark")

FILE_ACTIONS: tuple[ActionSpec[FileController], ...] = (
    ActionSpec("new", "&New", "Start a new, empty network", lambda f: f.new_document(),
               ("Ctrl+N",), icon=glyph("new"),
               places=(Place(FILE, 0, 0), Place(TOOLBAR, 0, 0))),
    ActionSpec("open", "&Open…", "Open a NetBuilder project file", lambda f: f.open_file(),
               ("Ctrl+O",), icon=glyph("open"),
               places=(Place(FILE, 0, 2), Place(TOOLBAR, 0, 1))),
    ActionSpec("open_template", "Open &Template…",
               "Start from a classic architecture (LeNet, AlexNet, VGG, ResNet…)",
               lambda f: f.choose_template(), ("Ctrl+Shift+T",), icon=glyph("templates"),
               places=(Place(FILE, 0, 3), Place(TOOLBAR, 0, 2))),
    ActionSpec("save", "&Save", "Save the project", lambda f: f.save(), ("Ctrl+S",),
               icon=glyph("save"), places=(Place(FILE, 1, 0), Place(TOOLBAR, 0, 3))),
    ActionSpec("save_as", "Save &As…", "Save the project under a new name",
               lambda f: f.save_as(), ("Ctrl+Shift+S",), places=(Place(FILE, 1, 1),)),
    ActionSpec("export_png", "Export Diagram as &PNG…",
               "Save a picture of the network as a PNG image", lambda f: f.export_png(),
               ("Ctrl+E",), icon=glyph("export"), places=(Place(FILE, 3, 0),)),
    ActionSpec("export_svg", "Export Diagram as S&VG…",
               "Save the network as a scalable SVG drawing", lambda f: f.export_svg(),
               places=(Place(FILE, 3, 1),)),
    # shown at the foot of the Open Recent submenu, which the controller fills
    ActionSpec("clear_recent", "&Clear Recent Files", "Forget the list of recent files",
               lambda f: f.clear_recent_files()),
)

MODEL_ACTIONS: tuple[ActionSpec[ModelsController], ...] = (
    ActionSpec("import_model", "&Import PyTorch Model…",
               "Trace a PyTorch model (torchvision or your own) into an editable network "
               "with its weights", lambda m: m.import_model(), ("Ctrl+Shift+I",),
               places=(Place(FILE, 0, 4),)),
    ActionSpec("init_pretrained", "Initialise From &Pretrained Weights…",
               "Load torchvision's weights (cached, or a file you choose) into this template",
               lambda m: m.init_pretrained(), enabled=lambda m: m.can_init_pretrained(),
               places=(Place(FILE, 2, 0),)),
    ActionSpec("transfer_learning", "Transfer &Learning…",
               "Freeze every layer but a fresh classifier head for a new number of classes",
               lambda m: m.transfer_learning(), places=(Place(FILE, 2, 1),)),
    ActionSpec("export_source", "Export P&ython Source…",
               "Save the network as a standalone PyTorch file (one nn.Module class)",
               lambda m: m.export_source(), places=(Place(FILE, 3, 2),)),
    ActionSpec("export_network", "Export &Network…",
               "Save the network as ONNX, a PyTorch ExportedProgram (.pt2), Python source or "
               "a training job folder for torchrun", lambda m: m.export_network(),
               places=(Place(FILE, 3, 3),)),
    ActionSpec("open_run", "Open &Run…",
               "Open a run trained from an exported job folder: its curves, weights and "
               "results", lambda m: m.open_run(), places=(Place(FILE, 0, 5),)),
)

EDIT_ACTIONS: tuple[ActionSpec[NetworkEditor], ...] = (
    # history
    ActionSpec("undo", "&Undo", "Undo the last edit", lambda e: e.undo(), ("Ctrl+Z",),
               icon=glyph("undo"), enabled=lambda e: e.can_undo(),
               label=lambda e: e.undo_label(),
               places=(Place(EDIT, 0, 0), Place(TOOLBAR, 1, 0))),
    ActionSpec("redo", "&Redo", "Redo the edit just undone", lambda e: e.redo(),
               ("Ctrl+Shift+Z", "Ctrl+Y"), icon=glyph("redo"), enabled=lambda e: e.can_redo(),
               label=lambda e: e.redo_label(),
               places=(Place(EDIT, 0, 1), Place(TOOLBAR, 1, 1))),
    # clipboard and deletion
    ActionSpec("cut", "Cu&t", "Move the selected nodes to the clipboard", lambda e: e.cut(),
               ("Ctrl+X",), icon=glyph("cut"), enabled=lambda e: e.has_selection(),
               places=(Place(EDIT, 1, 0), Place(NODE_MENU, 0, 0))),
    ActionSpec("copy", "&Copy", "Copy the selected nodes to the clipboard",
               lambda e: e.copy(), ("Ctrl+C",), icon=glyph("copy"),
               enabled=lambda e: e.has_selection(),
               places=(Place(EDIT, 1, 1), Place(NODE_MENU, 0, 1))),
    ActionSpec("paste", "&Paste", "Paste nodes from the clipboard (also from another window)",
               lambda e: e.paste(), ("Ctrl+V",), icon=glyph("paste"),
               places=(Place(EDIT, 1, 2), Place(NODE_MENU, 0, 2), Place(CANVAS_MENU, 0, 0))),
    ActionSpec("duplicate", "D&uplicate", "Duplicate the selected nodes",
               lambda e: e.duplicate(), ("Ctrl+D",), enabled=lambda e: e.has_selection(),
               places=(Place(EDIT, 1, 3), Place(NODE_MENU, 0, 3))),
    ActionSpec("delete", "&Delete", "Delete the selected nodes and their wires",
               lambda e: e.delete_selected(), ("Delete", "Backspace"), icon=glyph("delete"),
               scope=CANVAS, enabled=lambda e: e.can_delete(),
               places=(Place(EDIT, 1, 4), Place(NODE_MENU, 0, 4))),
    ActionSpec("select_all", "Select &All", "Select every node of the graph shown",
               lambda e: e.select_all(), ("Ctrl+A",),
               places=(Place(EDIT, 2, 0), Place(CANVAS_MENU, 1, 0))),
    # structure
    ActionSpec("group", "&Group", "Put the selected nodes into a group",
               lambda e: e.group_selected(), ("Ctrl+G",), icon=glyph("group"),
               enabled=lambda e: e.has_selection(),
               places=(Place(EDIT, 3, 0), Place(TOOLBAR, 2, 0), Place(NODE_MENU, 1, 0))),
    ActionSpec("ungroup", "U&ngroup", "Dissolve the selected groups into their nodes",
               lambda e: e.ungroup_selected(), ("Ctrl+Shift+G",), icon=glyph("ungroup"),
               enabled=lambda e: e.has_group_selected(),
               places=(Place(EDIT, 3, 1), Place(TOOLBAR, 2, 1), Place(NODE_MENU, 1, 1))),
    ActionSpec("open_group", "&Open Group", "Show the selected group's body in the canvas",
               lambda e: e.open_group(), ("Ctrl+Return",),
               enabled=lambda e: e.can_open_group(),
               places=(Place(EDIT, 3, 2), Place(NODE_MENU, 1, 2))),
    ActionSpec("close_group", "&Leave Group", "Go back to the graph around this group",
               lambda e: e.leave_group(), ("Ctrl+Backspace",),
               enabled=lambda e: e.can_leave_group(),
               places=(Place(EDIT, 3, 3), Place(CANVAS_MENU, 1, 4))),
    # node attributes
    ActionSpec("rename", "&Rename…", "Rename the selected node", lambda e: e.rename_selected(),
               ("F2",), icon=glyph("rename"), enabled=lambda e: e.has_one_node(),
               places=(Place(EDIT, 4, 0), Place(NODE_MENU, 2, 0))),
    ActionSpec("freeze", "&Freeze", "Keep the selected nodes' weights fixed during training",
               lambda e: e.toggle_freeze(), icon=glyph("freeze"),
               enabled=lambda e: e.has_selection(), checked=lambda e: e.all_frozen(),
               places=(Place(EDIT, 4, 1), Place(NODE_MENU, 2, 1))),
    ActionSpec("save_user_block", "Save Selection as &User Block…",
               "Add the selected nodes to the palette as a reusable block",
               lambda e: e.save_user_block(), enabled=lambda e: e.has_selection(),
               places=(Place(EDIT, 4, 2), Place(NODE_MENU, 2, 2))),
    # the view of the canvas
    ActionSpec("fit", "Zoom to &Fit", "Show the whole graph", lambda e: e.fit(), ("F",),
               icon=glyph("fit"), scope=CANVAS,
               places=(Place(VIEW, 0, 0), Place(TOOLBAR, 3, 0), Place(CANVAS_MENU, 1, 2))),
    ActionSpec("zoom_in", "Zoom &In", "Zoom in", lambda e: e.zoom_in(), ("Ctrl++", "Ctrl+="),
               canvas_keys=("+", "="), icon=glyph("zoom_in"),
               places=(Place(VIEW, 0, 1), Place(TOOLBAR, 3, 1))),
    ActionSpec("zoom_out", "Zoom &Out", "Zoom out", lambda e: e.zoom_out(), ("Ctrl+-",),
               canvas_keys=("-",), icon=glyph("zoom_out"),
               places=(Place(VIEW, 0, 2), Place(TOOLBAR, 3, 2))),
    ActionSpec("auto_layout", "&Auto Layout", "Arrange the nodes in tidy layers",
               lambda e: e.auto_layout(), ("Ctrl+L",), icon=glyph("layout"),
               places=(Place(VIEW, 1, 0), Place(TOOLBAR, 3, 3), Place(CANVAS_MENU, 1, 1))),
    ActionSpec("fold_columns", "&Fold Long Chains into Columns",
               "Auto Layout folds a long chain into columns that fit the window (toggling "
               "arranges the graph shown again, one undo step)",
               lambda e: e.toggle_fold_columns(), checked=lambda e: e.fold_columns(),
               places=(Place(VIEW, 1, 1),)),
    ActionSpec("quick_add", "&Quick Add Block…",
               "Search for a block and add it at the cursor (Tab on the canvas)",
               lambda e: e.quick_add(), ("Ctrl+K",),
               places=(Place(VIEW, 1, 2), Place(CANVAS_MENU, 0, 1))),
    ActionSpec("minimap", "&Minimap", "Show an overview of the whole graph in a corner",
               lambda e: e.toggle_minimap(), ("Ctrl+M",), icon=glyph("minimap"),
               checked=lambda e: e.minimap_enabled(), places=(Place(VIEW, 2, 3),)),
)


def _theme_action(choice: str, text: str, tip: str) -> ActionSpec[MainWindow]:
    return ActionSpec(f"theme_{choice}", text, tip, lambda w: w.set_theme(choice),
                      checked=lambda w: w.theme() == choice,
                      places=(Place(THEME, 0, _THEMES.index(choice)),))


WINDOW_ACTIONS: tuple[ActionSpec[MainWindow], ...] = (
    ActionSpec("new_window", "New &Window", "Open another editor window",
               lambda w: w.open_new_window(), ("Ctrl+Shift+N",), places=(Place(FILE, 0, 1),)),
    ActionSpec("close", "&Close Window", "Close this window", lambda w: w.close(), ("Ctrl+W",),
               places=(Place(FILE, 4, 0),)),
    ActionSpec("quit", "&Quit", "Close every window and quit NetBuilder",
               lambda w: w.quit_app(), ("Ctrl+Q",), places=(Place(FILE, 4, 1),)),
    _theme_action("system", "Follow &System", "Use the system's light or dark colours"),
    _theme_action("light", "&Light", "Use light colours"),
    _theme_action("dark", "&Dark", "Use dark colours"),
    ActionSpec("about", "&About NetBuilder", "Version and licence of NetBuilder",
               lambda w: w.show_about(), places=(Place(HELP, 0, 0),)),
    ActionSpec("profile", "&Profile", "Measure forward and backward time per node on the "
               "CPU and paint it on the canvas as a heat overlay",
               lambda w: w.profile_network(), icon=profile_icon,
               places=(Place(TRAIN, 3, 0), Place(TOOLBAR, 4, 1))),
    ActionSpec("save_trace", "Save Profiler &Trace…", "Profile again and save the trace "
               "for Perfetto (ui.perfetto.dev) or chrome://tracing",
               lambda w: w.save_profile_trace(), places=(Place(TRAIN, 3, 1),)),
    ActionSpec("preflight", "Pre-flight &Check", "Overfit one batch for 50 steps and say "
               "per node what looks wrong (dead ReLUs, vanishing gradients…)",
               lambda w: w.preflight_check(), icon=preflight_icon,
               places=(Place(TRAIN, 3, 2), Place(TOOLBAR, 4, 2))),
)

TRAINING_ACTIONS: tuple[ActionSpec[TrainingLauncher], ...] = (
    ActionSpec("train", "&Train", "Train the network with the training settings, watching "
               "it learn in the Training panel", lambda t: t.train(), ("Ctrl+R",),
               icon=lambda: run_icon("train"), enabled=lambda t: t.state() == "idle",
               places=(Place(TRAIN, 0, 0), Place(TOOLBAR, 4, 0), Place(RUN_BAR, 0, 0))),
    ActionSpec("pause", "&Pause", "Pause training before the next batch",
               lambda t: t.pause(), ("Ctrl+Shift+P",), icon=lambda: run_icon("pause"),
               enabled=lambda t: t.state() == "running",
               visible=lambda t: t.state() != "paused",
               places=(Place(TRAIN, 0, 1), Place(RUN_BAR, 0, 1))),
    ActionSpec("resume", "&Resume", "Go on training after a pause", lambda t: t.resume(),
               ("Ctrl+Shift+R",), icon=lambda: run_icon("resume"),
               enabled=lambda t: t.state() == "paused", visible=lambda t: t.state() == "paused",
               places=(Place(TRAIN, 0, 2), Place(RUN_BAR, 0, 2), Place(FAULT_BANNER, 0, 0))),
    ActionSpec("stop", "&Stop", "Stop training before the next batch (the last checkpoint "
               "is written)", lambda t: t.stop(), ("Ctrl+.",), icon=lambda: run_icon("stop"),
               enabled=lambda t: t.state() in ("preparing", "running", "paused"),
               places=(Place(TRAIN, 0, 3), Place(RUN_BAR, 0, 3), Place(FAULT_BANNER, 0, 1))),
    ActionSpec("tensorboard", "Write &TensorBoard Logs",
               "Runs write TensorBoard scalars, weight and gradient histograms and the graph "
               "into their checkpoint folder (tensorboard/)", lambda t: t.toggle_tensorboard(),
               checked=lambda t: t.tensorboard, places=(Place(TRAIN, 1, 0),)),
)

#: The whole table.
ACTIONS: tuple[ActionSpec[Any], ...] = (
    *FILE_ACTIONS, *MODEL_ACTIONS, *EDIT_ACTIONS, *WINDOW_ACTIONS, *TRAINING_ACTIONS)
