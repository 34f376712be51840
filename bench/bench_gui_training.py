"""Training with the editor window open and every panel live, against headless training.

Two figures, offscreen:

1. **Throughput ratio** — the same network (LeNet-5 from the bundled example), data set
   (digits), settings and callbacks (a ``ModelCheckpoint`` writing every epoch) trained
   headless (``Trainer.fit`` in the main thread, no Qt event loop) and from the window's
   Train button with all panels live: the curves drawn, a node selected on the canvas so
   that its feature maps are captured, the statistics probed, and the visible tab cycling
   through Curves, Feature maps and Statistics every second as a user would. Throughput
   is the trainer's own training samples/s (validation excluded), the median of the
   epochs after the first. Each repeat runs, in rotating order, the window and two
   headless runs: one with as many torch threads as the window's run uses (the session
   leaves the GUI thread a core: one fewer than torch's default) — the cost of the live
   GUI — and one with torch's default — what a user gives up by training in the window
   rather than with ``netbuilder train``. Medians over repeats and the ratios window /
   headless are printed (target ≥ 0.90).
2. **Responsiveness** — during the window runs a 10 ms ``QTimer`` (precise) ticks in the
   GUI thread; the lateness of each tick (time since the previous tick minus 10 ms) is
   collected and its p50, p99 and maximum are reported (target: maximum ≤ 50 ms).

The machine's load varies from run to run (shared cores), hence the repeats and medians.
Usage::

    python bench/bench_gui_training.py [--epochs 8] [--batch 32] [--repeats 5]
        [--threads N] [--switch-interval MS]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import torch
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from netbuilder.core.document import Document
from netbuilder.training import ModelCheckpoint, TrainConfig, Trainer
from netbuilder.ui.app import create_application
from netbuilder.ui.main_window import MainWindow, start_document

TICK_MS = 10
TAB_SECONDS = 1.0


def settings(args: argparse.Namespace) -> dict[str, object]:
    """The training settings of both sides."""
    return {"dataset": "digits", "epochs": args.epochs, "batch_size": args.batch,
            "lr": 3e-3, "optimizer": "adam", "device": "cpu", "seed": 0}


def throughput(records: list[dict[str, object]]) -> float:
    """Median training samples/s over the epochs after the first (warm-up)."""
    rates = [float(r["samples_per_s"]) for r in records[1:] or records]  # type: ignore[arg-type]
    return statistics.median(rates)


def run_headless(document: Document, args: argparse.Namespace, folder: Path) -> float:
    """Train without any window; return samples/s."""
    config = TrainConfig.from_dict(settings(args))
    trainer = Trainer(document.graph, config, [ModelCheckpoint(folder / "headless")])
    trainer.setup()
    trainer.fit()
    return throughput(trainer.history.epochs)


class Heartbeat:
    """A 10 ms timer in the GUI thread that records how late each tick is."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self._last = 0.0
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lateness.append(max(0.0, now - self._last - TICK_MS / 1000))
        self._last = now


def run_window(app: QApplication, args: argparse.Namespace, folder: Path,
               beat: Heartbeat) -> float:
    """Train from the window's Train button with every panel live; return samples/s."""
    qsettings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(start_document(), settings=qsettings, recovery_dir=folder / "rec",
                        user_blocks_dir=folder / "blocks")
    window.resize(1440, 960)
    window.show()
    window.document.training.update(settings(args))
    window.training.checkpoint_root = folder / "window"
    panel_threads = args.window_threads
    window.view.select([window.view.current_graph.by_name("c1").id])
    panel = window.training.ensure_panel()
    panel.session.torch_threads = panel_threads
    window.training.show_dock()
    tabs = QTimer()
    tabs.setInterval(round(TAB_SECONDS * 1000))
    tabs.timeout.connect(lambda: panel.tabs.setCurrentIndex((panel.tabs.currentIndex() + 1) % 3))
    panel.session.started.connect(lambda _info: (beat.start(), tabs.start()))
    panel.session.finished.connect(lambda _result: (beat.stop(), tabs.stop()))
    panel.session.exited.connect(lambda: app.exit(0))
    QTimer.singleShot(200, window.training.actions["train"].trigger)
    app.exec()
    records = [e.as_json() for e in panel.curves.epochs]
    window.document.history.set_clean()
    window.close()
    app.processEvents()
    return throughput(records)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (milliseconds)."""
    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


def headless_with(threads: int, document: Document, args: argparse.Namespace,
                  folder: Path) -> float:
    """A headless run with ``threads`` torch threads (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return run_headless(document, args, folder)
    finally:
        torch.set_num_threads(before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch's default intra-op threads (default: torch's own)")
    parser.add_argument("--window-threads", type=int, default=None,
                        help="torch threads of the window's runs (default: the session's "
                             "choice, one fewer than the default)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="Python's GIL switch interval in ms (default: Python's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval / 1000)
    default = torch.get_num_threads()
    window_threads = args.window_threads or max(1, default - 1)
    app = create_application()
    document = start_document()
    beat = Heartbeat()
    runs: dict[str, list[float]] = {"window": [], "same": [], "default": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jobs = {"window": lambda: run_window(app, args, folder, beat),
                "same": lambda: headless_with(window_threads, document, args, folder),
                "default": lambda: headless_with(default, document, args, folder)}
        names = list(jobs)
        for repeat in range(args.repeats):
            for name in names[repeat % 3:] + names[:repeat % 3]:
                runs[name].append(jobs[name]())
    report(runs, beat.lateness, args, default, window_threads)
    return 0


def report(runs: dict[str, list[float]], late: list[float], args: argparse.Namespace,
           default: int, window_threads: int) -> None:
    """Print the medians, the ratios and the heartbeat's lateness."""
    median = {name: statistics.median(values) for name, values in runs.items()}
    print(f"LeNet-5 on digits, {args.epochs} epochs × batch {args.batch}, {args.repeats} "
          f"repeats, {os.cpu_count()} CPUs, GIL switch interval "
          f"{sys.getswitchinterval() * 1000:.1f} ms")
    rows = (("window, all panels live", "window", window_threads),
            ("headless, same threads", "same", window_threads),
            ("headless, torch default", "default", default))
    for title, name, threads in rows:
        values = ", ".join(f"{v:,.0f}" for v in runs[name])
        print(f"  {title:<25} {threads} thread(s)  {median[name]:9,.0f} samples/s   "
              f"runs: {values}")
    for name in ("same", "default"):
        print(f"  ratio window / headless ({name} threads): "
              f"{median['window'] / median[name]:.3f}   (target ≥ 0.90)")
    print(f"  heartbeat lateness over {len(late)} ticks of 10 ms: p50 "
          f"{percentile(late, 50):.2f} ms, p99 {percentile(late, 99):.2f} ms, max "
          f"{max(late, default=0.0) * 1000:.2f} ms   (target max ≤ 50 ms)")


if __name__ == "__main__":
    raise SystemExit(main())
