"""The Experiments dock's content, built on first show.

The panel draws with pyqtgraph and reads studies with Optuna; neither should slow the
editor's start, so the dock holds this light widget, which makes the
:class:`~netbuilder.ui.experiments.panel.ExperimentsPanel` when the dock is first shown
(or :attr:`panel` is first asked for) and passes its signals on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

if TYPE_CHECKING:
    from netbuilder.ui.experiments.panel import ExperimentsPanel


class ExperimentsDockWidget(QWidget):
    """Holds the Experiments panel, made on demand.

    Signals:
        openTrialRequested(str): The panel asked to open a trial's project file.
        statusMessage(str): A line for the status bar.
    """

    openTrialRequested = Signal(str)
    statusMessage = Signal(str)

    def __init__(self, project_path: Callable[[], Path | None],
                 parent: QWidget | None = None, *, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("experimentsDockWidget")
        self.project_path = project_path
        self.settings = settings
        self._panel: ExperimentsPanel | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    @property
    def panel(self) -> ExperimentsPanel:
        """The Experiments panel (made now if it was not yet)."""
        if self._panel is None:
            from netbuilder.ui.experiments.panel import ExperimentsPanel

            self._panel = ExperimentsPanel(self.project_path, self, settings=self.settings)
            self._panel.openTrialRequested.connect(self.openTrialRequested)
            self._panel.statusMessage.connect(self.statusMessage)
            self._layout.addWidget(self._panel)
        return self._panel

    def showEvent(self, event: QShowEvent) -> None:
        """Make the panel when the dock is first shown."""
        _ = self.panel
        super().showEvent(event)

    def shutdown(self) -> None:
        """Stop the panel's workers, if it was ever made."""
        if self._panel is not None:
            self._panel.shutdown()
