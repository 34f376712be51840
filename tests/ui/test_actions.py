"""The action table: each key bound once, each row runs a real method of what it acts on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import shiboken6
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from pytestqt.qtbot import QtBot

from netbuilder.core.document import Document
from netbuilder.ui import actions as actions_module
from netbuilder.ui.action_table import (
    ACTIONS,
    EDIT_ACTIONS,
    FILE_ACTIONS,
    MODEL_ACTIONS,
    TRAINING_ACTIONS,
    WINDOW_ACTIONS,
)
from netbuilder.ui.actions import MENU_BAR, ActionSpec
from netbuilder.ui.editor import NetworkEditor
from netbuilder.ui.file_controller import FileController
from netbuilder.ui.main_window import MainWindow
from netbuilder.ui.models_controller import ModelsController
from netbuilder.ui.training.launcher import TrainingLauncher

#: Each section of the table and the class of the object its rows act on.
SECTIONS: tuple[tuple[Sequence[ActionSpec[Any]], type], ...] = (
    (FILE_ACTIONS, FileController), (MODEL_ACTIONS, ModelsController),
    (EDIT_ACTIONS, NetworkEditor), (WINDOW_ACTIONS, MainWindow),
    (TRAINING_ACTIONS, TrainingLauncher))
#: Every place a row may name: the menu bar's menus, submenus, toolbars, context menus.
PLACES = {key for key, _title in MENU_BAR} | {
    actions_module.THEME, actions_module.TOOLBAR, actions_module.NODE_MENU,
    actions_module.CANVAS_MENU, actions_module.RUN_BAR, actions_module.FAULT_BANNER}


def portable(key: str | QKeySequence) -> str:
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Document(), settings=settings, recovery_dir=tmp_path / "recovery",
                        user_blocks_dir=tmp_path / "blocks")
    yield window
    if shiboken6.isValid(window):
        window.close()


def test_the_sections_make_the_whole_table() -> None:
    assert [spec for section, _target in SECTIONS for spec in section] == list(ACTIONS)
    names = [spec.name for spec in ACTIONS]
    assert len(names) == len(set(names))


def test_no_key_sequence_is_bound_twice() -> None:
    bound: dict[str, str] = {}
    for spec in ACTIONS:
        for key in spec.keys:
            assert portable(key), f"{spec.name}: {key!r} is not a key sequence"
            assert portable(key) not in bound, f"{key}: {bound.get(portable(key))}, {spec.name}"
            bound[portable(key)] = spec.name
    assert {"Ctrl+G", "Ctrl+R", "Del", "Backspace", "Ctrl+Backspace", "F", "+"} <= set(bound)


def test_every_row_says_what_it_does_and_where_it_appears() -> None:
    for spec in ACTIONS:
        assert spec.text and spec.tip and callable(spec.callback), spec.name
        assert {place.menu for place in spec.places} <= PLACES, spec.name
        assert spec.scope in (actions_module.WINDOW, actions_module.CANVAS), spec.name


@pytest.mark.parametrize(("section", "target_type"), SECTIONS,
                         ids=[t.__name__ for _s, t in SECTIONS])
def test_every_row_runs_a_method_of_its_target(section: Sequence[ActionSpec[Any]],
                                               target_type: type) -> None:
    """A callback or predicate naming a missing method, or calling one with the wrong
    arguments, fails on a spec of its target's class."""
    for spec in section:
        target = mock.create_autospec(target_type, instance=True)
        spec.callback(target)
        assert target.method_calls, f"{spec.name} calls nothing on its target"
        for predicate in (spec.enabled, spec.checked, spec.visible, spec.label):
            if predicate is not None:
                predicate(mock.create_autospec(target_type, instance=True))


def test_the_window_binds_each_key_once(window: MainWindow) -> None:
    """Actions, canvas keys and every other shortcut of the window, training included."""
    bound: dict[str, list[str]] = {}
    for action in window.findChildren(QAction):
        for key in action.shortcuts():
            bound.setdefault(portable(key), []).append(action.objectName())
    for shortcut in window.findChildren(QShortcut):
        bound.setdefault(portable(shortcut.key()), []).append("QShortcut")
    assert {key: names for key, names in bound.items() if len(names) > 1} == {}
    assert {portable(k) for spec in ACTIONS for k in spec.keys} <= set(bound)


def test_the_menus_are_laid_out_from_the_rows(window: MainWindow) -> None:
    assert set(window.act) == {spec.name for spec in ACTIONS}
    for spec in ACTIONS:
        for place in spec.places:
            if place.menu in window.menus:
                assert window.act[spec.name] in window.menus[place.menu].actions(), spec.name
    edit = [a.objectName() for a in window.menus["edit"].actions() if not a.isSeparator()]
    assert edit == [spec.object_name for spec in sorted(
        (s for s in EDIT_ACTIONS if any(p.menu == "edit" for p in s.places)),
        key=lambda s: next((p.group, p.order) for p in s.places if p.menu == "edit"))]
