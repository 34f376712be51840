"""The block palette: every block by family, search, drag payloads, user blocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QStandardPaths, Qt

from netbuilder.core import serialize
from netbuilder.core.graph import Graph
from netbuilder.core.registry import default_registry
from netbuilder.ui.palette import (
    KIND_FAMILY,
    MIME_BLOCK,
    MIME_FRAGMENT,
    ROLE_KIND,
    BlockPalette,
    UserBlockStore,
    default_user_blocks_dir,
)


@pytest.fixture
def palette(qtbot, tmp_path: Path) -> BlockPalette:  # type: ignore[no-untyped-def]
    widget = BlockPalette(store=UserBlockStore(tmp_path / "blocks"))
    qtbot.addWidget(widget)
    widget.resize(260, 700)
    with qtbot.waitExposed(widget):
        widget.show()
    return widget


def fragment() -> dict:  # type: ignore[type-arg]
    graph = Graph()
    conv = graph.add("conv2d", "stem", out_channels=32, kernel_size=3, padding=1)
    act = graph.add("relu", "stem_act", after=conv)
    return serialize.fragment_to_dict(graph, [conv.id, act.id])


def test_every_block_is_listed_under_its_family_with_an_icon_and_help(
        palette: BlockPalette) -> None:
    registry = default_registry()
    assert sorted(palette.visible_keys()) == sorted(registry.keys())
    tree = palette.tree
    families = [tree.topLevelItem(k).text(0) for k in range(tree.topLevelItemCount())
                if not tree.topLevelItem(k).isHidden()]
    assert families == list(registry.families())
    for spec in registry:
        item = palette.item_for(spec.key)
        assert item is not None and item.parent().text(0) == spec.family
        assert not item.icon(0).isNull()
        assert spec.title in item.toolTip(0) and (spec.help or spec.family) in item.toolTip(0)
        assert item.parent().data(0, ROLE_KIND) == KIND_FAMILY


def test_typing_in_the_search_box_filters_blocks(qtbot, palette: BlockPalette) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClicks(palette.search, "max pool")
    keys = palette.visible_keys()
    assert {"maxpool1d", "maxpool2d", "adaptive_maxpool2d"} <= set(keys)
    assert "avgpool2d" not in keys and "conv2d" not in keys
    palette.search.clear()
    qtbot.keyClicks(palette.search, "layernorm")
    assert palette.visible_keys() == ["layernorm", "layernorm2d"]
    with qtbot.waitSignal(palette.blockActivated) as signal:
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert signal.args == ["layernorm"]
    palette.search.clear()
    assert len(palette.visible_keys()) == len(default_registry())


def test_a_block_drags_its_key(palette: BlockPalette) -> None:
    item = palette.item_for("conv2d")
    mime = palette.tree.mimeData([item])
    assert bytes(mime.data(MIME_BLOCK).data()).decode() == "conv2d"
    header = palette.tree.topLevelItem(0)
    assert not palette.tree.mimeData([header]).formats()


def test_double_click_adds_a_block(qtbot, palette: BlockPalette) -> None:  # type: ignore[no-untyped-def]
    item = palette.item_for("relu")
    palette.tree.scrollToItem(item)
    rect = palette.tree.visualItemRect(item)
    viewport = palette.tree.viewport()
    with qtbot.waitSignal(palette.blockActivated) as signal:
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=rect.center())
    assert signal.args == ["relu"]


def test_user_blocks_persist_to_a_new_palette_and_can_be_deleted(
        qtbot, palette: BlockPalette, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert palette.user_block_names() == []
    palette.add_user_block("Conv stem", fragment())
    assert palette.user_block_names() == ["Conv stem"]
    files = list((tmp_path / "blocks").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["name"] == "Conv stem"

    later = BlockPalette(store=UserBlockStore(tmp_path / "blocks"))
    qtbot.addWidget(later)
    assert later.user_block_names() == ["Conv stem"]
    mime = later.mime_data("Conv stem")
    data = json.loads(bytes(mime.data(MIME_FRAGMENT).data()))
    assert [n["name"] for n in data["nodes"]] == ["stem", "stem_act"]
    item = later.item_for("Conv stem")
    assert "2 nodes" in item.toolTip(0)

    later.tree.setCurrentItem(item)
    later.tree.setFocus()
    qtbot.keyClick(later.tree, Qt.Key.Key_Delete)
    assert later.user_block_names() == []
    assert list((tmp_path / "blocks").glob("*.json")) == []


def test_user_block_store_skips_unreadable_files(tmp_path: Path) -> None:
    store = UserBlockStore(tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else"}))
    store.add("ok", fragment())
    store.add("ok", fragment())  # same name: replaced, not duplicated
    assert [b.name for b in store.blocks()] == ["ok"]
    with pytest.raises(ValueError):
        store.add("  ", fragment())


def test_default_folder_is_the_application_data_folder() -> None:
    QStandardPaths.setTestModeEnabled(True)
    try:
        base = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.AppDataLocation)
        assert default_user_blocks_dir() == Path(base) / "user_blocks"
    finally:
        QStandardPaths.setTestModeEnabled(False)
