"""The Profile and Pre-flight Check actions of an editor window.

Both run off the GUI thread under :func:`~netbuilder.ui.busy.run_busy`. Profiling paints
its per-node times as the canvas's heat overlay (cleared at the next edit, since it no
longer describes the network) and can save the trace for Perfetto; the pre-flight check
lists its findings in plain words. A missing device, running out of memory or a graph
with errors is a message; the window goes on.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QFileDialog, QMessageBox

from netbuilder.core.events import Event
from netbuilder.ui.busy import JobCancelled, run_busy
from netbuilder.ui.canvas.heat import HeatFigure, clear_heat, show_heat, show_notes

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from netbuilder.core.graph import Graph
    from netbuilder.training.profile import ProfileResult
    from netbuilder.ui.main_window import MainWindow

#: Batch the canvas profiles at (small, so that a CPU answers in seconds).
PROFILE_BATCH = 8
_CONTROLLERS: weakref.WeakKeyDictionary[MainWindow, MeasureController] = \
    weakref.WeakKeyDictionary()


def _icon(draw: Callable[[QPainter, float], None]) -> QIcon:
    icon = QIcon()
    for size in (16, 20, 24, 32, 48):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        draw(painter, size / 16)
        painter.end()
        icon.addPixmap(pixmap)
    return icon


def _draw_profile(painter: QPainter, k: float) -> None:
    """Three bars, cool to hot: time per node."""
    painter.setPen(Qt.PenStyle.NoPen)
    for index, (height, color) in enumerate(((5, "#f2c744"), (9, "#e8812f"), (13, "#d6382c"))):
        painter.setBrush(QColor(color))
        painter.drawRect(QRectF((1.5 + 5 * index) * k, (15 - height) * k, 3.5 * k, height * k))


def _draw_check(painter: QPainter, k: float) -> None:
    """A tick: the pre-flight check."""
    painter.setPen(QPen(QColor("#3f9a5a"), 2.4 * k, Qt.PenStyle.SolidLine,
                        Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    painter.drawPolyline([QPointF(2.5 * k, 8.5 * k), QPointF(6.5 * k, 12.5 * k),
                          QPointF(13.5 * k, 3.5 * k)])


def profile_icon() -> QIcon:
    """The Profile action's icon."""
    return _icon(_draw_profile)


def preflight_icon() -> QIcon:
    """The Pre-flight Check action's icon."""
    return _icon(_draw_check)


def heat_figures(graph: Graph, result: ProfileResult) -> dict[str, HeatFigure]:
    """A figure for every node at every level (a group: the sum over its body)."""
    figures = {}
    for _level, node in graph.walk():
        ms = result.group_ms(graph, node.id)
        if ms <= 0:
            continue
        timing = result.nodes.get(node.id)
        figures[node.id] = HeatFigure(
            ms, ms / result.step_ms if result.step_ms else 0.0,
            timing.gmacs if timing else 0.0, bool(timing and timing.memory_bound))
    return figures


class MeasureController:
    """Profiles and checks the network of one window."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.result: ProfileResult | None = None
        self.trace: Path | None = None
        window.document.graph.events.connect(self._on_events)

    def _on_events(self, events: Sequence[Event]) -> None:
        if any(e.kind != "node_moved" for e in events):
            clear_heat(self.window.view.scene())

    def profile(self, device: str = "cpu", trace: Path | None = None) -> ProfileResult | None:
        """Profile a training step and paint the heat overlay; None when it failed."""
        from netbuilder.training.profile import ProfileError, profile_graph

        graph = self.window.document.graph.copy()
        try:
            result = run_busy(self.window, "Profiling a training step…",
                              lambda: profile_graph(graph, device=device,
                                                    batch=PROFILE_BATCH, trace=trace))
        except JobCancelled:
            return None
        except ProfileError as exc:
            self.window.show_message(f"Profile: {exc}")
            return None
        self.result = result
        shown = show_heat(self.window.view.scene(),
                          heat_figures(self.window.document.graph, result))
        self.window.show_message(
            f"Profiled on {result.device} at batch {result.batch}: step "
            f"{result.step_ms:.1f} ms, {shown} nodes tinted by their share")
        return result

    def save_trace(self) -> Path | None:
        """Profile again, saving the trace where the user chooses (Perfetto, Chrome)."""
        path, _ = QFileDialog.getSaveFileName(self.window, "Save Profiler Trace",
                                              "trace.json", "Chrome trace (*.json)")
        if not path:
            return None
        return Path(path) if self.profile(trace=Path(path)) is not None else None

    def preflight(self) -> list[str] | None:
        """Run the pre-flight check and show its findings; None when it could not run."""
        from netbuilder.training.preflight import PreflightError, preflight

        graph = self.window.document.graph.copy()
        try:
            report = run_busy(self.window, "Overfitting one batch for 50 steps…",
                              lambda: preflight(graph))
        except JobCancelled:
            return None
        except PreflightError as exc:
            self.window.show_message(f"Pre-flight check: {exc}")
            return None
        messages = report.messages()
        show_notes(self.window.view.scene(), {
            node: " ".join(health.findings) for node, health in report.nodes.items()
            if health.findings})
        head = (f"Loss {report.losses[0]:.3g} → {report.losses[-1]:.3g} in {report.steps} "
                f"steps on one batch ({report.drop:.0%} drop).")
        body = "\n".join(f"• {m}" for m in messages) or "Healthy: nothing to report."
        box = QMessageBox(QMessageBox.Icon.Information if report.healthy
                          else QMessageBox.Icon.Warning, "Pre-flight Check",
                          f"{head}\n\n{body}", parent=self.window)
        box.setObjectName("preflightReport")
        box.open()
        return messages


def measure(window: MainWindow) -> MeasureController:
    """The window's controller (made on first use)."""
    controller = _CONTROLLERS.get(window)
    if controller is None:
        controller = _CONTROLLERS[window] = MeasureController(window)
    return controller
