"""After training: the confusion matrix on the validation set and the worst errors.

The confusion matrix is one row-major ``ImageItem`` coloured by the share of each true
class (row) predicted as each class, with the counts written in the cells when there are
few classes. The worst errors — wrong predictions with the highest loss — are a grid of
the validation images with their predicted and true labels.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QListView,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from netbuilder.ui.training.common import caption, named, palette_colors, to_display
from netbuilder.ui.training.records import Results

#: Classes up to which counts are written in the cells and every class is named.
LABELLED_CLASSES = 20
CONFUSION_MAP = "CET-L12"
ICON_SIZE = 72


def image_to_pixmap(pixels: np.ndarray, size: int = ICON_SIZE) -> QPixmap:
    """Pixel values 0..1 ``(C, H, W)`` as a ``size``-pixel pixmap (nearest-neighbour)."""
    image = np.ascontiguousarray((to_display(pixels) * 255).clip(0, 255).astype(np.uint8))
    height, width = image.shape[:2]
    if image.ndim == 2:
        qimage = QImage(image.data, width, height, width, QImage.Format.Format_Grayscale8)
    else:
        qimage = QImage(image.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    scaled = qimage.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.FastTransformation)
    return QPixmap.fromImage(scaled.copy())


class ResultsPanel(QWidget):
    """The confusion matrix and the worst validation errors of the latest run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "resultsPanel", "Results")
        self.results: Results | None = None
        self._cell_labels: list[pg.TextItem] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = caption("Results appear when a run ends", "resultsSummary",
                               "Accuracy of the trained network on the validation set",
                               role="heading")
        self.summary.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.summary)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        named(splitter, "resultsSplitter", "Confusion matrix and worst errors")
        splitter.addWidget(self._matrix())
        splitter.addWidget(self._errors())
        splitter.setSizes([520, 700])
        layout.addWidget(splitter, 1)
        self.apply_theme()

    def _matrix(self) -> pg.GraphicsLayoutWidget:
        self.graphics = pg.GraphicsLayoutWidget()
        named(self.graphics, "confusionMatrix", "Confusion matrix",
              "Row: true class; column: predicted class; colour: share of the row")
        self.matrix_plot = self.graphics.addPlot(title="Confusion matrix (validation)")
        self.matrix_plot.setLabel("left", "true class")
        self.matrix_plot.setLabel("bottom", "predicted class")
        self.matrix_plot.getViewBox().invertY(True)
        self.matrix_plot.getViewBox().setAspectLocked(True)
        self.matrix_plot.setMenuEnabled(False)
        self.matrix_item = pg.ImageItem(axisOrder="row-major")
        self.matrix_item.setLookupTable(pg.colormap.get(CONFUSION_MAP).getLookupTable(nPts=256))
        self.matrix_plot.addItem(self.matrix_item)
        return self.graphics

    def _errors(self) -> QWidget:
        box = QWidget()
        named(box, "worstErrorsBox", "Worst errors")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(4, 0, 0, 0)
        self.errors_title = caption("Worst errors", "worstErrorsTitle",
                                    "Wrong predictions with the highest loss, worst first",
                                    role="heading")
        self.errors = QListWidget()
        named(self.errors, "worstErrors", "Worst errors grid",
              "Validation images the network got wrong, worst first: predicted → true")
        self.errors.setViewMode(QListView.ViewMode.IconMode)
        self.errors.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.errors.setGridSize(QSize(ICON_SIZE + 34, ICON_SIZE + 40))
        self.errors.setResizeMode(QListView.ResizeMode.Adjust)
        self.errors.setMovement(QListView.Movement.Static)
        self.errors.setWordWrap(True)
        self.errors.setUniformItemSizes(True)
        layout.addWidget(self.errors_title)
        layout.addWidget(self.errors, 1)
        return box

    # -- theme ---------------------------------------------------------------------------------
    def apply_theme(self) -> None:
        """Draw in the application palette's colours."""
        base, text, _grid = palette_colors()
        self.graphics.setBackground(base)
        plot = self.matrix_plot
        plot.setTitle(plot.titleLabel.text, color=text.name(), size="9pt")
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setPen(pg.mkPen(text))
            plot.getAxis(axis).setTextPen(pg.mkPen(text))

    def changeEvent(self, event: QEvent) -> None:
        """Follow theme changes."""
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_theme()
        super().changeEvent(event)

    # -- content -------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget the last results (a new run started)."""
        self.results = None
        self.matrix_item.clear()
        self._clear_cells()
        self.errors.clear()
        self.summary.setText("Results appear when the run ends")

    def show_results(self, results: Results) -> None:
        """Show the confusion matrix and the worst errors of ``results``."""
        self.results = results
        wrong = results.total - int(np.trace(results.confusion))
        self.summary.setText(
            f"Validation accuracy {100 * results.accuracy:.1f} % — "
            f"{results.total - wrong:,} of {results.total:,} right, {wrong:,} wrong")
        self._show_matrix(results)
        self._show_errors(results)

    def _show_matrix(self, results: Results) -> None:
        counts = results.confusion.astype(np.float64)
        rows = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
        self.matrix_item.setImage(share, levels=(0.0, 1.0), autoLevels=False)
        self.matrix_item.setRect(-0.5, -0.5, len(share), len(share))
        classes = results.classes
        step = max(1, len(classes) // LABELLED_CLASSES)
        ticks = [[(k, str(name)) for k, name in enumerate(classes) if k % step == 0]]
        self.matrix_plot.getAxis("left").setTicks(ticks)
        self.matrix_plot.getAxis("bottom").setTicks(ticks)
        self._label_cells(results.confusion, share)
        self.matrix_plot.autoRange(padding=0.02)

    def _label_cells(self, counts: np.ndarray, share: np.ndarray) -> None:
        self._clear_cells()
        if len(counts) > LABELLED_CLASSES:
            return
        for (row, column), count in np.ndenumerate(counts):
            if not count:
                continue
            color = QColor("#ffffff") if share[row, column] > 0.55 else QColor("#1d2330")
            label = pg.TextItem(str(int(count)), color=color, anchor=(0.5, 0.5))
            label.setPos(column, row)
            self.matrix_plot.addItem(label)
            self._cell_labels.append(label)

    def _clear_cells(self) -> None:
        for label in self._cell_labels:
            self.matrix_plot.removeItem(label)
        self._cell_labels.clear()

    def _show_errors(self, results: Results) -> None:
        self.errors.clear()
        classes = results.classes
        for k in range(len(results.worst)):
            true, pred = int(results.worst_true[k]), int(results.worst_pred[k])
            confidence = float(results.worst_confidence[k])
            item = QListWidgetItem(QIcon(image_to_pixmap(results.worst[k])),
                                   f"{classes[pred]} → {classes[true]}\n{confidence:.0%}")
            item.setToolTip(f"Predicted {classes[pred]} with {confidence:.0%} confidence; "
                            f"the true class is {classes[true]} "
                            f"(loss {float(results.worst_loss[k]):.2f})")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.errors.addItem(item)
        count = len(results.worst)
        self.errors_title.setText(
            f"Worst errors: the {count} wrong predictions with the highest loss "
            f"(predicted → true, confidence)" if count else "No errors on the validation set")
