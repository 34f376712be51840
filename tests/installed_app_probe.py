"""Start NetBuilder as its ``netbuilder`` command does and print what the window shows.

Run by ``tests/test_packaging.py`` in a fresh interpreter whose only copy of NetBuilder
is an installed wheel (``python -S installed_app_probe.py`` from a temporary folder). It
prints one JSON object: where ``netbuilder`` was imported from, the interpreter's
``sys.path``, the start document (title, metadata, node names), whether the application
icon and the toolbar's action icons drew, and the command's exit status.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QToolBar

import netbuilder
from netbuilder import cli
from netbuilder.resources import examples, resources_dir
from netbuilder.ui.app import create_application
from netbuilder.ui.main_window import MainWindow

facts: dict[str, Any] = {"netbuilder": netbuilder.__file__, "sys_path": sys.path}


def toolbar_icons() -> dict[str, bool]:
    """Text of every toolbar action → whether its icon draws (a non-null 32 px pixmap)."""
    window = MainWindow.windows[-1]
    return {action.text(): not action.icon().pixmap(32).isNull()
            for bar in window.findChildren(QToolBar) for action in bar.actions()
            if not action.isSeparator() and action.isVisible()}


def inspect_and_quit() -> None:
    """Record the first window's document and icons, then close it and quit."""
    window = MainWindow.windows[-1]
    document = window.document
    facts.update(
        window_title=window.windowTitle(),
        meta=document.meta,
        node_names=sorted(node.name for node in document.graph.nodes.values()),
        app_icon_draws=not QApplication.windowIcon().pixmap(64).isNull(),
        toolbar_icons=toolbar_icons(),
        resources_dir=str(resources_dir()),
        examples=sorted(examples()),
    )
    document.history.set_clean()
    window.close()
    QApplication.quit()


def main() -> int:
    """Run ``netbuilder`` (no arguments: the editor) with the probe scheduled inside."""
    create_application()  # the command reuses it; the timer below needs it
    QTimer.singleShot(0, inspect_and_quit)
    facts["exit_status"] = cli.main([])
    print(json.dumps(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
