"""Pretrained weights and transfer learning, with weights from randomly initialised
torchvision models saved to temporary files (no network)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from netbuilder.compiler import compile_graph, trainable_parameters
from netbuilder.core import commands as cmd
from netbuilder.core.analysis import analyze
from netbuilder.core.document import Document
from netbuilder.core.graph import Graph
from netbuilder.core.inits import CHECKPOINT, is_checkpoint_init
from netbuilder.templates import build_template, get_template_info
from netbuilder.templates import weights as nbw
from netbuilder.templates.weights import (
    WeightsError,
    head_node,
    init_from_weights,
    load_weights,
    resolve_weights_file,
    transfer_learning,
)
from tests.templates.helpers import run, torchvision_model

X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))


def saved(tmp_path: Path, name: str, **overrides: object) -> tuple[torch.nn.Module, Path]:
    """A seeded torchvision model and the file its ``state_dict`` is saved in."""
    model = torchvision_model(get_template_info(name), **overrides)
    path = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_weights_from_a_file_reproduce_torchvision(tmp_path: Path) -> None:
    reference, path = saved(tmp_path, "resnet18")
    graph = build_template("resnet18", input_shape=(3, 64, 64))
    module = compile_graph(graph, seed=0)
    load_weights(module, graph, "resnet18", path)
    assert torch.equal(run(module, X), run(reference, X))


def test_weights_load_into_a_module_compiled_on_the_meta_device(tmp_path: Path) -> None:
    reference, path = saved(tmp_path, "resnet18")
    graph = build_template("resnet18")
    with torch.device("meta"):
        module = compile_graph(graph)
    load_weights(module, graph, "resnet18", path)
    assert torch.equal(run(module, X), run(reference, X))


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0"])
def test_mobile_weights_from_a_file_reproduce_torchvision(tmp_path: Path, name: str) -> None:
    reference, path = saved(tmp_path, name)
    graph = build_template(name, input_shape=(3, 64, 64))
    with torch.device("meta"):
        module = compile_graph(graph)
    load_weights(module, graph, name, path)
    assert torch.equal(run(module, X), run(reference, X))
    level, head = head_node(graph)
    assert level.owner is not None and level.owner.name == "classifier"
    assert head.name == ("3" if name == "mobilenet_v3_large" else "1")


def test_torchvisions_old_densenet_keys_are_fixed(tmp_path: Path) -> None:
    reference = torchvision_model(get_template_info("densenet121"))
    old = {re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v
           for k, v in reference.state_dict().items() if "num_batches_tracked" not in k}
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    torch.save(old, path := tmp_path / "densenet121-a639ec97.pth")
    graph = build_template("densenet121", input_shape=(3, 64, 64))
    module = compile_graph(graph, seed=0)
    load_weights(module, graph, "densenet121", path)
    assert torch.equal(run(module, X), run(reference, X))


def test_googlenet_weights_with_auxiliary_heads_load(tmp_path: Path) -> None:
    reference, path = saved(tmp_path, "googlenet", aux_logits=True)
    assert any(k.startswith("aux1.") for k in torch.load(path, weights_only=True))
    graph = build_template("googlenet", input_shape=(3, 64, 64))
    module = compile_graph(graph, seed=0)
    load_weights(module, graph, "googlenet", path)
    assert torch.equal(run(module, X), run(reference, X))


def test_a_checkpoint_dict_holding_a_state_dict_is_unwrapped(tmp_path: Path) -> None:
    reference = torchvision_model(get_template_info("resnet18"))
    torch.save({"epoch": 3, "state_dict": reference.state_dict()}, path := tmp_path / "c.pt")
    graph = build_template("resnet18")
    module = compile_graph(graph, seed=0)
    load_weights(module, graph, "resnet18", path)
    assert torch.equal(run(module, X), run(reference, X))


def test_weights_that_do_not_fit_are_refused_naming_the_entries(tmp_path: Path) -> None:
    _, path = saved(tmp_path, "resnet18")
    graph = build_template("resnet18", num_classes=10)
    with pytest.raises(WeightsError, match=r"fc\.weight: the weights are 1000×512, the "
                                           r"template needs 10×512"):
        load_weights(compile_graph(graph), graph, "resnet18", path)
    deeper = build_template("resnet34")
    with pytest.raises(WeightsError, match=r"layer1\.2\.conv1\.weight: missing"):
        load_weights(compile_graph(deeper), deeper, "resnet34", path)


def test_files_that_are_not_state_dicts_are_refused(tmp_path: Path) -> None:
    (path := tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    graph = build_template("resnet18")
    with pytest.raises(WeightsError, match="cannot read weights"):
        load_weights(compile_graph(graph), graph, "resnet18", path)
    torch.save([1, 2, 3], path)
    with pytest.raises(WeightsError, match="does not hold a state_dict"):
        load_weights(compile_graph(graph), graph, "resnet18", path)
    with pytest.raises(WeightsError, match="no weights file"):
        resolve_weights_file("resnet18", tmp_path / "missing.pth")


def test_the_torch_hub_cache_is_searched_and_download_is_opt_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(WeightsError, match="has no torchvision weights"):
        resolve_weights_file("lenet5")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    cached = nbw.cache_path("resnet18")
    assert cached.parent == tmp_path / "checkpoints"
    with pytest.raises(WeightsError, match="no resnet18 weights in the torch hub cache"):
        resolve_weights_file("resnet18")

    downloads: list[bool] = []

    class FakeWeights:
        url = "https://download.pytorch.org/models/" + cached.name

        def get_state_dict(self, progress: bool, check_hash: bool) -> None:
            downloads.append(check_hash)
            cached.parent.mkdir(parents=True)
            torch.save({}, cached)

    monkeypatch.setattr(nbw, "_default_weights", lambda template: FakeWeights())
    assert resolve_weights_file("resnet18", download=True) == cached
    assert resolve_weights_file("resnet18") == cached
    assert downloads == [True]


# -- as commands --------------------------------------------------------------------------
def checkpoint_inits(graph: Graph) -> dict[str, str]:
    """``key`` of every checkpoint init, by dotted node path."""
    return {".".join((*level.path(), node.name)): node.init["key"]
            for level, node in graph.walk()
            if is_checkpoint_init(node.init)}


@pytest.mark.slow  # a full-size VGG-11 and its torchvision twin
def test_init_from_weights_is_one_undoable_command(tmp_path: Path) -> None:
    # VGG's features need the sequential key rule. A 1×1 average pool (an edit of the
    # template, made in torchvision's model too) keeps the file small.
    document = Document(build_template("vgg11_bn", input_shape=(3, 32, 32)))
    graph = document.graph
    document.push(cmd.set_param(graph, graph.by_name("avgpool").id, "output_size", 1))
    reference = torchvision_model(get_template_info("vgg11_bn"))
    reference.avgpool = torch.nn.AdaptiveAvgPool2d(1)
    reference.classifier[0] = torch.nn.Linear(512, 4096)
    torch.save(reference.state_dict(), path := tmp_path / "vgg11_bn.pth")

    document.push(init_from_weights(graph, "vgg11_bn", path))
    inits = checkpoint_inits(graph)
    assert inits["features.block1.conv1"] == "features.0"
    assert inits["features.block1.bn1"] == "features.1"
    assert inits["features.block2.conv1"] == "features.4"
    assert inits["classifier.6"] == "classifier.6"
    assert len(inits) == 8 + 8 + 3  # convolutions, batch norms, linear layers
    node = graph.by_name("classifier").body.by_name("0")
    assert node.init == {"scheme": CHECKPOINT, "file": str(path.resolve()), "key": "classifier.0"}
    document.undo()
    assert checkpoint_inits(graph) == {}
    document.redo()
    assert len(checkpoint_inits(graph)) == 19


def test_a_graph_initialised_from_weights_compiles_to_torchvision(tmp_path: Path) -> None:
    reference, path = saved(tmp_path, "resnet18")
    document = Document(build_template("resnet18", input_shape=(3, 64, 64)))
    document.push(init_from_weights(document.graph, "resnet18", path))
    assert torch.equal(run(compile_graph(document.graph), X), run(reference, X))


def test_convnext_layer_scales_load_from_torchvisions_bare_parameters(tmp_path: Path) -> None:
    # torchvision keeps a block's layer scale as a parameter of the block itself
    # (features.1.0.layer_scale); the template keeps it in a layer_scale node.
    reference, path = saved(tmp_path, "convnext_tiny")
    x = X[:, :, :32, :32]
    document = Document(build_template("convnext_tiny", input_shape=(3, 32, 32)))
    document.push(init_from_weights(document.graph, "convnext_tiny", path))
    inits = checkpoint_inits(document.graph)
    assert inits["stage3.8.layer_scale"] == "features.5.8.layer_scale"
    assert inits["stage3.8.block.0"] == "features.5.8.block.0"
    assert inits["downsample1.conv"] == "features.2.1"
    assert inits["norm"] == "classifier.0"
    assert torch.equal(run(compile_graph(document.graph), x), run(reference, x))


def test_init_from_weights_changes_nothing_when_the_weights_do_not_fit(tmp_path: Path) -> None:
    _, path = saved(tmp_path, "resnet18")
    graph = build_template("resnet18", num_classes=10)
    with pytest.raises(WeightsError, match=r"fc\.weight"):
        init_from_weights(graph, "resnet18", path)
    assert checkpoint_inits(graph) == {}


def frozen_paths(graph: Graph) -> set[str]:
    return {".".join((*level.path(), node.name)) for level, node in graph.walk() if node.frozen}


def test_transfer_learning_trains_only_a_fresh_head() -> None:
    document = Document(build_template("resnet18", input_shape=(3, 64, 64)))
    document.push(transfer_learning(document.graph, 10))
    assert frozen_paths(document.graph) == {"conv1", "bn1", "layer1", "layer2", "layer3",
                                            "layer4"}
    assert document.graph.by_name("fc").params["out_features"] == 10
    module = compile_graph(document.graph, seed=0)
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias"}
    assert len(trainable_parameters(module)) == 2
    assert run(module, X).shape == (2, 10)
    document.undo()
    assert frozen_paths(document.graph) == set()
    assert document.graph.by_name("fc").resolved["out_features"] == 1000


def test_transfer_learning_finds_heads_inside_groups_and_composites() -> None:
    alexnet = build_template("alexnet")
    level, head = head_node(alexnet)
    assert (level.path(), head.name) == (("classifier",), "6")
    transfer_learning(alexnet, 5).redo()
    assert frozen_paths(alexnet) == {"features", "classifier.1", "classifier.4"}
    assert head.params["out_features"] == 5

    nin = build_template("nin")
    level, head = head_node(nin)
    assert (level.path(), head.name, head.type) == ((), "block4", "nin_block")
    transfer_learning(nin, 3).redo()
    assert frozen_paths(nin) == {"block1", "block2", "block3"}
    assert analyze(nin).nodes[nin.by_name("output").id].shape == (3,)


def test_transfer_learning_after_pretrained_init_gives_the_head_fresh_weights(
        tmp_path: Path) -> None:
    _, path = saved(tmp_path, "resnet18")
    document = Document(build_template("resnet18"))
    document.push(init_from_weights(document.graph, "resnet18", path))
    document.push(transfer_learning(document.graph, 1000))
    inits = checkpoint_inits(document.graph)
    assert "fc" not in inits and "conv1" in inits
    assert document.graph.by_name("fc").params.get("out_features", 1000) == 1000
    document.undo()
    assert checkpoint_inits(document.graph)["fc"] == "fc"
