"""The live training panels of the editor: toolbar, curves, feature maps, statistics, results.

The main window creates a :class:`~netbuilder.ui.training.launcher.TrainingLauncher`
(cheap: actions and a menu); it builds the :class:`~netbuilder.ui.training.panel.TrainingPanel`
— and imports pyqtgraph, and torch when a run starts — only when training is first used.

Modules:
    launcher: The Train menu and actions; builds the panel lazily.
    panel: The dock's content: toolbar, fault banner and the four tabs.
    session: The trainer in a worker thread, its news drained into Qt signals.
    toolbar: Run controls, settings (saved in ``document.training``) and progress.
    curves: Loss, accuracy and learning-rate curves, over earlier runs.
    features: Feature maps of the selected node and first-layer filters.
    stats: Per-layer activation and gradient statistics; gradient flags.
    results: Confusion matrix and worst errors after training.
"""

from __future__ import annotations
