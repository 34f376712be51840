"""The quick-add popup: type a few letters of a block's title or key, press Enter.

The popup is as large as what it lists: the list shows up to :data:`VISIBLE_ROWS` rows
(then scrolls) and is as wide as its longest entry; when nothing matches, one line says
so instead of an empty box.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from netbuilder.core.spec import BlockSpec

#: Rows the list shows before it scrolls.
VISIBLE_ROWS = 12
#: Narrowest and widest the popup grows, in pixels.
MIN_WIDTH, MAX_WIDTH = 240, 440
_KEY_ROLE = Qt.ItemDataRole.UserRole
_NAVIGATION = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)


def rank(spec: BlockSpec, text: str) -> int | None:
    """How well ``spec`` matches the typed ``text`` (lower is better; None: no match)."""
    text = text.strip().lower()
    if not text:
        return 3
    title, key, family = spec.title.lower(), spec.key, spec.family.lower()
    compact = title.replace(" ", "")
    if title.startswith(text) or key.startswith(text) or compact.startswith(text):
        return 0
    if any(word.startswith(text) for word in title.split()):
        return 1
    if text in title or text in key or text in compact:
        return 2
    if text in family:
        return 3
    return None


class QuickAddPopup(QFrame):
    """A search box over the block registry, shown at the cursor.

    Signals:
        chosen: The key of the block picked (Enter or double-click).
    """

    chosen = Signal(str)

    def __init__(self, specs: Iterable[BlockSpec], parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("quickAddPopup")
        self.setAccessibleName("Quick add block")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._specs = list(specs)
        self.search = QLineEdit(self)
        self.search.setObjectName("quickAddSearch")
        self.search.setAccessibleName("Block search")
        self.search.setPlaceholderText("Add block…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setObjectName("quickAddList")
        self.list.setAccessibleName("Matching blocks")
        self.list.setUniformItemSizes(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.nothing = QLabel("No block matches", self)
        self.nothing.setObjectName("quickAddNothing")
        self.nothing.setContentsMargins(4, 2, 4, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        layout.addWidget(self.nothing)
        self.search.textChanged.connect(self._filter)
        self.search.installEventFilter(self)
        self.list.itemActivated.connect(self._activate)
        self._filter("")

    def show_at(self, global_pos: QPoint) -> None:
        """Open at ``global_pos`` with an empty search."""
        self.search.clear()
        self.move(global_pos)
        self.show()
        self.search.setFocus()

    def _filter(self, text: str) -> None:
        scored = [(score, n, spec) for n, spec in enumerate(self._specs)
                  if (score := rank(spec, text)) is not None]
        self.list.clear()
        for _, _, spec in sorted(scored, key=lambda s: (s[0], s[1])):
            item = QListWidgetItem(f"{spec.title}    ·  {spec.family}")
            item.setData(_KEY_ROLE, spec.key)
            item.setToolTip(spec.help or spec.title)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        self.nothing.setText(f"No block matches “{text.strip()}”")
        self._fit_to_content()

    def _fit_to_content(self) -> None:
        """As tall as the rows shown (at most :data:`VISIBLE_ROWS`), as wide as they are."""
        count = self.list.count()
        self.list.setVisible(count > 0)
        self.nothing.setVisible(count == 0)
        if count:
            rows = min(count, VISIBLE_ROWS)
            frame = 2 * self.list.frameWidth()
            self.list.setFixedHeight(rows * self.list.sizeHintForRow(0) + frame)
            scroll = self.list.verticalScrollBar().sizeHint().width() \
                if count > VISIBLE_ROWS else 0
            wanted = self.list.sizeHintForColumn(0) + frame + scroll + 8
        else:
            wanted = self.nothing.sizeHint().width()
        margins = self.layout().contentsMargins()
        width = min(max(wanted + margins.left() + margins.right(), MIN_WIDTH), MAX_WIDTH)
        self.setFixedWidth(width)
        self.layout().activate()
        self.setFixedHeight(self.layout().sizeHint().height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() in _NAVIGATION:
                self.list.keyPressEvent(event)
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept_current()
                return True
        return super().eventFilter(watched, event)

    def accept_current(self) -> None:
        """Choose the highlighted block."""
        item = self.list.currentItem()
        if item is not None:
            self._activate(item)

    def _activate(self, item: QListWidgetItem) -> None:
        key = str(item.data(_KEY_ROLE))
        self.hide()
        self.chosen.emit(key)
