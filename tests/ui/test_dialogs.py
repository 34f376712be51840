"""The template dialog at its default size: whole captions with the parameter count,
thumbnails that tell the networks apart, cards that fill the dialog's width.

The dialog builds every template it lists; the tests use a few (a LeNet, three VGGs, a
ResNet) to stay quick, click and double-click the cards as a user does, and read what is
drawn: the card rectangles, the wrapped titles, the thumbnails' pixels.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from netbuilder.templates import list_templates
from netbuilder.ui import dialogs
from netbuilder.ui.main_window import MainWindow, start_document
from netbuilder.ui.template_cards import ROLE_FACTS, ROLE_TITLE, card_layout, title_height_needed
from netbuilder.ui.thumbnails import network_profile

NAMES = ("lenet5", "alexnet-paper", "vgg11", "vgg11_bn", "vgg13", "resnet18-cifar",
         "resnet20", "nin")


@pytest.fixture
def dialog(qtbot: QtBot) -> dialogs.TemplateDialog:
    entries = [e for e in dialogs.template_entries() if e.name in NAMES]
    widget = dialogs.TemplateDialog(entries)
    qtbot.addWidget(widget)
    with qtbot.waitExposed(widget):
        widget.show()
    widget.wait_until_computed()
    return widget


def card(dialog: dialogs.TemplateDialog, name: str) -> int:
    return next(k for k, e in enumerate(dialog.entries) if e.name == name)


def test_every_caption_is_whole_with_its_parameter_line(dialog: dialogs.TemplateDialog) -> None:
    grid = dialog.list
    font = grid.font()
    for row in range(grid.count()):
        item = grid.item(row)
        rect = grid.visualItemRect(item)
        parts = card_layout(rect, font)
        title = item.data(ROLE_TITLE)
        assert title == dialog.entries[row].title
        assert title_height_needed(title, parts.title.width(), font) <= parts.title.height()
        assert rect.contains(parts.facts) and rect.contains(parts.thumbnail)
        facts = item.data(ROLE_FACTS)
        assert facts.endswith(" MACs") and " params · " in facts, facts
        assert item.text() == f"{title}\n{facts}"
    assert grid.item(card(dialog, "lenet5")).data(ROLE_FACTS) == "61.7 K params · 417 K MACs"
    room = card_layout(grid.visualItemRect(grid.item(0)), font).title
    for info in list_templates():  # every title of the registry fits a card unshortened
        assert title_height_needed(info.title, room.width(), font) <= room.height(), info.title


def test_the_cards_fill_the_width_of_the_dialog(dialog: dialogs.TemplateDialog) -> None:
    grid = dialog.list
    width = grid.viewport().width()
    columns = grid.columns()
    assert columns >= 3
    row = [grid.visualItemRect(grid.item(k)) for k in range(columns)]
    assert {r.top() for r in row} == {row[0].top()}  # one row
    assert row[0].left() <= 1 and row[-1].right() >= width - columns - 1
    dialog.resize(dialog.width() + 400, dialog.height())
    assert grid.columns() > columns
    last = grid.visualItemRect(grid.item(grid.columns() - 1))
    assert last.right() >= grid.viewport().width() - grid.columns() - 1


def thumbnail(dialog: dialogs.TemplateDialog, name: str) -> QImage:
    item = dialog.list.item(card(dialog, name))
    return item.icon().pixmap(dialog.list.iconSize()).toImage()


def test_thumbnails_show_each_networks_structure(dialog: dialogs.TemplateDialog) -> None:
    images = {name: thumbnail(dialog, name) for name in ("vgg11", "vgg11_bn", "vgg13")}
    assert images["vgg11"] != images["vgg13"] != images["vgg11_bn"] != images["vgg11"]
    profiles = {}
    for name in ("vgg11", "vgg13", "vgg11_bn", "resnet20"):
        document = dialog.entries[card(dialog, name)].document_now()
        profiles[name] = network_profile(document.graph, document.analysis)
    convs = {name: sum(b.family == "Convolution" for b in bars)
             for name, bars in profiles.items()}
    assert (convs["vgg11"], convs["vgg13"]) == (8, 10)
    assert sum(b.kind == "norm" for b in profiles["vgg11_bn"]) == 8
    blocks = [b for b in profiles["resnet20"] if b.family == "Composite"]
    assert len(blocks) == 9  # three stages of three residual blocks, one bar each
    assert [b.channels for b in blocks[::3]] == [16, 32, 64]


def test_click_shows_details_and_double_click_opens(
        qtbot: QtBot, dialog: dialogs.TemplateDialog) -> None:
    grid = dialog.list
    rect: QRect = grid.visualItemRect(grid.item(card(dialog, "vgg13")))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert "VGG-13" in dialog.details.text() and "parameters" in dialog.details.text()
    assert "<code>vgg13</code>" in dialog.details.text() and "``" not in dialog.details.text()
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseDClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    chosen = dialog.chosen()
    assert chosen is not None and chosen.name == "vgg13"


def overlaps_per_level(scene) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Pairs of boxes or frames of one level whose drawn rectangles overlap."""
    by_level: dict[int, list[tuple[str, object]]] = {}
    for item in [*scene.node_items(), *scene.frame_items()]:
        by_level.setdefault(id(scene.level_of(item.node_id)), []).append(
            (item.node_id, item.scene_box()))
    pairs = []
    for items in by_level.values():
        for k, (a, box_a) in enumerate(items):
            pairs += [(a, b) for b, box_b in items[k + 1:]
                      if box_a.intersected(box_b).width() > 0.5
                      and box_a.intersected(box_b).height() > 0.5]
    return pairs


@pytest.mark.parametrize(("name", "shown"), [
    ("vgg16", {"conv2d": 13, "maxpool2d": 5, "linear": 3}),
    ("resnet50", {"bottleneck": 16}),
])
def test_a_template_opens_showing_its_architecture(
        qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str,
        shown: dict[str, int]) -> None:
    entries = [e for e in dialogs.template_entries() if e.name in ("lenet5", name)]
    monkeypatch.setattr(dialogs, "template_entries", lambda: entries)

    def choose(dialog: dialogs.TemplateDialog) -> int:  # the user double-clicks the card
        with qtbot.waitExposed(dialog):
            dialog.show()
        dialog.wait_until_computed()
        grid = dialog.list
        rect = grid.visualItemRect(grid.item(card(dialog, name)))
        # A double-click is a click, then the double-click event (which alone activates
        # nothing: the view activates the item the press went to).
        qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        return dialog.result()

    monkeypatch.setattr(dialogs.TemplateDialog, "exec", choose)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(start_document(), settings=settings, recovery_dir=tmp_path / "r",
                        user_blocks_dir=tmp_path / "b")  # deletes itself on close
    window.resize(1600, 1000)
    with qtbot.waitExposed(window):
        window.show()
    window.act["open_template"].trigger()
    assert window.document.meta["template"] == name
    scene = window.view.graph_scene
    graph = window.document.graph
    types = [graph.find(item.node_id)[1].type for item in scene.node_items()]
    assert {key: types.count(key) for key in shown} == shown
    assert scene.frame_items()  # the expanded groups are drawn as frames
    assert overlaps_per_level(scene) == []
    window.document.history.set_clean()
    window.close()
