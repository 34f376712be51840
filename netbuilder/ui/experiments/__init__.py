"""The Experiments panel: sweeps started, watched and compared (see :mod:`.panel`).

Importing this package is light: :class:`ExperimentsDockWidget` makes the panel (and
imports pyqtgraph and Optuna) when it is first shown.
"""

from netbuilder.ui.experiments.lazy import ExperimentsDockWidget

__all__ = ["ExperimentsDockWidget"]
