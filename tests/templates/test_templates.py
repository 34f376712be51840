"""One test over every registered template: it builds, analyses, compiles and runs, and
where torchvision has the same network, it *is* that network.

"The same" means: the analytic parameter count at the default input equals torchvision's
``sum(p.numel())`` (and the published number), the compiled ``state_dict`` keys map one to
one onto torchvision's through :mod:`netbuilder.templates.mapping`, and with torchvision's
(seeded, random) weights loaded the outputs agree to 1e-5 in eval mode. Forward passes use
a batch of two at a reduced input size where the default is large: equality of outputs does
not need 224×224, and parameter counts are checked at the default size analytically.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from netbuilder.compiler import compile_graph
from netbuilder.core.analysis import analyze
from netbuilder.templates import build_template, get_template_info, template_names
from netbuilder.templates.mapping import torchvision_mapping
from netbuilder.templates.weights import load_weights
from tests.templates.helpers import run, torchvision_model

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Case:
    """What a template must give.

    Attributes:
        params: Parameters at the default input shape and class count.
        reference: Where that number comes from.
        test_input: Input shape of the forward passes (None: the default input).
    """

    params: int
    reference: str
    test_input: Shape | None = None


TORCHVISION_DOCS = "torchvision's documented num_params"
CASES: dict[str, Case] = {
    "lenet5": Case(61_706, "d2l §7.6"),
    "lenet5-classic": Case(61_706, "LeCun et al. 1998, Fig. 2 with a fully connected C3"),
    "alexnet": Case(61_100_840, TORCHVISION_DOCS, (3, 64, 64)),
    "alexnet-paper": Case(60_965_224, "Caffe's bvlc_alexnet (grouped conv2/4/5)", (3, 67, 67)),
    "zfnet": Case(62_357_608, "Zeiler & Fergus 2014, Fig. 3", (3, 64, 64)),
    "vgg11": Case(132_863_336, TORCHVISION_DOCS, (3, 32, 32)),
    "vgg11_bn": Case(132_868_840, TORCHVISION_DOCS, (3, 32, 32)),
    "vgg13": Case(133_047_848, TORCHVISION_DOCS, (3, 32, 32)),
    "vgg13_bn": Case(133_053_736, TORCHVISION_DOCS, (3, 32, 32)),
    "vgg16": Case(138_357_544, TORCHVISION_DOCS, (3, 32, 32)),
    "vgg16_bn": Case(138_365_992, TORCHVISION_DOCS, (3, 32, 32)),
    "vgg19": Case(143_667_240, TORCHVISION_DOCS, (3, 32, 32)),
    "vgg19_bn": Case(143_678_248, TORCHVISION_DOCS, (3, 32, 32)),
    "nin": Case(1_992_166, "d2l §8.3 (counted by hand)", (1, 96, 96)),
    "googlenet": Case(6_624_904, TORCHVISION_DOCS, (3, 64, 64)),
    "resnet18": Case(11_689_512, TORCHVISION_DOCS, (3, 64, 64)),
    "resnet34": Case(21_797_672, TORCHVISION_DOCS, (3, 64, 64)),
    "resnet50": Case(25_557_032, TORCHVISION_DOCS, (3, 64, 64)),
    "resnet101": Case(44_549_160, TORCHVISION_DOCS, (3, 64, 64)),
    "resnet152": Case(60_192_808, TORCHVISION_DOCS, (3, 64, 64)),
    "wide_resnet50_2": Case(68_883_240, TORCHVISION_DOCS, (3, 64, 64)),
    "resnext50_32x4d": Case(25_028_904, TORCHVISION_DOCS, (3, 64, 64)),
    "resnet20": Case(269_722, "He et al. 2015 §4.2: 0.27M"),
    "resnet56": Case(853_018, "He et al. 2015 §4.2: 0.85M"),
    "resnet18-cifar": Case(11_173_962, "kuangliu/pytorch-cifar ResNet18"),
    "densenet121": Case(7_978_856, TORCHVISION_DOCS, (3, 64, 64)),
}


def test_every_template_has_a_case() -> None:
    assert sorted(CASES) == sorted(template_names())


def test_cifar_resnets_have_the_papers_parameter_counts() -> None:
    assert round(CASES["resnet20"].params / 1e6, 2) == 0.27
    assert round(CASES["resnet56"].params / 1e6, 2) == 0.85


@pytest.mark.parametrize("name", sorted(CASES))
def test_template(name: str) -> None:
    info, case = get_template_info(name), CASES[name]
    full = analyze(build_template(name))
    assert [i.message for i in full.issues] == []
    assert full.total_params == case.params, case.reference

    shape = case.test_input or info.input_shape
    graph = build_template(name, input_shape=shape)
    analysis = analyze(graph)
    assert analysis.ok, [i.message for i in analysis.errors]
    module = compile_graph(graph, analysis=analysis, seed=0)
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))
    out = run(module, x)
    assert out.shape == (2, info.num_classes)
    assert torch.isfinite(out).all()
    if info.torchvision is None:
        return

    reference = torchvision_model(info)
    assert sum(p.numel() for p in reference.parameters()) == full.total_params
    mapping = torchvision_mapping(graph, name)
    keys = [mapping.to_torchvision(key) for key in module.state_dict()]
    assert len(set(keys)) == len(keys)
    assert set(keys) == set(reference.state_dict())
    load_weights(module, graph, name, reference.state_dict())
    difference = (run(module, x) - run(reference, x)).abs().max().item()
    assert difference < 1e-5
