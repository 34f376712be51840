"""The block palette: every registered block, searchable, grouped by family, with icons.

Dragging a block carries its registry key as ``application/x-netbuilder-block``; the
canvas accepts that drop. Below the built-in families, a "User blocks" section lists
selections the user saved (fragment JSON kept in the user's application-data folder, one
file per block), which drag as ``application/x-netbuilder-fragment``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from netbuilder.core.registry import BlockRegistry, default_registry
from netbuilder.core.spec import BlockSpec
from netbuilder.ui.icons import action_icon, family_icon

MIME_BLOCK = "application/x-netbuilder-block"
MIME_FRAGMENT = "application/x-netbuilder-fragment"
USER_FAMILY = "User blocks"
USER_BLOCK_FORMAT = "netbuilder-user-block"

ROLE_KIND = Qt.ItemDataRole.UserRole + 1
ROLE_KEY = Qt.ItemDataRole.UserRole + 2
KIND_BLOCK, KIND_USER, KIND_FAMILY = "block", "user", "family"


# -- user blocks ------------------------------------------------------------------------
@dataclass(frozen=True)
class UserBlock:
    """A saved selection.

    Attributes:
        name: Name shown in the palette (unique in the store).
        fragment: Clipboard fragment data (``serialize.fragment_to_dict``).
        path: The file that holds it.
    """

    name: str
    fragment: dict[str, Any]
    path: Path

    @property
    def summary(self) -> str:
        """``3 nodes: conv1, bn1, relu1`` for tooltips."""
        names = [str(n.get("name", "?")) for n in self.fragment.get("nodes", [])]
        shown = ", ".join(names[:6]) + ("…" if len(names) > 6 else "")
        return f"{len(names)} node{'s' if len(names) != 1 else ''}: {shown}"


def default_user_blocks_dir() -> Path:
    """``<application data>/user_blocks``."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "user_blocks"


class UserBlockStore:
    """User blocks persisted as JSON files in a folder, one per block."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_user_blocks_dir()

    def blocks(self) -> list[UserBlock]:
        """Every readable user block, sorted by name (unreadable files are skipped)."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            block = self._read(path)
            if block is not None:
                found.append(block)
        return sorted(found, key=lambda b: b.name.lower())

    def get(self, name: str) -> UserBlock | None:
        """The block called ``name``, if any."""
        return next((b for b in self.blocks() if b.name == name), None)

    def add(self, name: str, fragment: dict[str, Any]) -> UserBlock:
        """Save ``fragment`` as ``name`` (replacing a block of the same name)."""
        name = name.strip()
        if not name:
            raise ValueError("a user block needs a name")
        existing = self.get(name)
        path = existing.path if existing else self._free_path(name)
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {"format": USER_BLOCK_FORMAT, "name": name, "fragment": fragment}
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
        return UserBlock(name, fragment, path)

    def remove(self, name: str) -> bool:
        """Delete the block called ``name``; return whether there was one."""
        block = self.get(name)
        if block is None:
            return False
        block.path.unlink(missing_ok=True)
        return True

    def _free_path(self, name: str) -> Path:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "block"
        path, k = self.directory / f"{stem}.json", 1
        while path.exists():
            k += 1
            path = self.directory / f"{stem}_{k}.json"
        return path

    @staticmethod
    def _read(path: Path) -> UserBlock | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != USER_BLOCK_FORMAT:
            return None
        name, fragment = data.get("name"), data.get("fragment")
        if not isinstance(name, str) or not isinstance(fragment, dict):
            return None
        return UserBlock(name, fragment, path)


# -- the tree ----------------------------------------------------------------------------
class PaletteTree(QTreeWidget):
    """The tree of blocks; dragging an item starts a block (or fragment) drag."""

    deleteRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("paletteTree")
        self.setAccessibleName("Blocks")
        self.setHeaderHidden(True)
        self.setRootIsDecorated(True)
        self.setIndentation(14)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setToolTip("Drag a block onto the canvas, or double-click it to add it")
        self.setStatusTip("Drag a block onto the canvas, or double-click it to add it")
        self.user_fragments: dict[str, dict[str, Any]] = {}

    def mimeTypes(self) -> list[str]:
        """The drag formats the palette produces."""
        return [MIME_BLOCK, MIME_FRAGMENT]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:  # type: ignore[override]
        """The drag payload of the first draggable item among ``items``."""
        mime = QMimeData()
        for item in items:
            data = mime_for_item(item, self.user_fragments)
            if data is not None:
                return data
        return mime

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Delete removes the current user block."""
        item = self.currentItem()
        if (event.key() == Qt.Key.Key_Delete and item is not None
                and item.data(0, ROLE_KIND) == KIND_USER):
            self.deleteRequested.emit(item.data(0, ROLE_KEY))
            return
        super().keyPressEvent(event)


def mime_for_item(item: QTreeWidgetItem,
                  fragments: dict[str, dict[str, Any]]) -> QMimeData | None:
    """The drag payload of a palette item (None for family headers)."""
    kind, key = item.data(0, ROLE_KIND), item.data(0, ROLE_KEY)
    mime = QMimeData()
    if kind == KIND_BLOCK:
        mime.setData(MIME_BLOCK, key.encode("utf-8"))
        mime.setText(key)
        return mime
    if kind == KIND_USER and key in fragments:
        mime.setData(MIME_FRAGMENT, json.dumps(fragments[key]).encode("utf-8"))
        return mime
    return None


# -- the panel ---------------------------------------------------------------------------
class BlockPalette(QWidget):
    """Search box and block tree.

    Signals:
        blockActivated(str): a block was double-clicked or chosen with Enter.
        userBlockActivated(dict): a user block was activated; its fragment data.
    """

    blockActivated = Signal(str)
    userBlockActivated = Signal(dict)

    def __init__(self, registry: BlockRegistry | None = None,
                 store: UserBlockStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("blockPalette")
        self.setAccessibleName("Block palette")
        self.registry = registry if registry is not None else default_registry()
        self.store = store if store is not None else UserBlockStore()
        self.search = self._make_search()
        self.tree = PaletteTree(self)
        self.tree.itemActivated.connect(self._activated)
        self.tree.deleteRequested.connect(self.delete_user_block)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._user_root: QTreeWidgetItem | None = None
        self.rebuild()

    def _make_search(self) -> QLineEdit:
        search = QLineEdit(self)
        search.setObjectName("paletteSearch")
        search.setAccessibleName("Search blocks")
        search.setPlaceholderText("Search blocks…")
        search.setClearButtonEnabled(True)
        search.setToolTip("Filter blocks by name, type or description")
        search.setStatusTip("Type to filter the blocks; Enter adds the first match")
        search.textChanged.connect(self.filter)
        search.returnPressed.connect(self._add_first_match)
        return search

    # -- content ---------------------------------------------------------------------
    def rebuild(self) -> None:
        """Fill the tree from the registry and the user-block store."""
        self.tree.clear()
        for family, specs in self.registry.families().items():
            root = self._family_item(family)
            for spec in specs:
                root.addChild(self._block_item(spec))
        self._user_root = self._family_item(USER_FAMILY)
        self.reload_user_blocks()
        self.tree.expandAll()
        self.filter(self.search.text())

    def _family_item(self, family: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem(self.tree, [family])
        item.setIcon(0, family_icon(family))
        item.setData(0, ROLE_KIND, KIND_FAMILY)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        item.setToolTip(0, f"{family} blocks")
        return item

    def _block_item(self, spec: BlockSpec) -> QTreeWidgetItem:
        item = QTreeWidgetItem([spec.title])
        item.setIcon(0, family_icon(spec.family))
        item.setData(0, ROLE_KIND, KIND_BLOCK)
        item.setData(0, ROLE_KEY, spec.key)
        item.setToolTip(0, f"<b>{spec.title}</b> <code>{spec.key}</code><br>"
                           f"{spec.help or spec.family}")
        item.setStatusTip(0, spec.help or spec.title)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                      | Qt.ItemFlag.ItemIsDragEnabled)
        return item

    def reload_user_blocks(self) -> None:
        """Re-read the user-block store into the "User blocks" section."""
        root = self._user_root
        assert root is not None
        root.takeChildren()
        self.tree.user_fragments = {}
        for block in self.store.blocks():
            self.tree.user_fragments[block.name] = block.fragment
            item = QTreeWidgetItem([block.name])
            item.setIcon(0, family_icon(USER_FAMILY))
            item.setData(0, ROLE_KIND, KIND_USER)
            item.setData(0, ROLE_KEY, block.name)
            item.setToolTip(0, f"<b>{block.name}</b> (user block)<br>{block.summary}")
            item.setStatusTip(0, f"User block {block.name}: {block.summary}")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                          | Qt.ItemFlag.ItemIsDragEnabled)
            root.addChild(item)
        root.setHidden(root.childCount() == 0)
        root.setExpanded(True)

    def add_user_block(self, name: str, fragment: dict[str, Any]) -> UserBlock:
        """Save a user block and show it."""
        block = self.store.add(name, fragment)
        self.reload_user_blocks()
        return block

    def delete_user_block(self, name: str) -> None:
        """Delete a user block from the store and the tree."""
        self.store.remove(name)
        self.reload_user_blocks()

    def user_block_names(self) -> list[str]:
        """Names shown in the "User blocks" section."""
        root = self._user_root
        assert root is not None
        return [root.child(k).text(0) for k in range(root.childCount())]

    # -- search ------------------------------------------------------------------------
    def filter(self, text: str) -> None:
        """Show only blocks whose title, key, family or help contains every word."""
        words = text.lower().split()
        for k in range(self.tree.topLevelItemCount()):
            root = self.tree.topLevelItem(k)
            shown = 0
            for j in range(root.childCount()):
                child = root.child(j)
                match = all(w in self._haystack(root, child) for w in words)
                child.setHidden(not match)
                shown += match
            empty_user = root is self._user_root and root.childCount() == 0
            root.setHidden(shown == 0 or empty_user)
            if words:
                root.setExpanded(True)

    def _haystack(self, root: QTreeWidgetItem, item: QTreeWidgetItem) -> str:
        key = item.data(0, ROLE_KEY) or ""
        return " ".join((item.text(0), key, root.text(0), item.statusTip(0))).lower()

    def visible_keys(self) -> list[str]:
        """Keys of the blocks currently shown (after filtering)."""
        keys = []
        for k in range(self.tree.topLevelItemCount()):
            root = self.tree.topLevelItem(k)
            if root.isHidden():
                continue
            keys += [root.child(j).data(0, ROLE_KEY) for j in range(root.childCount())
                     if not root.child(j).isHidden()
                     and root.child(j).data(0, ROLE_KIND) == KIND_BLOCK]
        return keys

    def item_for(self, key: str) -> QTreeWidgetItem | None:
        """The tree item of block ``key`` (or user block named ``key``)."""
        for k in range(self.tree.topLevelItemCount()):
            root = self.tree.topLevelItem(k)
            for j in range(root.childCount()):
                if root.child(j).data(0, ROLE_KEY) == key:
                    return root.child(j)
        return None

    def mime_data(self, key: str) -> QMimeData:
        """The drag payload of block (or user block) ``key``, as a drag would carry it."""
        item = self.item_for(key)
        data = mime_for_item(item, self.tree.user_fragments) if item is not None else None
        if data is None:
            raise KeyError(key)
        return data

    # -- activation ------------------------------------------------------------------------
    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        kind, key = item.data(0, ROLE_KIND), item.data(0, ROLE_KEY)
        if kind == KIND_BLOCK:
            self.blockActivated.emit(key)
        elif kind == KIND_USER and key in self.tree.user_fragments:
            self.userBlockActivated.emit(self.tree.user_fragments[key])

    def _add_first_match(self) -> None:
        keys = self.visible_keys()
        if keys:
            self.blockActivated.emit(keys[0])

    def _context_menu(self, pos: Any) -> None:
        item = self.tree.itemAt(pos)
        if item is None or item.data(0, ROLE_KIND) != KIND_USER:
            return
        menu = QMenu(self)
        menu.setObjectName("userBlockMenu")
        delete = QAction(action_icon("delete"), "Delete User Block", menu)
        delete.setObjectName("actionDeleteUserBlock")
        delete.setStatusTip("Remove this user block from the palette for good")
        delete.triggered.connect(lambda: self.delete_user_block(item.data(0, ROLE_KEY)))
        menu.addAction(delete)
        menu.popup(self.tree.viewport().mapToGlobal(pos))
