"""Start-up to a visible editor window, as a figure and as a ratio, offscreen.

Each run starts a fresh Python process and measures, by the wall clock, the time from just
before the process is spawned to the moment its window is exposed (shown and painted):

* **reference**: a bare ``QMainWindow`` (import PySide6, create the application, show);
* **NetBuilder**: ``netbuilder.ui.app`` — application set-up, theme, the main window on
  the LeNet-5 example with palette, inspector and canvas.

Both start the same interpreter in the same way, so the ratio shows what NetBuilder adds
to a trivial Qt start. Byte-code caching is on (as in an installed package): one warm-up
run of each writes the ``.pyc`` files before the measured runs. The child also reports
whether torch, torchvision or pyqtgraph had been imported by then (they must not be:
torch loads lazily, after the window shows).
Each child gets empty, temporary settings and data folders.

Target (issue 4): under 1.5 s to a visible window.

Usage: ``python bench/bench_startup.py [--runs 7]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.5

_REPORT = """
import json, os, sys, time
from PySide6.QtWidgets import QApplication
app = QApplication.instance()
while not (window.windowHandle() and window.windowHandle().isExposed()):
    app.processEvents()
app.processEvents()
heavy = [m for m in ("torch", "torchvision", "pyqtgraph") if m in sys.modules]
print(json.dumps({"visible": time.time(), "heavy": heavy, "title": window.windowTitle()}))
sys.stdout.flush()
os._exit(0)
"""

BARE = """
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
window = QMainWindow()
window.setWindowTitle("reference")
window.resize(1280, 800)
window.show()
""" + _REPORT

NETBUILDER = """
from netbuilder.ui.app import create_application
from netbuilder.ui.main_window import MainWindow
app = create_application()
window = MainWindow.launch(None, ask_restore=lambda info: False)
window.resize(1280, 800)
window.show()
""" + _REPORT


def run_child(code: str, home: Path) -> dict[str, object]:
    """Start ``code`` in a fresh interpreter; return its report plus ``seconds``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CACHE_HOME": str(home / "cache")})
    start = time.time()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["seconds"] = report["visible"] - start
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    bare: list[float] = []
    ours: list[float] = []
    heavy: set[str] = set()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        run_child(BARE, home)  # warm the file cache once for both
        run_child(NETBUILDER, home)
        for _ in range(args.runs):
            bare.append(float(run_child(BARE, home)["seconds"]))  # type: ignore[arg-type]
            report = run_child(NETBUILDER, home)
            ours.append(float(report["seconds"]))  # type: ignore[arg-type]
            heavy.update(report["heavy"])  # type: ignore[arg-type]
    reference, figure = statistics.median(bare), statistics.median(ours)
    print(f"start-up to a visible window, offscreen, median of {args.runs} "
          f"(min–max in brackets)")
    print(f"{'reference: bare QMainWindow':34s} {reference:6.3f} s "
          f"[{min(bare):.3f}–{max(bare):.3f}]")
    print(f"{'NetBuilder on LeNet-5':34s} {figure:6.3f} s "
          f"[{min(ours):.3f}–{max(ours):.3f}]   ×{figure / reference:.2f} reference")
    verdict = "meets" if figure < TARGET_S else "MISSES"
    print(f"target < {TARGET_S} s: {verdict} it; heavy modules imported before the window "
          f"showed: {', '.join(sorted(heavy)) or 'none'}")


if __name__ == "__main__":
    main()
