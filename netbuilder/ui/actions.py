"""Actions as data: one row per action; QActions, menus and toolbars are made from rows.

In napari's style, an :class:`ActionSpec` row holds everything about one action: its
text, the callable it runs, its shortcuts, the predicates that enable, check or show it,
and the places (:class:`Place`) where it appears — menus, toolbars, context menus. The
rows themselves are in :mod:`netbuilder.ui.action_table`, one section per object that
runs them (the editor, the file and model controllers, the window, the training
launcher). An :class:`ActionSet` turns the rows of one section into ``QAction`` objects
bound to that object; :func:`fill` lays out a menu or toolbar from the places of every
set, so a key is bound once, a menu entry is listed once, and an enabled state lives in
its row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMenu, QMenuBar, QToolBar, QWidget

from netbuilder.ui.icons import action_icon

T = TypeVar("T")

#: Scopes of an action's shortcuts: the whole window, or only while the canvas (the
#: editor widget or a child of it) has the focus — for keys that would steal typing from
#: text fields (Delete, F).
WINDOW, CANVAS = "window", "canvas"

# Places: menus of the menu bar, submenus, toolbars and context menus.
FILE, EDIT, VIEW, TRAIN, HELP = "file", "edit", "view", "train", "help"
THEME = "theme"
TOOLBAR = "toolbar"
#: Context menu of the canvas with nodes selected, and with none.
NODE_MENU, CANVAS_MENU = "node_menu", "canvas_menu"
#: The run controls above the training panels, and the fault banner's buttons.
RUN_BAR, FAULT_BANNER = "run_bar", "fault_banner"
#: The menu bar: place and title of each menu, left to right.
MENU_BAR: tuple[tuple[str, str], ...] = (
    (FILE, "&File"), (EDIT, "&Edit"), (VIEW, "&View"), (TRAIN, "T&rain"), (HELP, "&Help"))


@dataclass(frozen=True)
class Place:
    """Where an action (or a submenu) appears.

    Attributes:
        menu: The menu, toolbar or context menu (``"edit"``, ``"toolbar"``...).
        group: Separators fall between groups; groups are laid out in rising order.
        order: Position within the group.
    """

    menu: str
    group: int = 0
    order: int = 0


@dataclass(frozen=True)
class ActionSpec(Generic[T]):
    """One action: what it says, what it runs, which keys run it, where it appears.

    Attributes:
        name: Key in the action tables (``undo``); the QAction is named ``actionUndo``.
        text: Menu text, with ``&`` mnemonic.
        tip: Status tip (and the tooltip after the name and first shortcut).
        callback: What the action runs, given the object the action set is bound to.
        shortcuts: Key sequences, the first one shown in the menu.
        canvas_keys: More keys, acting only while the canvas has the focus (not shown).
        icon: Makes the icon (called again after a theme change); none: no icon.
        scope: :data:`WINDOW`, or :data:`CANVAS` for shortcuts that only act while the
            canvas has the focus.
        enabled: Whether the action applies now (none: always).
        checked: Whether a toggle is on now; the action is checkable when given.
        visible: Whether the action is shown now (none: always).
        label: The menu text now, when it changes (``&Undo Add conv1``).
        places: Menus, toolbars and context menus the action appears in.
    """

    name: str
    text: str
    tip: str
    callback: Callable[[T], object]
    shortcuts: tuple[str, ...] = ()
    canvas_keys: tuple[str, ...] = ()
    icon: Callable[[], QIcon] | None = None
    scope: str = WINDOW
    enabled: Callable[[T], bool] | None = None
    checked: Callable[[T], bool] | None = None
    visible: Callable[[T], bool] | None = None
    label: Callable[[T], str] | None = None
    places: tuple[Place, ...] = ()

    @property
    def object_name(self) -> str:
        """``save_as`` → ``actionSaveAs``."""
        return "action" + "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key sequence that runs the action (shortcuts and canvas keys)."""
        return self.shortcuts + self.canvas_keys


#: An action or submenu and one place where it appears.
Entry = tuple[Place, QAction | QMenu]


def glyph(name: str) -> Callable[[], QIcon]:
    """An icon maker for the monochrome glyph ``name`` of :mod:`netbuilder.ui.icons`."""
    return partial(action_icon, name)


def make_action(spec: ActionSpec[T], parent: QObject) -> QAction:
    """A ``QAction`` for ``spec`` (not yet connected)."""
    action = QAction(spec.text, parent)
    action.setObjectName(spec.object_name)
    action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
    keys = f" ({spec.shortcuts[0]})" if spec.shortcuts else ""
    action.setToolTip(f"{spec.text.replace('&', '').rstrip('…')}{keys}: {spec.tip}")
    action.setStatusTip(spec.tip)
    action.setCheckable(spec.checked is not None)
    if spec.icon is not None:
        action.setIcon(spec.icon())
    if spec.scope == CANVAS:
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    return action


class ActionSet(Generic[T]):
    """The QActions of some rows, bound to the object their callbacks act on.

    Triggering an action runs its row's callback with the target, then re-reads every
    row's predicates (:meth:`refresh`); the owner also calls :meth:`refresh` whenever
    what the predicates read changes.
    """

    def __init__(self, specs: Sequence[ActionSpec[T]], target: T, parent: QObject) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.target = target
        self.actions = {spec.name: make_action(spec, parent) for spec in specs}
        self.shortcuts: list[QShortcut] = []
        for spec in specs:
            self.actions[spec.name].triggered.connect(partial(self._run, spec))
        self.refresh()

    def __getitem__(self, name: str) -> QAction:
        return self.actions[name]

    def __contains__(self, name: object) -> bool:
        return name in self.actions

    def __iter__(self) -> Iterator[str]:
        return iter(self.actions)

    def _run(self, spec: ActionSpec[T], _checked: bool = False) -> None:
        spec.callback(self.target)
        self.refresh()

    def refresh(self) -> None:
        """Enable, check, show and label every action as its row's predicates say now."""
        for name, spec in self.specs.items():
            action = self.actions[name]
            if spec.enabled is not None:
                action.setEnabled(bool(spec.enabled(self.target)))
            if spec.checked is not None:
                action.setChecked(bool(spec.checked(self.target)))
            if spec.visible is not None:
                action.setVisible(bool(spec.visible(self.target)))
            if spec.label is not None:
                action.setText(spec.label(self.target))

    def refresh_icons(self) -> None:
        """Redraw the icons in the current palette's colours (after a theme change)."""
        for name, spec in self.specs.items():
            if spec.icon is not None:
                self.actions[name].setIcon(spec.icon())

    def bind_keys(self, widget: QWidget) -> None:
        """Make the shortcuts work in ``widget``: canvas-scoped ones only while it (or a
        child) has the focus; canvas keys as shortcuts of ``widget``."""
        widget.addActions(list(self.actions.values()))
        for name, spec in self.specs.items():
            for key in spec.canvas_keys:
                shortcut = QShortcut(QKeySequence(key), widget)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(self.actions[name].trigger)
                self.shortcuts.append(shortcut)

    def entries(self) -> list[Entry]:
        """Every place of every action, with the action."""
        return [(place, self.actions[name])
                for name, spec in self.specs.items() for place in spec.places]

    def placed(self, menu: str) -> list[QAction]:
        """The actions that appear in ``menu``, in their order (separators left out)."""
        return [action for _place, action in _sorted(self.entries(), menu)
                if isinstance(action, QAction)]


def _sorted(entries: Iterable[Entry], menu: str) -> list[Entry]:
    return sorted((e for e in entries if e[0].menu == menu),
                  key=lambda e: (e[0].group, e[0].order))


def fill(container: QMenu | QToolBar, menu: str, entries: Iterable[Entry]) -> None:
    """Add the entries placed in ``menu`` to ``container``, separators between groups."""
    group: int | None = None
    for place, item in _sorted(entries, menu):
        if group is not None and place.group != group:
            container.addSeparator()
        group = place.group
        if isinstance(item, QMenu):
            container.addAction(item.menuAction())
        else:
            container.addAction(item)


def named_menu(title: str, key: str, parent: QWidget) -> QMenu:
    """An empty menu named ``menu<Key>`` for tests and assistive tools."""
    menu = QMenu(title, parent)
    menu.setObjectName(f"menu{key.capitalize()}")
    menu.setAccessibleName(f"{key.capitalize()} menu")
    return menu


def build_menu_bar(bar: QMenuBar, entries: Sequence[Entry],
                   about_to_show: Callable[[], None]) -> dict[str, QMenu]:
    """Fill the menu bar with the menus of :data:`MENU_BAR`; return them by place."""
    menus: dict[str, QMenu] = {}
    for key, title in MENU_BAR:
        menu = named_menu(title, key, bar)
        bar.addMenu(menu)
        menu.aboutToShow.connect(about_to_show)
        fill(menu, key, entries)
        menus[key] = menu
    return menus


def build_toolbar(window: QMainWindow, entries: Sequence[Entry]) -> QToolBar:
    """The main toolbar, each button named ``toolButton<Action>``."""
    bar = QToolBar("Main toolbar", window)
    bar.setObjectName("mainToolBar")
    bar.setAccessibleName("Main toolbar")
    bar.setMovable(False)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    fill(bar, TOOLBAR, entries)
    for action in bar.actions():
        button = bar.widgetForAction(action)
        if button is not None and not action.isSeparator():
            button.setObjectName(f"toolButton{action.objectName()[len('action'):]}")
            button.setAccessibleName(action.text().replace("&", "").rstrip("…"))
    return bar
