"""After training: the confusion matrix on the validation set and the worst errors.

The confusion matrix (:class:`~netbuilder.ui.training.confusion.ConfusionMatrixView`) is
a square of cells coloured by the share of each true class (row) predicted as each class,
in the theme's colours, with the counts written in the cells when there are few classes;
the splitter gives it a width that matches its height, so it fills its side of the panel.
The worst errors — wrong predictions with the highest loss — are a grid of the
validation images with their predicted and true labels.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QListView,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from netbuilder.ui.training.common import caption, named, to_display
from netbuilder.ui.training.confusion import ConfusionMatrixView
from netbuilder.ui.training.records import Results

ICON_SIZE = 72
#: Share of the panel's width the matrix may take at most.
MATRIX_MAX_SHARE = 0.6


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
        self._splitter_moved = False  # the user chose the split: keep it
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = caption("Results appear when a run ends", "resultsSummary",
                               "Accuracy of the trained network on the validation set",
                               role="heading")
        self.summary.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.summary)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        named(self.splitter, "resultsSplitter", "Confusion matrix and worst errors")
        self.matrix = ConfusionMatrixView()
        named(self.matrix, "confusionMatrix", "Confusion matrix",
              "Row: true class; column: predicted class; colour: share of the row. "
              "Hover a cell to read it")
        self.splitter.addWidget(self.matrix)
        self.splitter.addWidget(self._errors())
        self.splitter.setStretchFactor(1, 1)
        self.splitter.splitterMoved.connect(self._user_split)
        layout.addWidget(self.splitter, 1)

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

    # -- the split -----------------------------------------------------------------------------
    def _user_split(self, _pos: int, _index: int) -> None:
        self._splitter_moved = True

    def fit_matrix(self) -> None:
        """Give the matrix a width that matches its height (until the user drags the split)."""
        total = self.splitter.width() - self.splitter.handleWidth()
        if self._splitter_moved or total <= 0:
            return
        wanted = self.matrix.width_for_height(self.matrix.height())
        width = max(self.matrix.minimumSizeHint().width(),
                    min(wanted, round(total * MATRIX_MAX_SHARE)))
        self.splitter.setSizes([width, total - width])

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the matrix square and its side filled."""
        super().resizeEvent(event)
        self.fit_matrix()

    def showEvent(self, event: QShowEvent) -> None:
        """Fit the matrix to the size the panel has when shown."""
        super().showEvent(event)
        self.fit_matrix()

    # -- content -------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget the last results (a new run started)."""
        self.results = None
        self.matrix.clear()
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
        self.matrix.set_matrix(results.confusion, results.classes)

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
