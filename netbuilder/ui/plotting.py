"""What the pyqtgraph plots of the panels share."""

from __future__ import annotations

from typing import Any


def show_grid(plot: Any, *, x: bool = True, y: bool = True, alpha: float = 0.25) -> None:
    """pyqtgraph's grid on ``plot`` (a ``PlotItem`` or ``PlotWidget``), drawn at the major
    and minor tick levels only.

    pyqtgraph draws a grid line at every tick of all three levels, each the height of the
    plot, and replays them from a ``QPicture`` at each paint: the third level's faint
    lines (some fifty per axis) made a 750×320 plot's paint 13 ms instead of 5 ms, and
    hardly show. The axes' labels are those of the first two levels either way.
    """
    plot.showGrid(x=x, y=y, alpha=alpha)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setStyle(maxTickLevel=1)
