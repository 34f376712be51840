"""The Experiments panel: sweeps started, watched and compared (see :mod:`.panel`)."""

from netbuilder.ui.experiments.panel import ExperimentsPanel

__all__ = ["ExperimentsPanel"]
