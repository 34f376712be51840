"""Feature maps of the node selected on the canvas, and the first layer's filters.

For a chosen validation image (shown on the left) the panel shows every map of the
selected node's output as one mosaic image (each map scaled to its own range), refreshed
a few times a second while training runs. Captures run in the training thread through
:meth:`TrainingSession.probe` (one forward pass of one image, hooks removed afterwards);
the GUI thread only turns the returned arrays into one ``ImageItem.setImage`` each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QVBoxLayout, QWidget

from netbuilder.ui.training.common import (
    as_maps,
    caption,
    grid_columns,
    named,
    normalise,
    palette_colors,
    tile,
    to_display,
)
from netbuilder.ui.training.records import RunInfo
from netbuilder.ui.training.session import TrainingSession

if TYPE_CHECKING:
    from netbuilder.training.trainer import Trainer

#: Refreshes per second while training runs.
LIVE_HZ = 2
#: Most maps shown of one node (the first ones).
MAX_MAPS = 256
ACTIVATION_MAP = "viridis"
FILTER_MAP = "CET-D1"


@dataclass(frozen=True)
class Capture:
    """What one probe brought back.

    Attributes:
        node_id: The node whose output it is.
        maps: Its output for the chosen image, ``(C, H, W)`` (a vector: one map).
        filters: The first layer's weights ``(O, I, kh, kw)``, or ``None``.
    """

    node_id: str
    maps: np.ndarray
    filters: np.ndarray | None


def capture_task(node_id: str, image: Any, first_conv: str | None) -> Any:
    """A probe task: the node's output for ``image`` and the first layer's filters."""

    def task(trainer: Trainer) -> Capture:
        from netbuilder.training import probes

        found = probes.capture(trainer.model, image, [node_id])
        weights = probes.weights(trainer.model, first_conv) if first_conv else None
        maps = found[node_id][0].numpy()
        return Capture(node_id, maps, weights.numpy() if weights is not None else None)

    return task


class _ImageView:
    """A titled, aspect-locked view holding one row-major ``ImageItem``."""

    def __init__(self, graphics: pg.GraphicsLayoutWidget, column: int, title: str,
                 colormap: str | None) -> None:
        self.title = graphics.addLabel(title, row=0, col=column, size="9pt")
        self.box = graphics.addViewBox(row=1, col=column, lockAspect=True, invertY=True,
                                       enableMenu=False)
        self.item = pg.ImageItem(axisOrder="row-major")
        if colormap is not None:
            self.item.setLookupTable(pg.colormap.get(colormap).getLookupTable(nPts=256))
        self.box.addItem(self.item)

    def show(self, image: np.ndarray, levels: tuple[float, float] = (0.0, 1.0)) -> None:
        """Show ``image``; the view is fitted again only when its size changed."""
        old = self.item.image
        self.item.setImage(image, levels=levels, autoLevels=False)
        if old is None or old.shape != image.shape:
            self.box.autoRange(padding=0.02)

    def clear(self) -> None:
        """Show nothing."""
        self.item.clear()

    def aspect(self) -> float:
        """Width / height of the view on screen (1.8 before it is laid out)."""
        rect = self.box.boundingRect()
        if rect.height() < 10 or rect.width() < 10:
            return 1.8
        return min(max(rect.width() / rect.height(), 0.3), 6.0)

    def set_title(self, text: str) -> None:
        """Retitle (only when the text changes: a new title lays the view out again)."""
        if text != self.title.text:
            self.title.setText(text)


class FeatureMapsPanel(QWidget):
    """Activation maps of the selected node for one input image, and first-layer filters."""

    def __init__(self, session: TrainingSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "featureMapsPanel", "Feature maps")
        self.session = session
        self.info: RunInfo | None = None
        self.node_id: str | None = None
        self.node_name = ""
        self.capture: Capture | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self._controls())
        self.graphics = pg.GraphicsLayoutWidget()
        named(self.graphics, "featureMapsView", "Feature map images",
              "Wheel to zoom, drag to pan the maps")
        layout.addWidget(self.graphics, 1)
        self.input_view = _ImageView(self.graphics, 0, "Input", None)
        self.maps_view = _ImageView(self.graphics, 1, "Feature maps", ACTIVATION_MAP)
        self.filters_view = _ImageView(self.graphics, 2, "First-layer filters", FILTER_MAP)
        layout_ = self.graphics.ci.layout
        for column, stretch in ((0, 1), (1, 4), (2, 2)):
            layout_.setColumnStretchFactor(column, stretch)
        self.timer = QTimer(self)
        self.timer.setObjectName("featureMapsTimer")
        self.timer.setInterval(1000 // LIVE_HZ)
        self.timer.timeout.connect(self.request)
        self.apply_theme()

    def _controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setContentsMargins(6, 2, 6, 0)
        row.setSpacing(8)
        self.node_label = caption("Select a node on the canvas to see its feature maps",
                                  "featureMapsNode", "The node whose output is shown")
        self.node_label.setProperty("role", "heading")
        self.sample = QComboBox()
        named(self.sample, "featureMapsSample", "Input image",
              "The validation image fed through the network")
        self.sample.currentIndexChanged.connect(self._sample_changed)
        self.live = QCheckBox("Live")
        named(self.live, "featureMapsLive", "Refresh live",
              f"Refresh the maps {LIVE_HZ} times a second while training runs")
        self.live.setChecked(True)
        sample_label = caption("Input image", "featureMapsSampleLabel")
        sample_label.setBuddy(self.sample)
        row.addWidget(self.node_label)
        row.addStretch(1)
        for widget in (sample_label, self.sample, self.live):
            row.addWidget(widget)
        return row

    # -- theme ---------------------------------------------------------------------------------
    def apply_theme(self) -> None:
        """Draw in the application palette's colours."""
        base, text, _grid = palette_colors()
        self.graphics.setBackground(base)
        for view in (self.input_view, self.maps_view, self.filters_view):
            view.title.setAttr("color", text.name())
            view.title.setText(view.title.text)

    def changeEvent(self, event: QEvent) -> None:
        """Follow theme changes."""
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_theme()
        super().changeEvent(event)

    # -- inputs -------------------------------------------------------------------------------
    def set_run(self, info: RunInfo) -> None:
        """A run started: offer its validation images."""
        self.info = info
        current = max(self.sample.currentIndex(), 0)
        self.sample.blockSignals(True)
        self.sample.clear()
        for k, label in enumerate(info.labels.tolist()):
            name = info.classes[label] if label < len(info.classes) else str(label)
            self.sample.addItem(f"#{k + 1}: {name}", k)
        self.sample.setCurrentIndex(min(current, self.sample.count() - 1))
        self.sample.blockSignals(False)
        self._show_input()
        self.filters_view.set_title(self._filters_title(None))
        self.set_live(True)
        self.request(force=True)

    def set_live(self, running: bool) -> None:
        """Refresh on the timer while a run goes on."""
        if running:
            self.timer.start()
        else:
            self.timer.stop()
            self.request(force=True)

    def clear(self) -> None:
        """Forget the run and the node (another document)."""
        self.info, self.capture = None, None
        self.set_node(None)
        self.sample.clear()
        for view in (self.input_view, self.maps_view, self.filters_view):
            view.clear()
        self.timer.stop()

    def set_node(self, node_id: str | None, name: str = "") -> None:
        """Show the maps of ``node_id`` (the node selected on the canvas)."""
        if node_id == self.node_id:
            return
        self.node_id, self.node_name = node_id, name or (node_id or "")
        if node_id is None:
            self.node_label.setText("Select a node on the canvas to see its feature maps")
            self.maps_view.clear()
            return
        self.node_label.setText(f"{self.node_name}: waiting for the network…")
        self.request(force=True)

    def known(self, node_id: str) -> bool:
        """Whether the trained network has a node ``node_id``."""
        return self.info is not None and any(layer.node_id == node_id for layer in self.info.layers)

    # -- probing --------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        """Catch up when the tab is shown."""
        super().showEvent(event)
        self.request(force=True)

    def request(self, force: bool = False) -> None:
        """Ask the training thread for fresh maps (when shown, live, and a node is chosen)."""
        info, node = self.info, self.node_id
        if info is None or node is None or not self.isVisible():
            return
        if not force and not self.live.isChecked():
            return
        if not self.known(node):
            self.node_label.setText(f"{self.node_name}: not in the network being trained "
                                    f"(added after Train was pressed)")
            self.maps_view.clear()
            return
        k = max(self.sample.currentIndex(), 0)
        task = capture_task(node, info.inputs[k:k + 1], info.first_conv)
        self.session.probe("features", task, self.show_capture, self._failed)

    def _failed(self, error: BaseException) -> None:
        self.node_label.setText(f"{self.node_name}: cannot capture its output ({error})")

    # -- drawing --------------------------------------------------------------------------------
    def show_capture(self, capture: Capture) -> None:
        """Draw a probe's result."""
        self.capture = capture
        if capture.node_id != self.node_id:
            self.request(force=True)
            return
        maps = as_maps(capture.maps)[:MAX_MAPS]
        count, height, width = maps.shape
        columns = grid_columns(count, height, width, self.maps_view.aspect())
        mosaic = tile(normalise(maps), columns, pad=max(1, width // 14))
        self.maps_view.show(mosaic)
        total = as_maps(capture.maps).shape[0]
        shown = f"first {count} of {total}" if total > count else f"{count}"
        self.node_label.setText(f"{self.node_name}: {shown} map{'s' * (count != 1)} of "
                                f"{height}×{width}, value range {np.nanmin(capture.maps):.3g}"
                                f" … {np.nanmax(capture.maps):.3g}")
        self.maps_view.set_title(f"{self.node_name} — {shown} × {height}×{width}")
        if capture.filters is not None:
            self._show_filters(capture.filters)

    def _show_input(self) -> None:
        info = self.info
        if info is None or not len(info.pixels):
            return
        k = max(self.sample.currentIndex(), 0)
        image = to_display(info.pixels[k])
        self.input_view.show(image)
        label = int(info.labels[k])
        name = info.classes[label] if label < len(info.classes) else str(label)
        self.input_view.set_title(f"Input: {name}")

    def _show_filters(self, weights: np.ndarray) -> None:
        filters = weights if weights.ndim == 4 else weights.reshape(len(weights), 1, 1, -1)
        if filters.shape[1] == 3:
            tiles = np.moveaxis(normalise(filters, symmetric=True), 1, -1)
            self.filters_view.item.setLookupTable(None)
        else:
            tiles = normalise(filters[:, 0], symmetric=True)
            self.filters_view.item.setLookupTable(
                pg.colormap.get(FILTER_MAP).getLookupTable(nPts=256))
        pad = max(1, tiles.shape[2] // 5)
        self.filters_view.show(tile(tiles[:MAX_MAPS], pad=pad))
        self.filters_view.set_title(self._filters_title(filters.shape))

    def _filters_title(self, shape: tuple[int, ...] | None) -> str:
        info = self.info
        name = next((layer.name for layer in info.layers if layer.node_id == info.first_conv), "") \
            if info is not None else ""
        if shape is None:
            return f"First-layer filters ({name})" if name else "No convolution filters"
        out, inputs, height, width = shape
        channel = "" if inputs in (1, 3) else f", input channel 1 of {inputs}"
        return f"Filters of {name}: {out} × {height}×{width}{channel}"

    def _sample_changed(self, _index: int) -> None:
        self._show_input()
        self.request(force=True)
