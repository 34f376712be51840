"""The GUI event loop's heartbeat while the Experiments panel runs a sweep, against idle.

One process, offscreen: the Experiments panel (alone, or with ``--window`` in the
editor's window at 1600×1000, its Experiments tab shown) over a copy of
``resources/examples/lenet5.nbproj`` and a space like
``resources/examples/lenet5-sweep.json`` (learning rate and both convolution widths by
TPE, median pruning; ``--trials`` trials of ``--epochs`` epochs). A 10 ms ``QTimer``
(precise) ticks in the GUI thread; each tick's lateness (time since the previous tick
minus 10 ms) is collected over two phases of the same run:

1. **sweep** — Start pressed with ``--jobs`` worker processes, until the sweep ended and
   the panel showed its last snapshot;
2. **idle** — then the same panel, showing the finished sweep and running nothing, for
   ``--idle-seconds``: the reference (what this machine's load, Qt's own timer jitter
   and repainting the same plots give).

In both phases the plot tabs cycle every ``--tab-seconds`` (0: never), as a user looking
at them would: each switch repaints a plot in the GUI thread.

For each phase: ticks, p50, p99 and maximum lateness, and the GUI thread's CPU time as a
share of the phase's wall time; then the sweep / idle ratios of p99 and maximum (target
for the sweep: maximum ≤ 50 ms). The panel's own GUI-thread slots are timed too (the
timer's tick, laying out a snapshot, redrawing a plot): their worst call is what the
panel adds to a tick's lateness. The load average is printed with the figures: the
machine may be shared. Usage::

    python bench/bench_sweep_gui.py [--trials 8] [--jobs 2] [--epochs 3]
        [--idle-seconds 8] [--tab-seconds 1.0] [--window]
"""

from __future__ import annotations

import argparse
import functools
import gc
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
TICK_MS = 10
#: Ticks later than this are listed with what the GUI thread did meanwhile.
LATE_S = 0.030
#: The panel's GUI-thread methods whose calls are timed.
TIMED = ("_tick", "show_snapshot", "_show_tab", "_selection_changed")


def write_inputs(folder: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    """The project (LeNet-5) and a space like the example's, in ``folder``."""
    project = folder / "lenet5.nbproj"
    shutil.copy(ROOT / "resources" / "examples" / "lenet5.nbproj", project)
    space = json.loads((ROOT / "resources" / "examples" / "lenet5-sweep.json").read_text())
    space["training"]["epochs"] = args.epochs
    space["search"]["trials"] = args.trials
    space["pruner"]["warmup_epochs"] = min(space["pruner"]["warmup_epochs"], args.epochs - 1)
    path = folder / "bench-sweep.json"
    path.write_text(json.dumps(space), encoding="utf-8")
    return project, path


class Heartbeat:
    """A precise 10 ms timer in the GUI thread recording each tick's lateness (seconds)."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.lateness: list[float] = []
        #: The late ticks: (when, lateness, the GUI thread's CPU seconds since the last).
        self.late: list[tuple[float, float, float]] = []
        self._last = 0.0
        self._last_cpu = 0.0
        self._cpu = 0.0
        self._wall = 0.0

    def start(self) -> None:
        """Start a phase."""
        self.lateness, self.late = [], []
        self._last = time.perf_counter()
        self._cpu, self._wall = time.thread_time(), self._last
        self._last_cpu = self._cpu
        self.timer.start()

    def stop(self) -> dict[str, Any]:
        """End the phase; its figures."""
        self.timer.stop()
        wall = time.perf_counter() - self._wall
        return {"lateness": self.lateness, "late": self.late, "wall_s": wall,
                "gui_cpu_s": time.thread_time() - self._cpu, "load": os.getloadavg()}

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        lateness = max(0.0, now - self._last - TICK_MS / 1000)
        self.lateness.append(lateness)
        if lateness > LATE_S:
            self.late.append((now, lateness, cpu - self._last_cpu))
        self._last, self._last_cpu = now, cpu


#: A timed call: (method, when it ended, seconds it took, GUI-thread CPU seconds).
Call = tuple[str, float, float, float]


def time_collections(calls: list[Call]) -> None:
    """Record each pass of Python's cyclic garbage collector as a call ``gc genN``."""
    began: dict[str, float] = {}

    def callback(phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            began["at"] = now
        elif "at" in began:
            calls.append((f"gc gen{info['generation']}", now, now - began.pop("at"), 0.0))

    gc.callbacks.append(callback)


def time_slots(cls: type, calls: list[Call]) -> None:
    """Wrap the panel's GUI-thread methods so each call's duration is recorded."""
    for name in TIMED:
        original = getattr(cls, name)
        arity = len(inspect.signature(original).parameters) - 1  # Qt passes what fits

        def timed(self: Any, *a: Any, _original: Callable[..., Any] = original,
                  _name: str = name, _arity: int = arity) -> Any:
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return _original(self, *a[:_arity])
            finally:
                ended = time.perf_counter()
                calls.append((_name, ended, ended - started, time.thread_time() - cpu))

        setattr(cls, name, functools.wraps(original)(timed))


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Both phases in this process; their figures."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from netbuilder.ui.app import create_application
    from netbuilder.ui.experiments.panel import ExperimentsPanel

    project, space = write_inputs(folder, args)
    app = create_application()
    calls: list[Call] = []
    time_slots(ExperimentsPanel, calls)
    time_collections(calls)
    window = None
    if args.window:
        window = open_window(folder, project)
        panel = window.experiments.panel
    else:
        panel = ExperimentsPanel(lambda: project)
        panel.resize(1280, 560)
        panel.show()
    panel.space_edit.setText(str(space))
    panel.jobs_spin.setValue(args.jobs)
    heartbeat = Heartbeat()
    figures: dict[str, Any] = {}
    tabs = QTimer()
    tabs.setInterval(round(args.tab_seconds * 1000))
    tabs.timeout.connect(lambda: panel.tabs.setCurrentIndex(
        (panel.tabs.currentIndex() + 1) % panel.tabs.count()))

    def sweep_done() -> None:
        if panel.busy or panel.timer.isActive():
            return
        watch.stop()
        figures["sweep"] = heartbeat.stop()
        figures["sweep"]["status"] = panel.status_label.text()
        figures["calls"] = list(calls)
        heartbeat.start()
        QTimer.singleShot(round(args.idle_seconds * 1000), idle_done)

    def idle_done() -> None:
        tabs.stop()
        figures["idle"] = heartbeat.stop()
        app.exit(0)

    watch = QTimer()
    watch.timeout.connect(sweep_done)
    heartbeat.start()
    if args.tab_seconds > 0:
        tabs.start()
    panel.start()
    watch.start(200)
    app.exec()
    panel.shutdown()
    if window is not None:
        window.close()
    QApplication.processEvents()
    return figures


def open_window(folder: Path, project: Path) -> Any:
    """The editor at 1600×1000 on ``project`` (its settings in ``folder``), the Experiments
    tab shown from the View menu."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from netbuilder.ui.main_window import MainWindow

    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, recovery_dir=folder / "recovery",
                        user_blocks_dir=folder / "blocks")
    if not window.files.open_path(project):
        raise SystemExit(f"cannot open {project}")
    window.resize(1600, 1000)
    window.show()
    window.experiments_dock.toggleViewAction().trigger()
    QApplication.processEvents()
    return window


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (seconds in, milliseconds out)."""
    import numpy as np

    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    """Print both phases, their ratios and the panel's slowest GUI-thread calls."""
    sweep = figures["sweep"]
    print(f"Experiments panel, LeNet-5 on digits: {args.trials} trials × {args.epochs} "
          f"epochs, {args.jobs} worker processes, {os.cpu_count()} CPUs")
    print(f"  sweep ended in {sweep['wall_s']:.1f} s: {sweep['status']}")
    stats = {}
    for phase in ("sweep", "idle"):
        data = figures[phase]
        late = data["lateness"]
        stats[phase] = (percentile(late, 50), percentile(late, 99), max(late) * 1000)
        load = ", ".join(f"{v:.2f}" for v in data["load"])
        busy = 100 * data["gui_cpu_s"] / data["wall_s"]
        print(f"  {phase:<5} {len(late):5d} ticks of {TICK_MS} ms over {data['wall_s']:5.1f} s:"
              f" lateness p50 {stats[phase][0]:6.2f} ms, p99 {stats[phase][1]:6.2f} ms, "
              f"max {stats[phase][2]:6.2f} ms; GUI thread busy {busy:4.1f} % of a core; "
              f"load average at the end {load}")
    idle, swept = stats["idle"], stats["sweep"]
    print(f"  ratio sweep / idle: p99 {swept[1] / max(idle[1], 1e-3):.2f}, max "
          f"{swept[2] / max(idle[2], 1e-3):.2f}   (target: sweep max ≤ 50 ms)")
    calls: list[Call] = figures["calls"]
    worst: dict[str, list[tuple[float, float]]] = {}
    for name, _ended, seconds, cpu in calls:
        worst.setdefault(name, []).append((seconds, cpu))
    slots = ", ".join(f"{name} {len(v)}× worst {max(w for w, _ in v) * 1000:.1f} ms "
                      f"(CPU {max(c for _, c in v) * 1000:.1f} ms)"
                      for name, v in sorted(worst.items()))
    print(f"  panel slots in the GUI thread during the sweep: {slots}")
    print(f"  the worst ticks of the sweep (> {LATE_S * 1000:.0f} ms late): lateness, the GUI "
          f"thread's CPU meanwhile, the panel's calls meanwhile")
    for when, lateness, cpu in sorted(sweep["late"], key=lambda t: -t[1])[:8]:
        begun = when - lateness - TICK_MS / 1000
        during = [f"{n} {s * 1000:.0f} ms" for n, ended, s, _ in calls
                  if begun <= ended <= when]
        print(f"    {lateness * 1000:7.1f} ms  cpu {cpu * 1000:6.1f} ms  "
              f"{', '.join(during) or '-'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=8.0)
    parser.add_argument("--window", action="store_true",
                        help="the panel in the editor's window at 1600×1000 (Experiments "
                             "tab), not alone")
    parser.add_argument("--tab-seconds", type=float, default=1.0,
                        help="the plot tabs cycle this often in both phases (0: never)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the pruner needs a warm-up epoch)")
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        figures = run(args, Path(tmp))
    report(figures, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
