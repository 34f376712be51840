"""The inspector edits the selected node through commands and shows its arithmetic.

Each test builds a document, builds the panel, acts on its widgets with real keyboard and
mouse events, and checks what the user would see (labels, inline errors) and what the
model holds (parameters, undo steps).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QSpinBox

from netbuilder.core.analysis import format_shape
from netbuilder.core.document import Document
from netbuilder.core.graph import Graph
from netbuilder.ui.inspector import InspectorPanel
from netbuilder.ui.param_editors import (
    EDITOR_FACTORIES,
    BoolEditor,
    ChoiceEditor,
    FloatEditor,
    IntEditor,
    PaddingEditor,
    TextEditor,
    parse_ints,
)


def small_net() -> tuple[Document, dict[str, str]]:
    graph = Graph()
    nodes = {}
    last = None
    for key, name, params in (
            ("input", "input", {"shape": (1, 28, 28)}),
            ("conv2d", "c1", {"out_channels": 6, "kernel_size": 5, "padding": 2}),
            ("relu", "act1", {}),
            ("maxpool2d", "s2", {"kernel_size": 2}),
            ("flatten", "flatten", {}),
            ("linear", "fc", {"out_features": 10}),
            ("output", "output", {})):
        last = graph.add(key, name, after=last, **params)
        nodes[name] = last.id
    return Document(graph), nodes


@pytest.fixture
def panel(qtbot):  # type: ignore[no-untyped-def]
    document, ids = small_net()
    widget = InspectorPanel(document)
    qtbot.addWidget(widget)
    widget.resize(360, 800)
    with qtbot.waitExposed(widget):
        widget.show()
    widget.ids = ids  # type: ignore[attr-defined]
    return widget


def type_into(qtbot, field, text: str) -> None:  # type: ignore[no-untyped-def]
    """Select everything in ``field`` and type ``text`` then Enter, as a user would."""
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def shape_of(document: Document, node_id: str) -> str:
    return format_shape(document.analysis.nodes[node_id].shape)


def test_every_param_kind_has_a_factory() -> None:
    from netbuilder.core.spec import PARAM_KINDS

    assert set(PARAM_KINDS) <= set(EDITOR_FACTORIES)


def test_nothing_selected_shows_a_graph_summary(panel) -> None:  # type: ignore[no-untyped-def]
    text = panel.summary.text()
    assert "Parameters" in text and "No errors" in text
    assert f"{panel.document.analysis.total_params:,}" in text


def test_editors_match_parameter_kinds(panel) -> None:  # type: ignore[no-untyped-def]
    panel.show_nodes([panel.ids["c1"]])
    assert isinstance(panel.editor("out_channels"), IntEditor)
    assert isinstance(panel.editor("kernel_size"), TextEditor)
    assert isinstance(panel.editor("padding"), PaddingEditor)
    assert isinstance(panel.editor("bias"), BoolEditor)
    box = panel.editor("out_channels").field
    assert isinstance(box, QSpinBox) and box.minimum() == 1 and box.maximum() == 16384
    assert "filters" in box.toolTip().lower()
    assert panel.name_edit.text() == "c1"
    assert "Conv 2D" in panel.type_label.text()


def test_typing_a_value_updates_downstream_shapes_in_one_undo_step(
        panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    document, ids = panel.document, panel.ids
    panel.show_nodes([ids["c1"]])
    box = panel.editor("out_channels").field
    type_into(qtbot, box, "32")
    assert document.graph.nodes[ids["c1"]].resolved["out_channels"] == 32
    assert shape_of(document, ids["act1"]) == "32×28×28"
    assert panel.facts["output"].text() == "32×28×28"
    assert len(document.history) == 1
    assert document.history.undo_text == "Set c1.out_channels"
    assert "params: 5·5·1·32 + 32 = 832" in panel.formulas.toPlainText()
    document.undo()
    assert box.value() == 6 and panel.facts["output"].text() == "6×28×28"


def test_enter_seals_the_step_so_a_later_edit_is_a_new_one(
        panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel.show_nodes([panel.ids["fc"]])
    box = panel.editor("out_features").field
    type_into(qtbot, box, "12")
    type_into(qtbot, box, "20")
    assert len(panel.document.history) == 2


def test_refused_value_shows_inline_and_leaves_the_model(
        panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    document, ids = panel.document, panel.ids
    panel.show_nodes([ids["c1"]])
    type_into(qtbot, panel.editor("groups").field, "4")
    error = panel.findChild(QLabel, "param_groups_error")
    assert error.isVisible() and "divisible" in error.text()
    assert document.graph.nodes[ids["c1"]].resolved["groups"] == 1
    assert len(document.history) == 0


def test_unparseable_text_shows_inline_error(panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel.show_nodes([panel.ids["c1"]])
    field = panel.editor("kernel_size").field
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, "3, y")
    error = panel.findChild(QLabel, "param_kernel_size_error")
    assert error.isVisible() and "whole numbers" in error.text()
    # "3" was a value as it was typed; ", y" is not, so the model keeps 3
    assert panel.document.graph.nodes[panel.ids["c1"]].resolved["kernel_size"] == 3
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert error.isVisible()
    panel.name_edit.setFocus()
    assert field.text() == "3" and not error.isVisible()


def test_tuple_padding_and_nullable_editors(panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    document, ids = panel.document, panel.ids
    panel.show_nodes([ids["c1"]])
    type_into(qtbot, panel.editor("kernel_size").field, "3, 5")
    assert document.graph.nodes[ids["c1"]].resolved["kernel_size"] == (3, 5)
    line = panel.findChild(QLineEdit, "param_padding_text")
    type_into(qtbot, line, "same")
    assert document.graph.nodes[ids["c1"]].resolved["padding"] == "same"
    assert shape_of(document, ids["c1"]) == "6×28×28"
    panel.show_nodes([ids["s2"]])
    stride = panel.editor("stride").field
    assert stride.text() == "" and stride.placeholderText() == "auto"
    type_into(qtbot, stride, "1")
    assert shape_of(document, ids["s2"]) == "6×27×27"
    stride.setFocus()
    qtbot.keyClick(stride, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(stride, Qt.Key.Key_Delete)
    assert document.graph.nodes[ids["s2"]].resolved["stride"] is None


def test_checkbox_and_choice_editors(panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    document, ids = panel.document, panel.ids
    panel.show_nodes([ids["c1"]])
    before = document.analysis.nodes[ids["c1"]].params
    bias = panel.editor("bias").field
    qtbot.mouseClick(bias, Qt.MouseButton.LeftButton, pos=bias.rect().center())
    assert document.graph.nodes[ids["c1"]].resolved["bias"] is False
    assert document.analysis.nodes[ids["c1"]].params == before - 6
    spec = document.graph.spec(ids["c1"]).param("out_channels")
    assert isinstance(EDITOR_FACTORIES["choice"](
        type(spec)("mode", "choice", "a", choices=("a", "b")), None), ChoiceEditor)
    assert isinstance(EDITOR_FACTORIES["float"](
        type(spec)("eps", "float", 1e-5, 0.0, 1.0), None), FloatEditor)


def test_rename_through_the_name_field(panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    document, ids = panel.document, panel.ids
    panel.show_nodes([ids["c1"]])
    type_into(qtbot, panel.name_edit, "features")
    assert document.graph.nodes[ids["c1"]].name == "features"
    assert document.history.undo_text == "Rename c1 to features"
    type_into(qtbot, panel.name_edit, "fc")
    assert panel.name_error.isVisible() and "already used" in panel.name_error.text()
    assert document.graph.nodes[ids["c1"]].name == "features"


def test_frozen_and_init_are_undoable_attributes(panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    document, ids = panel.document, panel.ids
    panel.show_nodes([ids["c1"]])
    qtbot.mouseClick(panel.frozen, Qt.MouseButton.LeftButton,
                     pos=panel.frozen.rect().bottomLeft() + type(panel.frozen.pos())(6, -6))
    assert document.graph.nodes[ids["c1"]].frozen is True
    panel.init_combo.setCurrentIndex(panel.init_combo.findData("normal"))
    assert document.graph.nodes[ids["c1"]].init == {"scheme": "normal", "std": 0.01}
    type_into(qtbot, panel.init_std, "0.05")
    assert document.graph.nodes[ids["c1"]].init == {"scheme": "normal", "std": 0.05}
    while document.undo():
        pass
    node = document.graph.nodes[ids["c1"]]
    assert node.frozen is False and node.init is None
    assert not panel.frozen.isChecked() and panel.init_combo.currentData() == "default"


def test_issues_show_in_red_and_node_removal_returns_to_summary(
        panel) -> None:  # type: ignore[no-untyped-def]
    from netbuilder.core import commands

    document, ids = panel.document, panel.ids
    panel.show_nodes([ids["fc"]])
    edge = document.graph.in_edges(ids["fc"])[0]
    document.push(commands.RemoveEdge(document.graph, edge))
    assert panel.issues.isVisible() and "not connected" in panel.issues.text()
    document.push(commands.remove_nodes(document.graph, [ids["fc"]]))
    assert panel.node_id is None and "error" in panel.summary.text()


def test_parse_ints_accepts_the_usual_spellings() -> None:
    assert parse_ints("3") == 3
    assert parse_ints("3, 5") == parse_ints("3×5") == parse_ints("(3, 5)") == (3, 5)
    with pytest.raises(ValueError):
        parse_ints("three")


def test_typing_into_a_composite_block_keeps_the_field(qtbot) -> None:  # type: ignore[no-untyped-def]
    graph = Graph()
    x = graph.add("input", "x", shape=(3, 32, 32))
    block = graph.add("conv_bn_relu", "stem", after=x)
    document = Document(graph)
    panel = InspectorPanel(document)
    qtbot.addWidget(panel)
    panel.show_nodes([block.id])
    box = panel.editor("out_channels").field
    type_into(qtbot, box, "48")
    assert panel.editor("out_channels").field is box
    assert format_shape(document.analysis.nodes[block.id].shape) == "48×32×32"
    assert len(document.history) == 1


def test_retyping_the_value_a_field_has_is_no_undo_step(
        panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    document, ids = panel.document, panel.ids
    panel.show_nodes([ids["c1"]])
    type_into(qtbot, panel.editor("kernel_size").field, "5")
    type_into(qtbot, panel.editor("out_channels").field, "6")
    type_into(qtbot, panel.editor("padding").field.lineEdit(), "2")
    assert len(document.history) == 0 and not document.modified
    type_into(qtbot, panel.editor("kernel_size").field, "3")
    assert len(document.history) == 1
    assert document.history.undo_text == "Set c1.kernel_size"


def test_blocks_without_weights_offer_no_frozen_or_init(
        panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    ids = panel.ids
    panel.show_nodes([ids["act1"]])
    assert panel.training_box.isVisible()
    assert not panel.frozen.isVisible() and not panel.init_combo.isVisible()
    assert panel.no_weights.isVisible()
    assert "ReLU has no weights" in panel.no_weights.text()
    panel.show_nodes([ids["c1"]])
    assert panel.frozen.isVisible() and panel.init_combo.isVisible()
    assert not panel.no_weights.isVisible()
    for name in ("s2", "flatten"):
        panel.show_nodes([ids[name]])
        assert not panel.frozen.isVisible(), name


def test_a_group_with_weights_and_a_batch_norm_offer_frozen(qtbot) -> None:  # type: ignore[no-untyped-def]
    graph = Graph()
    x = graph.add("input", "x", shape=(3, 32, 32))
    block = graph.add("conv_bn_relu", "stem", after=x)
    norm = graph.add("batchnorm2d", "bn", after=block, affine=False)
    graph.add("output", "output", after=norm)
    panel = InspectorPanel(Document(graph))
    qtbot.addWidget(panel)
    panel.show()
    for node in (block, norm):  # the norm has running statistics, and no weights
        panel.show_nodes([node.id])
        assert panel.frozen.isVisible() and not panel.no_weights.isVisible()
