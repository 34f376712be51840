"""One test over every registered template: it builds, analyses, compiles and runs, and
where torchvision has the same network, it *is* that network.

"The same" means: the analytic parameter count at the default input equals torchvision's
``sum(p.numel())`` and the count torchvision documents in its weights' metadata, the
multiply-adds agree with the GMACs documented there (``_ops``, within 1 %), the
compiled ``state_dict`` keys map one to one onto torchvision's through
:mod:`netbuilder.templates.mapping`, and with torchvision's (seeded, random) weights loaded
the outputs agree to 1e-5 in eval mode. Forward passes use a batch of two at a reduced
input size where the default is large: equality of outputs does not need 224×224, and
parameter counts are checked at the default size analytically.

Templates torchvision does not have are compared with plain-torch twins written from their
papers (:mod:`tests.templates.twins`) and with the counts their sources publish.
"""

from __future__ import annotations

import pytest
import torch
import torchvision

from netbuilder.compiler import compile_graph
from netbuilder.core.analysis import analyze
from netbuilder.templates import TemplateInfo, build_template, get_template_info, template_names
from netbuilder.templates.mapping import torchvision_mapping
from netbuilder.templates.weights import load_weights
from tests.templates.helpers import run, torchvision_model
from tests.templates.twins import TWINS, parameter_count, twin

Shape = tuple[int, ...]


#: Input of the forward passes where the default input is large.
TEST_INPUTS: dict[str, Shape] = {
    **dict.fromkeys(["alexnet", "zfnet", "googlenet", "resnet18", "resnet34", "resnet50",
                     "resnet101", "resnet152", "wide_resnet50_2", "resnext50_32x4d",
                     "densenet121", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0"],
                    (3, 64, 64)),
    **dict.fromkeys(["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
                     "vgg19_bn"], (3, 32, 32)),
    "alexnet-paper": (3, 67, 67),
    "nin": (1, 96, 96),
    "convnext_tiny": (3, 32, 32),
}
#: Parameter counts that sources outside torchvision publish, as they print them.
PUBLISHED: dict[str, tuple[str, str]] = {
    "alexnet-paper": ("60,965,224", "Caffe's bvlc_alexnet (grouped conv2/4/5)"),
    "resnet20": ("0.27M", "He et al. 2016, Table 6"),
    "resnet56": ("0.85M", "He et al. 2016, Table 6"),
}
#: Multiply-adds agree with torchvision's published GMACs within 1 %, or within half a unit
#: of their last printed decimal.
MACS_TOLERANCE, ROUNDING = 0.01, 0.0005
#: Above this many parameters a template and its torchvision model take seconds to build.
FULL_SIZE = 50_000_000


def torchvision_count(info: TemplateInfo) -> int:
    """The parameter count torchvision documents for its model (its weights' metadata)."""
    weights = torchvision.models.get_model_weights(str(info.torchvision)).DEFAULT
    return int(weights.meta["num_params"])


def torchvision_gmacs(info: TemplateInfo) -> float:
    """The multiply-adds torchvision documents for its model, in billions (``_ops``)."""
    weights = torchvision.models.get_model_weights(str(info.torchvision)).DEFAULT
    return float(weights.meta["_ops"])


def as_published(count: int, published: str) -> str:
    """``count`` printed as ``published`` is: ``0.27M`` or ``60,965,224``."""
    if published.endswith("M"):
        decimals = len(published[:-1].partition(".")[2])
        return f"{count / 1e6:.{decimals}f}M"
    return f"{count:,}"


def template_param(name: str) -> object:
    """``name`` as a test parameter, marked ``slow`` when torchvision's model is big."""
    info = get_template_info(name)
    big = info.torchvision is not None and torchvision_count(info) > FULL_SIZE
    return pytest.param(name, marks=[pytest.mark.slow] if big else [])


def test_every_template_is_checked_against_torchvision_or_a_twin() -> None:
    for name in template_names():
        info = get_template_info(name)
        assert (info.torchvision is None) == (name in TWINS), name
    assert set(TEST_INPUTS) | set(PUBLISHED) <= set(template_names())


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name: str) -> None:
    published, source = PUBLISHED[name]
    count = analyze(build_template(name)).total_params
    assert as_published(count, published) == published, source


@pytest.mark.parametrize("name", sorted(TWINS))
def test_templates_outside_torchvision_equal_their_plain_torch_twins(name: str) -> None:
    info = get_template_info(name)
    for shape in {info.input_shape, TEST_INPUTS.get(name, info.input_shape)}:
        graph = build_template(name, input_shape=shape)
        analysis = analyze(graph)
        model, out_shape = twin(name, shape, info.num_classes)
        assert analysis.total_params == parameter_count(model), shape
        assert analysis.nodes[graph.by_name("output").id].shape == out_shape


@pytest.mark.parametrize("name", [template_param(name) for name in template_names()])
def test_template(name: str) -> None:
    info = get_template_info(name)
    full = analyze(build_template(name))
    assert [i.message for i in full.issues] == []
    if info.torchvision is not None:
        assert full.total_params == torchvision_count(info)
        published = torchvision_gmacs(info)
        allowed = max(MACS_TOLERANCE * published, ROUNDING)
        assert abs(full.total_macs / 1e9 - published) <= allowed, (full.total_macs, published)

    shape = TEST_INPUTS.get(name, info.input_shape)
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
