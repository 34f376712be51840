"""The template registry, and what every template's graph looks like in the editor."""

from __future__ import annotations

import subprocess
import sys

import pytest

from netbuilder.core.analysis import analyze
from netbuilder.core.errors import ParameterValueError
from netbuilder.core.graph import Graph
from netbuilder.core.spec import GROUP
from netbuilder.templates import (
    TemplateError,
    build_template,
    get_template_info,
    list_templates,
    register_template,
    template_names,
    template_options,
    unregister_template,
)


def test_names_are_unique_and_looked_up_loosely() -> None:
    names = template_names()
    assert len(names) == len(set(names)) == 30
    assert get_template_info("AlexNet_Paper").name == "alexnet-paper"
    assert get_template_info("wide-resnet50-2").name == "wide_resnet50_2"


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(TemplateError, match="already registered"):
        register_template(name="ResNet18_CIFAR", title="x", family="x", input_shape=(3, 8, 8),
                          num_classes=2, paper="x")(lambda **kw: Graph())


def test_a_registered_plugin_template_is_listed_and_built() -> None:
    @register_template(name="tiny", title="Tiny", family="Test", input_shape=(1, 8, 8),
                       num_classes=2, paper="none")
    def tiny(*, input_shape: tuple[int, ...], num_classes: int) -> Graph:
        """A tiny network.

        Second paragraph, not in the description."""
        return build_template("lenet5", input_shape=(1, 28, 28), num_classes=num_classes)

    try:
        assert get_template_info("tiny").description == "A tiny network."
        assert "tiny" in template_names()
        assert build_template("tiny").by_name("fc3").resolved["out_features"] == 2
    finally:
        unregister_template("tiny")
    assert "tiny" not in template_names()


def test_unknown_names_suggest_close_ones() -> None:
    with pytest.raises(TemplateError, match=r"did you mean .*resnet50"):
        build_template("resnet05")


def test_builders_are_keyword_only_and_check_their_options() -> None:
    with pytest.raises(TypeError):
        build_template("lenet5", (1, 28, 28))  # type: ignore[misc]
    with pytest.raises(TemplateError, match=r"no option 'depth'.*grouped"):
        build_template("alexnet-paper", depth=3)
    assert template_options("googlenet") == {"kernel_5x5": 3, "dropout": 0.2}
    assert template_options("resnet18") == {"stochastic_depth_prob": 0.0}
    with pytest.raises(ParameterValueError):
        build_template("lenet5", num_classes=0)


def test_options_change_the_architecture() -> None:
    dense = analyze(build_template("alexnet-paper", grouped=False)).total_params
    assert dense == 62_378_344
    paper = analyze(build_template("googlenet", kernel_5x5=5)).total_params
    assert paper > 6_624_904
    graph = build_template("resnet18", stochastic_depth_prob=0.1)
    block = graph.by_name("layer1").body.by_name("0")
    assert block.body is not None and "sd" in {n.name for n in block.body.nodes.values()}


def test_every_template_is_described() -> None:
    for info in list_templates():
        assert info.title and info.description and info.paper and info.family
        assert len(info.input_shape) == 3 and info.num_classes >= 2
        assert "\n" not in info.description
    assert [i.name for i in list_templates("LeNet")] == ["lenet5", "lenet5-classic"]
    assert {i.torchvision for i in list_templates() if i.torchvision} >= {
        "alexnet", "vgg16_bn", "googlenet", "resnet152", "densenet121"}


def test_resnet50_is_a_stem_four_stages_of_bottleneck_groups_and_a_head() -> None:
    graph = build_template("resnet50")
    assert [n.name for n in graph.nodes.values()] == [
        "input", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
        "avgpool", "flatten", "fc", "output"]
    layer3 = graph.by_name("layer3")
    assert layer3.type == GROUP and layer3.body is not None
    assert not layer3.collapsed  # the stages open expanded in place, their blocks closed
    blocks = [n for n in layer3.body.nodes.values() if n.type == "bottleneck"]
    assert all(b.collapsed for b in blocks)
    assert [b.name for b in blocks] == [str(i) for i in range(6)]
    assert blocks[0].params["shortcut"] == "projection" and blocks[0].params["stride"] == 2
    assert all(b.params["shortcut"] == "identity" for b in blocks[1:])


def test_every_level_of_every_template_is_laid_out() -> None:
    for name in template_names():
        graph = build_template(name)
        levels = [graph] + [n.body for _, n in graph.walk() if n.body is not None]
        for level in levels:
            positions = [n.pos for n in level.nodes.values()]
            assert len(set(positions)) == len(positions), (name, level.path())


def test_importing_the_templates_does_not_import_torch() -> None:
    code = ("import sys, netbuilder.templates, netbuilder.templates.mapping, "
            "netbuilder.templates.cli; netbuilder.templates.build_template('resnet50'); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
