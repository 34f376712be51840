"""The Experiments panel's "Watch a study" row: a storage URL, a study name, Watch.

Any Optuna storage the editor can reach — another SQLite file, a PostgreSQL or MySQL
server that workers on other machines share — is watched live. The row only checks that
both fields are filled and that the URL has a scheme; the connection itself is made off
the GUI thread by the panel. The last study watched is remembered in the settings.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

#: Settings keys of the last study watched.
STORAGE_KEY = "experiments/watchStorage"
STUDY_KEY = "experiments/watchStudy"


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an Optuna storage URL at a glance (``None``: try it)."""
    scheme, separator, rest = url.partition("://")
    if not url:
        return "Give the study's storage URL (sqlite:///path.db, postgresql://host/db…)"
    if not separator or not scheme or not rest:
        return f"Not a storage URL: {url!r} (sqlite:///path.db, postgresql://host/db…)"
    return None


class WatchBar(QWidget):
    """Storage URL and study name fields with a Watch button.

    Signals:
        watchRequested(str, str): The user asked to watch study (2nd) in storage (1st).
        problem(str): What is missing or wrong in the fields (nothing was requested).
    """

    watchRequested = Signal(str, str)
    problem = Signal(str)

    def __init__(self, settings: QSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("experimentWatchBar")
        self.settings = settings
        self.storage_edit = QLineEdit()
        self.storage_edit.setObjectName("experimentWatchStorage")
        self.storage_edit.setPlaceholderText("storage URL: sqlite:///other.db, "
                                             "postgresql://user@host/db…")
        self.storage_edit.setToolTip("The Optuna storage of a study to watch (workers "
                                     "anywhere: `netbuilder sweep worker --storage URL`)")
        self.study_edit = QLineEdit()
        self.study_edit.setObjectName("experimentWatchStudy")
        self.study_edit.setPlaceholderText("study name")
        self.watch_button = QPushButton("Watch")
        self.watch_button.setObjectName("experimentWatch")
        self.watch_button.setToolTip("Show that study's trials live")
        self.watch_button.clicked.connect(self.request)
        self.study_edit.returnPressed.connect(self.request)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Watch a study"))
        layout.addWidget(self.storage_edit, 3)
        layout.addWidget(self.study_edit, 1)
        layout.addWidget(self.watch_button)
        self._restore()

    def request(self) -> None:
        """Ask to watch the study the fields name (or say what is missing)."""
        url, study = self.storage_edit.text().strip(), self.study_edit.text().strip()
        problem = url_problem(url) or (None if study else "Give the name of the study")
        if problem is not None:
            self.problem.emit(problem)
            return
        self.watchRequested.emit(url, study)

    def remember(self, url: str, study: str) -> None:
        """Keep ``url`` and ``study`` in the settings (a study that was reached)."""
        if self.settings is not None:
            self.settings.setValue(STORAGE_KEY, url)
            self.settings.setValue(STUDY_KEY, study)

    def _restore(self) -> None:
        if self.settings is None:
            return
        self.storage_edit.setText(str(self.settings.value(STORAGE_KEY, "") or ""))
        self.study_edit.setText(str(self.settings.value(STUDY_KEY, "") or ""))
