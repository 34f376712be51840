"""torchvision's mobile and ConvNeXt building blocks import as editable composites.

MobileNetV2/V3's ``InvertedResidual``, EfficientNet's ``MBConv`` and MNASNet's
``_InvertedResidual`` (its flat layers renamed to the composite's) become ``mbconv``,
EfficientNetV2's ``FusedMBConv`` ``fused_mbconv``, their squeeze-excitations ``se_block``
with the module's activation and gate, ConvNeXt's ``CNBlock`` ``convnext_block`` (its
trained γ carried to the block's ``layer_scale`` node). Each is matched only where the
composite computes what the module computes; the importer checks the whole network too.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import torchvision
from torch import nn

from netbuilder.compiler import compile_graph
from netbuilder.compiler.importer import ImportResult, import_module
from netbuilder.compiler.module_map import renamed

#: Factory → the composites its import holds (a 64×64 input keeps the test small).
CASES = {
    "mobilenet_v2": {"mbconv": 17},
    "mobilenet_v3_small": {"mbconv": 11, "se_block": 9},
    "efficientnet_b0": {"mbconv": 16, "se_block": 16},
    "efficientnet_v2_s": {"fused_mbconv": 10, "mbconv": 30, "se_block": 30},
    "convnext_tiny": {"convnext_block": 18},
    "mnasnet0_5": {"mbconv": 16},
}


def _model(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    with torch.no_grad():  # trained-looking γ and batch-norm statistics, not the defaults
        for module in model.modules():
            if hasattr(module, "layer_scale") and isinstance(module.layer_scale, nn.Parameter):
                module.layer_scale.uniform_(0.5, 1.5)
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model


def _counts(result: ImportResult) -> Counter[str]:
    return Counter(node.type for _level, node in result.graph.walk())


@pytest.mark.parametrize("name", list(CASES))
def test_building_blocks_import_as_composites(name: str) -> None:
    model = _model(name)
    result = import_module(model, (3, 64, 64), name=name)
    found = _counts(result)
    assert {key: found[key] for key in CASES[name]} == CASES[name]
    compiled = compile_graph(result.graph)
    compiled.load_state_dict(result.weights)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(compiled.eval()(x), model(x), atol=1e-4)
    plain = _counts(import_module(model, (3, 64, 64), name=name, composites=False))
    assert not any(plain[key] for key in CASES[name])


def test_the_blocks_read_the_modules_settings() -> None:
    """MobileNetV3's hard-sigmoid gates and hard-swish, EfficientNet's stochastic depth,
    ConvNeXt's γ under the layer-scale node."""
    v3 = import_module(_model("mobilenet_v3_small"), (3, 64, 64)).graph
    blocks = [node.resolved for _level, node in v3.walk() if node.type == "mbconv"]
    assert {p["se_gate"] for p in blocks if p["squeeze_channels"]} == {"hardsigmoid"}
    assert {p["activation"] for p in blocks} == {"relu", "hardswish"}
    assert {p["layout"] for p in blocks} == {"block"}
    b0 = import_module(_model("efficientnet_b0"), (3, 64, 64)).graph
    depths = [node.resolved["stochastic_depth_prob"] for _level, node in b0.walk()
              if node.type == "mbconv"]
    assert depths[0] == 0 and max(depths) == pytest.approx(0.2 * 15 / 16)
    convnext = import_module(_model("convnext_tiny"), (3, 64, 64))
    assert convnext.key_map["features.1.0.layer_scale"].endswith(".layer_scale.gamma")
    mnasnet = import_module(_model("mnasnet0_5"), (3, 64, 64))
    assert mnasnet.key_map["layers.8.0.layers.4.running_var"].endswith(
        "8.0.conv.1.1.running_var")


def test_renamed_replaces_the_longest_prefix() -> None:
    renames = {"layers.1": "conv.0.1", "layers.1.extra": "x", "layer_scale": "layer_scale.gamma"}
    assert renamed("layers.1.weight", renames) == "conv.0.1.weight"
    assert renamed("layers.1.extra.bias", renames) == "x.bias"
    assert renamed("layers.10.weight", renames) == "layers.10.weight"
    assert renamed("layer_scale", renames) == "layer_scale.gamma"
