"""The Experiments panel: start and stop a sweep, watch its study, compare trials.

The panel never runs a trial in the editor's process: Start opens the study and starts
worker processes (:class:`~netbuilder.experiments.runner.SweepRunner`) from a background
thread; a timer then reads the study's storage — on that thread too, so the GUI thread
only lays out the snapshot it gets back — and looks after the workers. Any study can be
watched live, including one whose workers run on other machines (:meth:`watch`, the
"Watch a study" row): a storage that cannot be reached is one line in the status.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from netbuilder.core.errors import NetBuilderError
from netbuilder.core.messages import one_line
from netbuilder.experiments.runner import (
    SweepRunner,
    default_jobs,
    fail_orphans,
    lower_priority,
    prepare_sweep,
)
from netbuilder.experiments.study import (
    Snapshot,
    TrialRow,
    default_storage,
    read_snapshot,
)
from netbuilder.ui.experiments.plots import (
    CurvesPlot,
    ImportancePlot,
    ParallelCoordinates,
    ParetoPlot,
    colour,
)
from netbuilder.ui.experiments.watch import WatchBar

#: Milliseconds between looks at the study's storage.
POLL_MS = 700
#: Rows measured when the table's columns are fitted to their contents.
RESIZE_ROWS = 100
#: How much nicer than the editor the reader process is (the workers are nicer still).
READER_NICE = 5


class _NumberItem(QTableWidgetItem):
    """A table cell that sorts by its number, not its text."""

    def __init__(self, text: str, number: float | None) -> None:
        super().__init__(text)
        self.number = number

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _NumberItem):
            mine = self.number if self.number is not None else float("-inf")
            theirs = other.number if other.number is not None else float("-inf")
            return mine < theirs
        return super().__lt__(other)


def _cell(value: Any) -> tuple[str, float | None]:
    if isinstance(value, bool):
        return str(value).lower(), float(value)
    if isinstance(value, float):
        return f"{value:.4g}", value
    if isinstance(value, int):
        return f"{value:,}", float(value)
    return ("" if value is None else str(value)), None


class ExperimentsPanel(QWidget):
    """Trials table, overlaid curves, parallel coordinates, importance and Pareto plots.

    Signals:
        openTrialRequested(str): The user asked to open a trial's project file.
        statusMessage(str): A line for the status bar.
    """

    openTrialRequested = Signal(str)
    statusMessage = Signal(str)

    def __init__(self, project_path: Callable[[], Path | None] = lambda: None,
                 parent: QWidget | None = None, *, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("experimentsPanel")
        self.setAccessibleName("Experiments")
        self.project_path = project_path
        self.runner: SweepRunner | None = None
        self.storage: str | None = None
        self.study_name: str | None = None
        self.snapshot: Snapshot | None = None
        # Opening a study runs on a thread; reading one (SQL, importance forests) in a
        # process of its own, so its Python work never holds the GUI thread's GIL.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="experiments")
        self._reader: ProcessPoolExecutor | None = None
        self._reading: Future[Snapshot] | None = None
        self._reading_for: tuple[str, str] | None = None
        self._attaching = False  # a watched study's first read is under way
        self._starting: Future[SweepRunner] | None = None
        self._jobs = 1
        self._read_when_idle = False
        self._stale: set[QWidget] = set()
        self._build(settings)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._tick)

    # -- layout ------------------------------------------------------------------------------
    def _build(self, settings: QSettings | None) -> None:
        self.space_edit = QLineEdit()
        self.space_edit.setPlaceholderText("search space (.json)")
        self.space_edit.setObjectName("experimentSpace")
        browse = _button("Space…", "experimentBrowse", self._browse_space)
        self.jobs_spin = QSpinBox()
        self.jobs_spin.setRange(1, 64)
        self.jobs_spin.setValue(min(default_jobs(), 2))
        self.jobs_spin.setObjectName("experimentJobs")
        self.jobs_spin.setToolTip("Trials at once (worker processes)")
        self.start_button = _button("Start", "experimentStart", self.start)
        self.stop_button = _button("Stop", "experimentStop", self.stop)
        self.open_button = _button("Open trial", "experimentOpenTrial", self.open_selected)
        self.stop_button.setEnabled(False)
        self.open_button.setEnabled(False)
        self.status_label = QLabel(
            "No sweep yet: save the project, choose a search space (Space…; "
            "resources/examples/lenet5-sweep.json sweeps LeNet-5) and press Start — "
            "or watch a study that runs elsewhere")
        self.status_label.setWordWrap(True)
        self.status_label.setObjectName("experimentStatus")
        self.watch_bar = WatchBar(settings)
        self.watch_bar.watchRequested.connect(self.watch)
        self.watch_bar.problem.connect(self._say)
        bar = QHBoxLayout()
        for widget in (self.space_edit, browse, QLabel("Jobs"), self.jobs_spin,
                       self.start_button, self.stop_button, self.open_button):
            bar.addWidget(widget)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("experimentTrials")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)  # a long note is elided, the rows stay one line
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setResizeContentsPrecision(RESIZE_ROWS)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.curves = CurvesPlot()
        self.parallel = ParallelCoordinates()
        self.importance = ImportancePlot()
        self.pareto = ParetoPlot()
        self.tabs = QTabWidget()
        for widget, title in ((self.curves, "Curves"), (self.parallel, "Parallel coordinates"),
                              (self.importance, "Importance"), (self.pareto, "Pareto")):
            self.tabs.addTab(widget, title)
        self.tabs.currentChanged.connect(self._show_tab)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.tabs)
        split.setSizes([520, 480])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.watch_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(split, 1)

    def _browse_space(self) -> None:
        folder = self.project_path()
        name, _ = QFileDialog.getOpenFileName(self, "Search space",
                                              str(folder.parent) if folder else "",
                                              "Search spaces (*.json)")
        if name:
            self.space_edit.setText(name)

    # -- start, stop, watch ----------------------------------------------------------------
    def start(self) -> bool:
        """Open (or go on with) the study of the saved project and the chosen space, then
        start the workers; whether it started (else the status line says why)."""
        project_file = self.project_path()
        space_file = Path(self.space_edit.text()) if self.space_edit.text() else None
        if project_file is None:
            return self._say("Save the project first: a sweep trains the saved file")
        if space_file is None:
            return self._say("Choose a search space (.json) first")
        if self.busy:
            return self._say("A sweep is already running")
        self.storage = default_storage(project_file)
        self.study_name = space_file.stem
        self._jobs = self.jobs_spin.value()
        self._starting = self._executor.submit(self._start_sweep, project_file, space_file,
                                               self.storage, self.study_name, self._jobs)
        self._set_running(True)
        self._say(f"Starting {self._jobs} worker(s)…")
        self.timer.start()
        return True

    def watch(self, storage: str, study: str) -> bool:
        """Show the study ``study`` in ``storage`` live (its workers may be anywhere);
        whether watching began (not while this panel's own sweep runs).

        The storage is reached off the GUI thread. One that cannot be reached, or that
        holds no such study, ends the watch with one line in the status.
        """
        if self.busy:
            return self._say("A sweep is running here: stop it before watching another study")
        self.runner = None
        self.storage, self.study_name = storage, study
        self._attaching = True
        self.show_snapshot(Snapshot([], [], [], set(), {}))
        self._say(f"Connecting to {storage}…")
        self.timer.start()
        self._tick()
        return True

    def stop(self) -> None:
        """Ask the workers to stop; their trials under way end as failed (stopped)."""
        if self.runner is not None:
            self.runner.stop()
            self._say("Stopping: the trials under way end after their current batch")
        self.stop_button.setEnabled(False)

    @property
    def busy(self) -> bool:
        """Whether workers of this panel are starting or running."""
        return self._starting is not None or (self.runner is not None and self.runner.running)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def _say(self, text: str) -> bool:
        self.status_label.setText(text)
        self.statusMessage.emit(text)
        return False

    # -- the timer ---------------------------------------------------------------------------
    def _tick(self) -> None:
        self._check_start()
        if self.runner is not None and self.runner.poll(self._fail_orphans) \
                and not self._reading:
            self._set_running(False)
        if self._reading is None and self.storage and self.study_name:
            self._read_when_idle = not self.busy
            self._reading_for = (self.storage, self.study_name)
            self._reading = self._executor.submit(self._read, *self._reading_for)
        elif self._reading is not None and self._reading.done():
            self._take_snapshot(self._reading)
            self._reading = None

    def _start_sweep(self, project_file: Path, space_file: Path, storage: str, name: str,
                     jobs: int) -> SweepRunner:
        """Open the study in the reader process, then start its workers (on the background
        thread: neither the database work nor the process starts touch the GUI thread)."""
        artifacts = project_file.absolute().with_name(f"{project_file.stem}.sweeps")
        plan = self._reader_pool().submit(prepare_sweep, project_file, space_file, storage,
                                          name, jobs, artifacts).result()
        runner = SweepRunner(plan, log_dir=artifacts / name / "logs")
        runner.start()
        return runner

    def _read(self, storage: str, study: str) -> Snapshot:
        """Read a snapshot in the reader process (called on the background thread, which
        waits for it without holding the GIL)."""
        return self._reader_pool().submit(read_snapshot, storage, study).result()

    def _fail_orphans(self, storage: str, study: str, pid: int, how: str) -> None:
        """Fail a dead worker's trials in the reader process (never in the GUI thread)."""
        self._reader_pool().submit(fail_orphans, storage, study, pid, how)

    def _reader_pool(self) -> ProcessPoolExecutor:
        if self._reader is None:
            self._reader = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=lower_priority, initargs=(0, READER_NICE))
        return self._reader

    def _check_start(self) -> None:
        if self._starting is None or not self._starting.done():
            return
        starting, self._starting = self._starting, None
        try:
            self.runner = starting.result()
        except NetBuilderError as exc:
            self._set_running(False)
            self.timer.stop()
            self._say(f"Cannot start: {one_line(str(exc))}")
            return
        self._say(f"Sweep {self.study_name!r}: {len(self.runner.workers)} worker(s)")

    def _take_snapshot(self, reading: Future[Snapshot]) -> None:
        if self._reading_for != (self.storage, self.study_name):
            return  # read for a study no longer shown
        try:
            snapshot = reading.result()
        except Exception as exc:  # whatever the storage raised: one line, no traceback
            self._reading_failed(exc)
            return
        if self._attaching and self.storage and self.study_name:
            self._attaching = False
            self.snapshot = None  # lay it out even when it looks like the cleared one
            self.watch_bar.remember(self.storage, self.study_name)
        self.show_snapshot(snapshot)
        if self.runner is not None and self._read_when_idle:  # read after the last worker
            self.timer.stop()
            self._say(f"Sweep ended: {self._summary(snapshot)}")

    def _reading_failed(self, exc: Exception) -> None:
        """Say why the study could not be read; a watch that never reached it ends."""
        if isinstance(exc, BrokenProcessPool):  # the reader process died: a new one next
            self._reader = None
        reason = one_line(str(exc)) if isinstance(exc, NetBuilderError) else \
            f"{type(exc).__name__}: {one_line(str(exc))}"
        if not self._attaching:
            self._say(reason)
            return
        self._attaching = False
        self.storage = self.study_name = None
        if not self.busy:
            self.timer.stop()
        self._say(f"Cannot watch: {reason}")

    # -- showing -----------------------------------------------------------------------------
    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Lay out ``snapshot`` in the table and the plots (keeping the selection)."""
        if self.snapshot is not None and _signature(self.snapshot) == _signature(snapshot):
            return
        selected = set(self.selected_numbers())
        self.snapshot = snapshot
        self._fill_table(snapshot, selected)
        self._stale = {self.parallel, self.importance, self.pareto}
        self._selection_changed()
        self._show_tab()
        if self.busy:
            self.status_label.setText(self._summary(snapshot))
        elif self.runner is None and self.study_name and not self._attaching:
            self.status_label.setText(f"Watching {self.study_name!r}: "
                                      f"{self._summary(snapshot)}")

    def _show_tab(self) -> None:
        """Redraw the plot on show when the study moved on (hidden plots wait)."""
        plot = self.tabs.currentWidget()
        if plot in self._stale and self.snapshot is not None:
            self._stale.discard(plot)
            plot.show_snapshot(self.snapshot)  # type: ignore[attr-defined]

    @staticmethod
    def _summary(snapshot: Snapshot) -> str:
        counts: dict[str, int] = {}
        for row in snapshot.rows:
            counts[row.state] = counts.get(row.state, 0) + 1
        return ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no trial"

    def _fill_table(self, snapshot: Snapshot, selected: set[int]) -> None:
        headers = ["#", "state", *snapshot.keys, *snapshot.objectives, "params", "MACs",
                   "note"]
        table = self.table
        refit = (table.rowCount() != len(snapshot.rows) or table.columnCount() != len(headers)
                 or any(table.horizontalHeaderItem(i) is None
                        or table.horizontalHeaderItem(i).text() != h
                        for i, h in enumerate(headers)))
        table.setSortingEnabled(False)
        table.blockSignals(True)
        table.clear()
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.setRowCount(len(snapshot.rows))
        for index, row in enumerate(snapshot.rows):
            values = list(row.values) if row.values else [None] * len(snapshot.objectives)
            cells = [row.number, row.state, *(row.params.get(k) for k in snapshot.keys),
                     *values, row.metrics.get("params"), row.metrics.get("macs"), row.reason]
            for column, value in enumerate(cells):
                text, number = _cell(value)
                item = _NumberItem(text, number)
                if column == 0:  # the legend of the curves: the trial's colour
                    item.setData(Qt.ItemDataRole.UserRole, row.number)
                    item.setData(Qt.ItemDataRole.DecorationRole, QColor(colour(row.number)))
                table.setItem(index, column, item)
            if row.number in selected:
                table.selectRow(index)
        table.blockSignals(False)
        table.setSortingEnabled(True)
        if refit:  # new trials or columns: fitted once, not at every epoch a trial reports
            table.resizeColumnsToContents()

    def selected_numbers(self) -> list[int]:
        """Trial numbers of the selected rows."""
        rows = {index.row() for index in self.table.selectedIndexes()}
        numbers = []
        for row in sorted(rows):
            item = self.table.item(row, 0)
            if item is not None:
                numbers.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return numbers

    def _rows(self, numbers: list[int]) -> list[TrialRow]:
        rows = self.snapshot.rows if self.snapshot is not None else []
        return [r for r in rows if r.number in numbers] if numbers else rows

    def _selection_changed(self) -> None:
        numbers = self.selected_numbers()
        self.curves.show_trials(self._rows(numbers))
        chosen = self._rows(numbers)[:1] if numbers else []
        self.open_button.setEnabled(bool(chosen and chosen[0].project_file))

    def open_selected(self) -> None:
        """Ask for the selected trial's trained variant to open as a new document."""
        numbers = self.selected_numbers()
        rows = self._rows(numbers[:1]) if numbers else []
        if rows and rows[0].project_file:
            self.openTrialRequested.emit(rows[0].project_file)

    def shutdown(self) -> None:
        """Stop the workers and the background thread (the window is closing)."""
        self.timer.stop()
        if self.runner is not None:
            self.runner.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._reader is not None:
            self._reader.shutdown(wait=False, cancel_futures=True)


def _signature(snapshot: Snapshot) -> list[tuple[int, str, int]]:
    """What changes when a study moves on: each trial's state and epochs reported."""
    return [(row.number, row.state, len(row.curve)) for row in snapshot.rows]


def _button(text: str, name: str, slot: Callable[[], object]) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.clicked.connect(slot)
    return button
