"""The search space: parsing, checks against the project, applying drawn values."""

from __future__ import annotations

from typing import Any

import pytest

from netbuilder.core.analysis import analyze
from netbuilder.experiments.space import (
    SpaceError,
    apply_to_graph,
    parse_space,
    qualified_names,
    training_settings,
)
from netbuilder.templates import build_template
from tests.experiments.conftest import small_graph


def _space(parameters: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {"training": {"epochs": 1}, "parameters": parameters, **rest}


def test_training_and_node_entries_are_told_apart() -> None:
    space = parse_space(_space({"lr": {"low": 1e-4, "high": 0.1, "log": True},
                                "augment.random_crop": {"values": [True, False]},
                                "c1.out_channels": {"values": [4, 8]}}), small_graph())
    lr, hflip, width = space.dimensions
    assert lr.is_training and not lr.is_int and hflip.is_training
    assert width.nodes == ("c1",) or len(width.nodes) == 1
    config = training_settings(space, {"lr": 0.01, "augment.random_crop": True})
    assert config.lr == 0.01 and config.augment.random_crop and config.epochs == 1


def test_a_node_value_changes_the_variant_only() -> None:
    graph = small_graph()
    space = parse_space(_space({"c1.out_channels": {"values": [4, 16]}}), graph)
    variant = apply_to_graph(graph.copy(), {"c1.out_channels": 16}, space.dimensions)
    assert variant.by_name("c1").params["out_channels"] == 16
    assert graph.by_name("c1").params["out_channels"] == 8
    assert analyze(variant).total_params > analyze(graph).total_params


def test_a_glob_reaches_into_groups() -> None:
    graph = build_template("resnet18")
    space = parse_space(_space({"layer*.0.conv1.out_channels": {"values": [32, 64]}}), graph)
    names = {node.id: name for name, (_level, node) in qualified_names(graph).items()}
    assert sorted(names[i] for i in space.dimensions[0].nodes) == [
        f"layer{i}.0.conv1" for i in range(1, 5)]


def test_a_block_switched_off_is_wired_around() -> None:
    graph = small_graph()
    space = parse_space(_space({"bn1.enabled": {"values": [True, False]}}), graph)
    variant = apply_to_graph(graph.copy(), {"bn1.enabled": False}, space.dimensions)
    assert "bn1" not in {n.name for n in variant.nodes.values()}
    assert analyze(variant).ok
    assert analyze(variant).total_params < analyze(graph).total_params


@pytest.mark.parametrize(("parameters", "named"), [
    ({"c9.out_channels": {"values": [4]}}, "parameters.c9.out_channels"),
    ({"c1.width": {"values": [4]}}, "parameters.c1.width"),
    ({"c1.out_channels": {"values": [8, 0]}}, "parameters.c1.out_channels"),
    ({"lr": {"values": [0.1, -1]}}, "parameters.lr"),
    ({"optimizer": {"values": ["adam", "sgdx"]}}, "parameters.optimizer"),
    ({"lr": {"low": 0.1, "high": 0.01}}, "parameters.lr"),
    ({"f3.enabled": {"values": ["no"]}}, "parameters.f3.enabled"),
])
def test_bad_entries_are_refused_naming_them(parameters: dict[str, Any], named: str) -> None:
    graph = small_graph()
    with pytest.raises(SpaceError, match=named.replace(".", r"\.")):
        parse_space(_space(parameters), graph)


def test_search_settings_are_checked() -> None:
    graph = small_graph()
    with pytest.raises(SpaceError, match=r"search\.method"):
        parse_space(_space({"lr": {"values": [0.1]}}, search={"method": "bayes"}), graph)
    with pytest.raises(SpaceError, match="grid"):
        parse_space(_space({"lr": {"low": 0.001, "high": 0.1}}, search={"method": "grid"}),
                    graph)
    with pytest.raises(SpaceError, match="pruner"):
        parse_space(_space({"lr": {"values": [0.1]}}, objectives=["val_acc", "macs"],
                           pruner={"kind": "median"}), graph)
    two = parse_space(_space({"lr": {"values": [0.1]}}, objectives=["val_acc", "macs"]),
                      graph)
    assert two.directions == ["maximize", "minimize"]
