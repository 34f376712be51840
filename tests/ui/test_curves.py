"""The learning curves as a user meets them: an empty state before any run, legends beside
the plots (never on the data), and a legend entry for every earlier run drawn.

The panel is fed as the training session feeds it (``begin_run``, batches, epochs); the
user's part (the "Earlier runs" box, a click on a legend line) is real mouse input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from pytestqt.qtbot import QtBot

from netbuilder.training.callbacks import EpochEnd
from netbuilder.ui.main_window import MainWindow, start_document
from netbuilder.ui.training.curves import EMPTY_TEXT, CurvesPanel
from netbuilder.ui.training.records import BatchChunk, RunInfo

INFO = RunInfo(3, 20, 32, 0, tuple("0123456789"), (), None, None, None, None, "cpu", "")


def run_record(label: str, top: float) -> dict[str, object]:
    """An earlier run as the project file keeps it."""
    return {"label": f"{label} · adam lr 0.003 · batch 64 · cpu", "x": [0.0, 1.0, 2.0],
            "loss": [top, top / 2, top / 4], "epochs": [1, 2], "val_loss": [top / 2, top / 3],
            "val_acc": [0.5, 0.9]}


@pytest.fixture
def curves(qtbot: QtBot) -> CurvesPanel:
    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.resize(1200, 360)
    with qtbot.waitExposed(panel):
        panel.show()
    return panel


def train(curves: CurvesPanel, label: str = "Run 1") -> None:
    """A three-epoch run whose accuracy climbs to 1 and whose learning rate is constant:
    the curves that ran through pyqtgraph's floating legends."""
    curves.begin_run(INFO, label)
    steps = np.arange(60, dtype=float)
    curves.add_batches(BatchChunk(steps, np.linspace(2.3, 0.1, 60), np.linspace(0.1, 1.0, 60),
                                  np.full(60, 3e-3), None))  # type: ignore[arg-type]
    for epoch in (1, 2, 3):
        curves.add_epoch(EpochEnd(epoch, 3, 1.0, 0.5, 0.9, 0.3 * epoch, 3e-3, 100.0, 1.0))
    curves.redraw()


def test_before_any_run_the_panel_says_so_instead_of_empty_axes(
        qtbot: QtBot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(start_document(), settings=settings, recovery_dir=tmp_path / "r",
                        user_blocks_dir=tmp_path / "b")  # deletes itself on close
    window.resize(1400, 900)
    with qtbot.waitExposed(window):
        window.show()
    window.training_dock.toggleViewAction().trigger()  # View › Training
    panel = window.training.panel
    assert panel is not None
    curves = panel.curves
    qtbot.waitUntil(curves.empty.isVisible)
    assert curves.empty.text() == EMPTY_TEXT == "No run yet — press Train"
    assert not curves.graphics.isVisible()
    train(curves)
    assert curves.graphics.isVisible() and not curves.empty.isVisible()
    window.document.history.set_clean()
    window.close()


def legend_overlaps_data(curves: CurvesPanel) -> list[str]:
    """Names of the plots whose legend covers part of their data area."""
    overlapping = []
    for plot, legend in curves.legends.items():
        data = plot.getViewBox().sceneBoundingRect()
        if legend.sceneBoundingRect().intersects(data):
            overlapping.append(plot.objectName())
    return overlapping


def test_legends_sit_beside_the_data(curves: CurvesPanel) -> None:
    train(curves)
    assert legend_overlaps_data(curves) == []
    names = {plot.objectName(): legend.names() for plot, legend in curves.legends.items()}
    assert names == {
        "curvesPlotLoss": ["train (raw)", "train (smoothed)", "validation"],
        "curvesPlotAccuracy": ["train (smoothed)", "validation"],
        "curvesPlotLr": ["learning rate"]}
    for legend in curves.legends.values():
        assert legend.isVisible() and legend.sceneBoundingRect().height() > 10


def test_earlier_runs_are_named_in_the_legends(qtbot: QtBot, curves: CurvesPanel) -> None:
    curves.set_past_runs([run_record("Run 2", 2.0), run_record("Run 1", 3.0)])
    assert curves.graphics.isVisible()  # earlier runs alone are worth showing
    loss, accuracy = curves.legends[curves.loss_plot], curves.legends[curves.acc_plot]
    assert loss.names()[-2:] == ["Run 2 (earlier)", "Run 1 (earlier)"]
    assert accuracy.names()[-2:] == ["Run 2 (earlier)", "Run 1 (earlier)"]
    train(curves, "Run 3")
    assert legend_overlaps_data(curves) == []
    box = curves.show_past
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert not box.isChecked()
    assert "Run 2 (earlier)" not in loss.names() and "(earlier)" not in str(accuracy.names())
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert loss.names().count("Run 2 (earlier)") == 1


def test_a_finished_run_is_not_listed_as_earlier_until_the_next_one(
        curves: CurvesPanel) -> None:
    train(curves, "Run 1")
    curves.end_run()
    curves.apply_theme()  # redraws the earlier runs, as a theme change does
    assert not any("(earlier)" in name for name in curves.legends[curves.loss_plot].names())
    train(curves, "Run 2")
    assert "Run 1 (earlier)" in curves.legends[curves.loss_plot].names()


def test_clicking_a_legend_line_hides_its_curve(qtbot: QtBot, curves: CurvesPanel) -> None:
    train(curves)
    legend = curves.legends[curves.acc_plot]
    sample, _label = legend.items[1]  # validation
    view = curves.graphics
    point = view.mapFromScene(sample.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert not curves.val_acc_item.isVisible()
    assert curves.acc_item.isVisible()
