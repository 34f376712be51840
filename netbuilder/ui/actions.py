"""Every menu and toolbar action of the main window, declared as data.

Each row of :data:`ACTIONS` names the action (its object name is ``action`` + the name in
CamelCase), its text, shortcuts, status tip and icon, and the window method it calls.
:func:`create_actions` turns the rows into ``QAction`` objects; :func:`build_menus` and
:func:`build_toolbar` lay them out. Actions whose keys would steal typing from text
fields (Delete, F) are scoped to the canvas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMenuBar, QToolBar

from netbuilder.ui.icons import action_icon

WINDOW, CANVAS = "window", "canvas"


@dataclass(frozen=True)
class ActionSpec:
    """One action.

    Attributes:
        name: Key in the window's action table (``undo``); object name ``actionUndo``.
        text: Menu text, with ``&`` mnemonic.
        tip: Status tip and tooltip.
        slot: Name of the window method ``triggered`` calls (none: connected elsewhere).
        shortcuts: Key sequences, the first one shown in the menu.
        icon: Glyph name in :mod:`netbuilder.ui.icons` (none: no icon).
        checkable: Whether it is a toggle.
        scope: ``"window"``, or ``"canvas"`` for keys that only act while the canvas has
            the focus.
        enabled_when: Name of a window method telling whether the action applies (checked
            when the action is made and whenever its menu opens); none: always enabled.
    """

    name: str
    text: str
    tip: str
    slot: str = ""
    shortcuts: tuple[str, ...] = ()
    icon: str = ""
    checkable: bool = False
    scope: str = WINDOW
    enabled_when: str = ""


ACTIONS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec("new", "&New", "Start a new, empty network", "file_new", ("Ctrl+N",), "new"),
    ActionSpec("new_window", "New &Window", "Open another editor window", "file_new_window",
               ("Ctrl+Shift+N",)),
    ActionSpec("open", "&Open…", "Open a NetBuilder project file", "file_open", ("Ctrl+O",),
               "open"),
    ActionSpec("open_template", "Open &Template…",
               "Start from a classic architecture (LeNet, AlexNet, VGG, ResNet…)",
               "file_open_template", ("Ctrl+Shift+T",), "templates"),
    ActionSpec("save", "&Save", "Save the project", "file_save", ("Ctrl+S",), "save"),
    ActionSpec("save_as", "Save &As…", "Save the project under a new name", "file_save_as",
               ("Ctrl+Shift+S",)),
    ActionSpec("export_png", "Export Diagram as &PNG…",
               "Save a picture of the network as a PNG image", "file_export_png",
               ("Ctrl+E",), "export"),
    ActionSpec("export_svg", "Export Diagram as S&VG…",
               "Save the network as a scalable SVG drawing", "file_export_svg"),
    ActionSpec("import_model", "&Import PyTorch Model…",
               "Trace a PyTorch model (torchvision or your own) into an editable network "
               "with its weights", "file_import_model", ("Ctrl+Shift+I",)),
    ActionSpec("init_pretrained", "Initialise From &Pretrained Weights…",
               "Load torchvision's weights (cached, or a file you choose) into this template",
               "file_init_pretrained", enabled_when="can_init_pretrained"),
    ActionSpec("transfer_learning", "Transfer &Learning…",
               "Freeze every layer but a fresh classifier head for a new number of classes",
               "file_transfer_learning"),
    ActionSpec("export_source", "Export P&ython Source…",
               "Save the network as a standalone PyTorch file (one nn.Module class)",
               "file_export_source"),
    ActionSpec("clear_recent", "&Clear Recent Files", "Forget the list of recent files",
               "clear_recent_files"),
    ActionSpec("close", "&Close Window", "Close this window", "close", ("Ctrl+W",)),
    ActionSpec("quit", "&Quit", "Close every window and quit NetBuilder", "quit_app",
               ("Ctrl+Q",)),
    # Edit
    ActionSpec("undo", "&Undo", "Undo the last edit", "edit_undo", ("Ctrl+Z",), "undo"),
    ActionSpec("redo", "&Redo", "Redo the edit just undone", "edit_redo",
               ("Ctrl+Shift+Z", "Ctrl+Y"), "redo"),
    ActionSpec("cut", "Cu&t", "Move the selected nodes to the clipboard", "edit_cut",
               ("Ctrl+X",), "cut"),
    ActionSpec("copy", "&Copy", "Copy the selected nodes to the clipboard", "edit_copy",
               ("Ctrl+C",), "copy"),
    ActionSpec("paste", "&Paste", "Paste nodes from the clipboard (also from another window)",
               "edit_paste", ("Ctrl+V",), "paste"),
    ActionSpec("duplicate", "D&uplicate", "Duplicate the selected nodes", "edit_duplicate",
               ("Ctrl+D",)),
    ActionSpec("delete", "&Delete", "Delete the selected nodes and their wires",
               "edit_delete", ("Delete", "Backspace"), "delete", scope=CANVAS),
    ActionSpec("select_all", "Select &All", "Select every node of the graph shown",
               "edit_select_all", ("Ctrl+A",)),
    ActionSpec("group", "&Group", "Put the selected nodes into a group", "edit_group",
               ("Ctrl+G",), "group"),
    ActionSpec("ungroup", "U&ngroup", "Dissolve the selected groups into their nodes",
               "edit_ungroup", ("Ctrl+Shift+G",), "ungroup"),
    ActionSpec("open_group", "&Open Group", "Show the selected group's body in the canvas",
               "edit_open_group", ("Ctrl+Return",)),
    ActionSpec("close_group", "&Leave Group", "Go back to the graph around this group",
               "edit_close_group", ("Ctrl+Backspace",)),
    ActionSpec("rename", "&Rename…", "Rename the selected node", "edit_rename", ("F2",),
               "rename"),
    ActionSpec("freeze", "&Freeze", "Keep the selected nodes' weights fixed during training",
               "edit_freeze", (), "freeze", checkable=True),
    ActionSpec("save_user_block", "Save Selection as &User Block…",
               "Add the selected nodes to the palette as a reusable block",
               "edit_save_user_block"),
    # View
    ActionSpec("fit", "Zoom to &Fit", "Show the whole graph", "view_fit", ("F",), "fit",
               scope=CANVAS),
    ActionSpec("zoom_in", "Zoom &In", "Zoom in", "view_zoom_in", ("Ctrl++", "Ctrl+="),
               "zoom_in"),
    ActionSpec("zoom_out", "Zoom &Out", "Zoom out", "view_zoom_out", ("Ctrl+-",),
               "zoom_out"),
    ActionSpec("auto_layout", "&Auto Layout", "Arrange the nodes in tidy layers",
               "view_auto_layout", ("Ctrl+L",), "layout"),
    ActionSpec("quick_add", "&Quick Add Block…",
               "Search for a block and add it at the cursor (Tab on the canvas)",
               "view_quick_add", ("Ctrl+K",)),
    ActionSpec("minimap", "&Minimap", "Show an overview of the whole graph in a corner",
               "view_toggle_minimap", ("Ctrl+M",), "minimap", checkable=True),
    ActionSpec("theme_system", "Follow &System", "Use the system's light or dark colours",
               "view_theme_system", checkable=True),
    ActionSpec("theme_light", "&Light", "Use light colours", "view_theme_light",
               checkable=True),
    ActionSpec("theme_dark", "&Dark", "Use dark colours", "view_theme_dark", checkable=True),
    # Help
    ActionSpec("about", "&About NetBuilder", "Version and licence of NetBuilder",
               "help_about"),
)

MENUS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("&File", ("new", "new_window", "open", "open_template", "import_model", "@recent", "-",
               "save", "save_as", "-", "init_pretrained", "transfer_learning", "-",
               "export_png", "export_svg", "export_source", "-", "close", "quit")),
    ("&Edit", ("undo", "redo", "-", "cut", "copy", "paste", "duplicate", "delete", "-",
               "select_all", "-", "group", "ungroup", "open_group", "close_group", "-",
               "rename", "freeze", "save_user_block")),
    ("&View", ("fit", "zoom_in", "zoom_out", "-", "auto_layout", "quick_add", "-", "@docks",
               "minimap", "-", "@theme")),
    ("&Help", ("about",)),
)

TOOLBAR = ("new", "open", "open_template", "save", "-", "undo", "redo", "-", "group",
           "ungroup", "-", "fit", "zoom_in", "zoom_out", "auto_layout")


def object_name(name: str) -> str:
    """``save_as`` → ``actionSaveAs``."""
    return "action" + "".join(part.capitalize() for part in name.split("_"))


def make_action(spec: ActionSpec, parent: QObject) -> QAction:
    """A ``QAction`` for ``spec`` (not yet connected)."""
    action = QAction(spec.text, parent)
    action.setObjectName(object_name(spec.name))
    action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
    keys = f" ({spec.shortcuts[0]})" if spec.shortcuts else ""
    action.setToolTip(f"{spec.text.replace('&', '').rstrip('…')}{keys}: {spec.tip}")
    action.setStatusTip(spec.tip)
    action.setCheckable(spec.checkable)
    if spec.icon:
        action.setIcon(action_icon(spec.icon))
    if spec.scope == CANVAS:
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    return action


def create_actions(window: QMainWindow) -> dict[str, QAction]:
    """Every action of :data:`ACTIONS`, connected to the window's methods."""
    table: dict[str, QAction] = {}
    for spec in ACTIONS:
        action = make_action(spec, window)
        if spec.slot:
            action.triggered.connect(_slot(window, spec))
        table[spec.name] = action
    refresh_enabled(window, table)
    return table


def refresh_enabled(window: QObject, table: dict[str, QAction]) -> None:
    """Enable each action with an ``enabled_when`` check as the check says now."""
    for spec in ACTIONS:
        check = getattr(window, spec.enabled_when, None) if spec.enabled_when else None
        if check is not None:
            table[spec.name].setEnabled(bool(check()))


def _slot(window: QMainWindow, spec: ActionSpec) -> Callable[[], object]:
    method = getattr(window, spec.slot)
    if spec.checkable:
        return lambda checked=False: method(checked)
    return lambda _checked=False: method()


def refresh_icons(table: dict[str, QAction]) -> None:
    """Redraw the monochrome icons in the current palette's colours (after a theme change)."""
    for spec in ACTIONS:
        if spec.icon:
            table[spec.name].setIcon(action_icon(spec.icon))


def canvas_actions(table: dict[str, QAction]) -> list[QAction]:
    """Actions whose shortcuts work only while the canvas has the focus."""
    return [table[spec.name] for spec in ACTIONS if spec.scope == CANVAS]


def build_menus(bar: QMenuBar, table: dict[str, QAction],
                specials: dict[str, QMenu | list[QAction]]) -> dict[str, QMenu]:
    """Fill the menu bar; ``@name`` rows insert ``specials[name]`` (a submenu or actions)."""
    menus: dict[str, QMenu] = {}
    for title, rows in MENUS:
        menu = bar.addMenu(title)
        key = title.replace("&", "").lower()
        menu.setObjectName(f"menu{key.capitalize()}")
        menu.setAccessibleName(f"{key.capitalize()} menu")
        menu.aboutToShow.connect(lambda: refresh_enabled(bar.window(), table))
        for row in rows:
            _add_row(menu, row, table, specials)
        menus[key] = menu
    return menus


def _add_row(menu: QMenu, row: str, table: dict[str, QAction],
             specials: dict[str, QMenu | list[QAction]]) -> None:
    if row == "-":
        menu.addSeparator()
    elif row.startswith("@"):
        special = specials.get(row[1:])
        if isinstance(special, QMenu):
            menu.addMenu(special)
        elif special:
            menu.addActions(special)
    else:
        menu.addAction(table[row])


def build_toolbar(window: QMainWindow, table: dict[str, QAction]) -> QToolBar:
    """The main toolbar (file, undo, grouping, zoom)."""
    bar = QToolBar("Main toolbar", window)
    bar.setObjectName("mainToolBar")
    bar.setAccessibleName("Main toolbar")
    bar.setMovable(False)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    for row in TOOLBAR:
        if row == "-":
            bar.addSeparator()
            continue
        action = table[row]
        bar.addAction(action)
        button = bar.widgetForAction(action)
        if button is not None:
            button.setObjectName(f"toolButton{action.objectName()[len('action'):]}")
            button.setAccessibleName(action.text().replace("&", "").rstrip("…"))
    return bar
