"""Training with the editor window open and every panel live, against headless training.

Two figures, offscreen:

1. **Throughput ratio** — the same network (LeNet-5 from the bundled example), data set
   (digits), settings and callbacks (a ``ModelCheckpoint`` writing every epoch) trained
   headless (``Trainer.fit`` in the main thread, no Qt, torch's default threads: what
   ``netbuilder train`` does) and from the window's Train button with all panels live:
   the curves drawn, a node selected on the canvas so that its feature maps are captured,
   the statistics probed, and the visible tab cycling through Curves, Feature maps and
   Statistics every second as a user would. Throughput is the trainer's own training
   samples/s (validation excluded), the median of the epochs after the first.

   Every run is a fresh process (``--child``), as a user's run is: a run in a process
   that already trained and closed windows inherits their leftovers (thread pools,
   allocator state, widgets waiting for deletion) and measures those instead. Each
   repeat runs the window and the headless child one after the other, in alternating
   order. The figure is the median over repeats of each repeat's ratio window /
   headless (target ≥ 0.90): the two runs of a repeat see the same load of the machine,
   whose speed drifts by a quarter over tens of seconds on a shared host. The medians of
   each side and their ratio are printed too. The GUI thread's
   own CPU time during training is printed too: on a machine whose cores all train, that
   is what the window takes from training.
2. **Responsiveness** — during the window runs a 10 ms ``QTimer`` (precise) ticks in the
   GUI thread; the lateness of each tick (time since the previous tick minus 10 ms) is
   collected and its p50, p99 and maximum over all window runs are reported (target:
   maximum ≤ 50 ms).

Each run trains long enough to mean something: unless ``--epochs`` is given, a short
headless calibration run measures this machine's pace and the epochs are chosen so that a
run trains for about ``--seconds`` (at least 8 epochs). The machine's load varies from run
to run (shared cores), hence the repeats and medians. Usage::

    python bench/bench_gui_training.py [--seconds 6 | --epochs N] [--batch 32]
        [--repeats 9] [--threads N] [--window-threads N] [--switch-interval MS]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

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


# -- the children --------------------------------------------------------------------------
def child_headless(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    """Train without any window (torch's threads as given); samples/s."""
    import torch

    from netbuilder.training import ModelCheckpoint, TrainConfig, Trainer
    from netbuilder.ui.main_window import start_document

    config = TrainConfig.from_dict(settings(args))
    trainer = Trainer(start_document().graph, config, [ModelCheckpoint(folder / "headless")])
    trainer.setup()
    trainer.fit()
    assert trainer.data is not None
    return {"samples_per_s": throughput(trainer.history.epochs),
            "threads": torch.get_num_threads(),
            "train_samples": trainer.data.train.num_samples}


def child_window(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    """Train from the window's Train button with every panel live; samples/s, lateness."""
    from PySide6.QtCore import QSettings, Qt, QTimer

    from netbuilder.ui.app import create_application
    from netbuilder.ui.main_window import MainWindow, start_document

    app = create_application()
    qsettings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(start_document(), settings=qsettings, recovery_dir=folder / "rec",
                        user_blocks_dir=folder / "blocks")
    window.resize(1440, 960)
    window.show()
    window.document.training.update(settings(args))
    window.training.checkpoint_root = folder / "window"
    window.view.select([window.view.current_graph.by_name("c1").id])
    panel = window.training.ensure_panel()
    if args.window_threads:
        panel.session.torch_threads = args.window_threads
    window.training.show_dock()
    lateness: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, now - last[0] - TICK_MS / 1000))
        last[0] = now

    beat = QTimer()
    beat.setTimerType(Qt.TimerType.PreciseTimer)
    beat.setInterval(TICK_MS)
    beat.timeout.connect(tick)
    tabs = QTimer()
    tabs.setInterval(round(TAB_SECONDS * 1000))
    tabs.timeout.connect(lambda: panel.tabs.setCurrentIndex((panel.tabs.currentIndex() + 1) % 3))
    cpu: dict[str, float] = {}
    threads: list[int] = []

    def started(_info: object) -> None:
        import torch

        trainer = panel.session.trainer  # asked before the heartbeat starts: this waits
        threads.append(trainer.submit(torch.get_num_threads).result(60)
                       if trainer is not None else 0)
        cpu["start"], cpu["wall"] = time.thread_time(), time.perf_counter()
        last[0] = time.perf_counter()
        beat.start()
        tabs.start()

    def finished(_result: object) -> None:
        cpu["end"], cpu["wall_end"] = time.thread_time(), time.perf_counter()
        beat.stop()
        tabs.stop()

    panel.session.started.connect(started)
    panel.session.finished.connect(finished)
    panel.session.exited.connect(lambda: app.exit(0))
    QTimer.singleShot(200, window.training.actions["train"].trigger)
    app.exec()
    records = [e.as_json() for e in panel.curves.epochs]
    window.document.history.set_clean()
    window.close()
    return {"samples_per_s": throughput(records), "lateness": lateness,
            "gui_cpu_s": cpu["end"] - cpu["start"], "wall_s": cpu["wall_end"] - cpu["wall"],
            "threads": threads[0] if threads else 0}


def child(args: argparse.Namespace) -> int:
    """Run one measured run in this process and print its figures as one JSON line."""
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval / 1000)
    with tempfile.TemporaryDirectory() as tmp:
        job = child_window if args.child == "window" else child_headless
        print(json.dumps(job(args, Path(tmp))))
    return 0


# -- the parent ------------------------------------------------------------------------------
def spawn(kind: str, args: argparse.Namespace) -> dict[str, object]:
    """One child run of ``kind``; its figures."""
    command = [sys.executable, __file__, "--child", kind, "--epochs", str(args.epochs),
               "--batch", str(args.batch)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    if args.window_threads:
        command += ["--window-threads", str(args.window_threads)]
    if args.switch_interval:
        command += ["--switch-interval", str(args.switch_interval)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {kind} run failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def calibrate(args: argparse.Namespace) -> int:
    """Epochs for runs of about ``args.seconds`` of training, from a short headless run."""
    probe = argparse.Namespace(**{**vars(args), "epochs": 3})
    figures = spawn("headless", probe)
    per_epoch = float(figures["train_samples"]) / float(figures["samples_per_s"])
    return max(8, math.ceil(args.seconds / per_epoch))


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (seconds in, milliseconds out)."""
    import numpy as np

    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of every run (default: enough for --seconds)")
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="about how long each run trains when --epochs is not given")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch's intra-op threads on both sides (default: torch's own)")
    parser.add_argument("--window-threads", type=int, default=None,
                        help="torch threads of the window's runs (default: the session's "
                             "choice)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="Python's GIL switch interval in ms on both sides (default: "
                             "Python's)")
    parser.add_argument("--child", choices=("window", "headless"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    if args.epochs is None:
        args.epochs = calibrate(args)
    runs: dict[str, list[dict[str, object]]] = {"window": [], "headless": []}
    for repeat in range(args.repeats):
        for kind in (("window", "headless") if repeat % 2 == 0 else ("headless", "window")):
            runs[kind].append(spawn(kind, args))
    report(runs, args)
    return 0


def report(runs: dict[str, list[dict[str, object]]], args: argparse.Namespace) -> None:
    """Print the medians, the ratio, the GUI thread's CPU and the heartbeat's lateness."""
    rate = {kind: [float(r["samples_per_s"]) for r in rs] for kind, rs in runs.items()}
    median = {kind: statistics.median(values) for kind, values in rate.items()}
    print(f"LeNet-5 on digits, {args.epochs} epochs × batch {args.batch}, {args.repeats} "
          f"repeats (a fresh process each run), {os.cpu_count()} CPUs")
    for title, kind in (("window, all panels live", "window"), ("headless", "headless")):
        threads = runs[kind][0]["threads"]
        values = ", ".join(f"{v:,.0f}" for v in rate[kind])
        print(f"  {title:<24} {threads} thread(s)  {median[kind]:9,.0f} samples/s   "
              f"runs: {values}")
    # Each repeat's two runs follow each other: their ratio sees the same machine load
    # (this box's speed drifts by a quarter over tens of seconds), so it is the figure.
    paired = sorted(w / h for w, h in zip(rate["window"], rate["headless"]))
    quartiles = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
    print(f"  ratio window / headless, run by run: median {statistics.median(paired):.3f} "
          f"(quartiles {quartiles[0]:.3f}–{quartiles[2]:.3f})   (target ≥ 0.90)")
    print(f"  ratio of the medians: {median['window'] / median['headless']:.3f}")
    busy = [float(r["gui_cpu_s"]) / float(r["wall_s"]) for r in runs["window"]]
    wall = statistics.median(float(r["wall_s"]) for r in runs["window"])
    print(f"  GUI thread busy while training: median {100 * statistics.median(busy):.1f} % "
          f"of a core (window runs of {wall:.1f} s)")
    late = [v for r in runs["window"] for v in r["lateness"]]  # type: ignore[union-attr]
    print(f"  heartbeat lateness over {len(late)} ticks of 10 ms: p50 "
          f"{percentile(late, 50):.2f} ms, p99 {percentile(late, 99):.2f} ms, max "
          f"{max(late, default=0.0) * 1000:.2f} ms   (target max ≤ 50 ms)")


if __name__ == "__main__":
    raise SystemExit(main())
