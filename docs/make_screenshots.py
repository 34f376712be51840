"""Write the README's pictures of the editor and of training into ``docs/screenshots``.

::

    python docs/make_screenshots.py                  # all of them, into docs/screenshots
    python docs/make_screenshots.py --out /tmp/shots --only editor

The windows are drawn offscreen (``QT_QPA_PLATFORM=offscreen`` unless set otherwise), with
their settings, crash-recovery and checkpoint folders in a temporary folder, so the
user's own configuration is neither read nor changed. Training runs 12 short epochs of
LeNet-5 on the built-in digits, on the CPU (a minute at most).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from netbuilder.ui import dialogs
from netbuilder.ui.app import create_application
from netbuilder.ui.main_window import MainWindow, start_document

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
#: Longest wait for the window or the training run to reach a state, in seconds.
WAIT_S = 120.0
#: Training settings of the training pictures: 12 short epochs on the built-in digits.
TRAINING = {"epochs": 12, "batch_size": 32, "lr": 3e-3, "device": "cpu"}


@dataclass(frozen=True)
class EditorShot:
    """One picture of the editor.

    Attributes:
        name: File name without ``.png``.
        template: Template opened first (None: the start example, LeNet-5).
        groups: Groups opened one inside the other, by name.
        selected: Node selected on the shown level.
        theme: ``light`` or ``dark``.
    """

    name: str
    template: str | None
    groups: tuple[str, ...]
    selected: str
    theme: str


EDITOR_SHOTS = (
    EditorShot("main-lenet5", None, (), "c3", "light"),
    EditorShot("main-lenet5-dark", None, (), "c3", "dark"),
    EditorShot("main-resnet50", "resnet50", ("layer1", "0"), "conv2", "light"),
)


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Run the event loop until ``condition()`` holds.

    Raises:
        TimeoutError: when it does not hold within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def settle() -> None:
    """Handle every pending event (layouts, deferred repaints, queued slots)."""
    QApplication.processEvents()
    QApplication.sendPostedEvents()
    QApplication.processEvents()


def open_window(folder: Path, size: tuple[int, int], theme: str) -> MainWindow:
    """A shown editor window on the start example whose settings live in ``folder``."""
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(start_document(), settings=settings, recovery_dir=folder / "recovery",
                        user_blocks_dir=folder / "blocks")
    window.training.checkpoint_root = folder / "runs"
    window.resize(*size)
    window.show()
    window.set_theme(theme)
    wait_until(window.isVisible, "the window to show")
    settle()
    return window


def save(window: MainWindow, path: Path) -> Path:
    """Grab the whole window into ``path``."""
    settle()
    if not window.grab().save(str(path)):
        raise OSError(f"cannot write {path}")
    print(path)
    return path


def close(window: MainWindow) -> None:
    """Close ``window`` without the unsaved-changes question."""
    window.document.history.set_clean()
    window.close()
    settle()


def select(window: MainWindow, name: str) -> None:
    """Select node ``name`` of the shown level (as a click on it would)."""
    window.view.select([window.view.current_graph.by_name(name).id])


def editor_picture(shot: EditorShot, folder: Path, out: Path) -> Path:
    """The editor with ``shot``'s document, level and selection."""
    window = open_window(folder, (1440, 900), shot.theme)
    if shot.template is not None:
        entry = next(e for e in dialogs.template_entries() if e.name == shot.template)
        window.files.open_template(entry)
        settle()
    window.editor.show_start_view()
    for group in shot.groups:
        window.view.open_group(window.view.current_graph.by_name(group).id)
    select(window, shot.selected)
    path = save(window, out / f"{shot.name}.png")
    close(window)
    return path


def training_pictures(folder: Path, out: Path) -> list[Path]:
    """Curves while LeNet-5 trains; then, paused, the feature maps of ``c3``."""
    window = open_window(folder, (1600, 1000), "light")
    window.document.training.update(TRAINING)
    window.training.actions["train"].trigger()
    panel = window.training.panel
    assert panel is not None, "Train opens the training panel"
    wait_until(lambda: panel.session.state == "running", "training to start")
    select(window, "c3")
    wait_until(lambda: len(panel.curves.epochs) >= 8, "eight epochs")
    written = [save(window, out / "training.png")]
    window.training.actions["pause"].trigger()
    wait_until(lambda: panel.session.state == "paused", "training to pause")
    titles = [panel.tabs.tabText(k) for k in range(panel.tabs.count())]
    panel.tabs.setCurrentIndex(titles.index("Feature maps"))
    wait_until(lambda: panel.features.capture is not None, "the feature maps of c3")
    written.append(save(window, out / "training-features.png"))
    window.training.shutdown()
    close(window)
    return written


def memory_pictures(folder: Path, out: Path) -> list[Path]:
    """LeNet-5 profiled (the heat overlay), then c3's Memory section in the inspector."""
    from netbuilder.ui.canvas.heat import heat_badges

    window = open_window(folder, (1440, 900), "light")
    window.editor.show_start_view()
    window.profile_network()
    wait_until(lambda: bool(heat_badges(window.view.scene())), "the heat overlay")
    written = [save(window, out / "profile-heat.png")]
    select(window, "c3")
    settle()
    window.inspector.ensureWidgetVisible(window.inspector.memory)
    written.append(save(window, out / "memory-section.png"))
    close(window)
    return written


def experiments_picture(folder: Path, out: Path) -> Path:
    """The Experiments panel after a six-trial sweep of the example space on LeNet-5."""
    import json

    from netbuilder.resources import resource_path

    window = open_window(folder, (1600, 1000), "light")
    window.document.save(folder / "lenet5.nbproj")
    space = json.loads(resource_path("examples", "lenet5-sweep.json").read_text())
    space["search"]["trials"] = 6
    (folder / "lenet5-sweep.json").write_text(json.dumps(space))
    window.experiments_dock.toggleViewAction().trigger()  # as the View menu does
    window.resizeDocks([window.experiments_dock], [520], Qt.Orientation.Vertical)
    panel = window.experiments.panel
    panel.space_edit.setText(str(folder / "lenet5-sweep.json"))
    panel.jobs_spin.setValue(2)
    panel.start()
    wait_until(lambda: not panel.timer.isActive(), "the sweep to end", 600)
    path = save(window, out / "experiments.png")
    close(window)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Write the pictures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SCREENSHOTS,
                        help=f"folder of the pictures (default: {SCREENSHOTS})")
    parser.add_argument("--only", choices=("editor", "training"),
                        help="only the editor's or only the training pictures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    create_application()
    with tempfile.TemporaryDirectory(prefix="netbuilder-shots-") as temp:
        folder = Path(temp)
        if args.only != "training":
            for shot in EDITOR_SHOTS:
                editor_picture(shot, folder, args.out)
            memory_pictures(folder, args.out)
        if args.only != "editor":
            training_pictures(folder, args.out)
            experiments_picture(folder, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
