"""Every torchvision classifier imports exactly, with the published counts.

Each builder of ``torchvision.models.list_models(module=torchvision.models)`` is built
without weights (random initialisation, no network), imported, and the compiled graph must
compute what the model computes (the importer's own check, on an input as small as the model
allows). The graph is then analysed at the input size of the builder's default weights: its
parameters must equal the weights' ``meta["num_params"]`` and its multiply-adds be within
1 % of ``meta["_ops"]`` (GMACs).

Counts that differ by definition: GoogLeNet and Inception-v3 are built without their
auxiliary heads (``aux_logits=False``: the heads are used only in training and are not
traced). GoogLeNet's weights do not count them either; Inception-v3's count its
``AuxLogits`` head, so its expected parameters are the published ones less that head's.
Multiply-adds count convolutions, linear layers and matrix products (attention), as
torchvision's ``_ops`` do; element-wise operations count 0 on both sides. ``_ops`` is
rounded to 3 decimals, so a figure within half a unit of that rounding (0.0005 GMACs)
also agrees: ShuffleNetV2 x0.5's 0.0405 GMACs is published as 0.040 (1.2 % apart).
"""

from __future__ import annotations

import pytest
import torchvision

from netbuilder.compiler.torchvision_zoo import classifiers, survey, weights_meta

#: Models whose import takes more than about 10 s on two cores (large weights or inputs).
_SLOW_PARAMS = 60_000_000
_SLOW_GMACS = 12.0
#: Tolerance on multiply-adds, relative to the published figure.
MACS_TOLERANCE = 0.01
#: Half a unit of the published figure's last decimal (GMACs).
ROUNDING = 0.0005


def _left_out(name: str) -> int:
    """Parameters the published count includes and the imported model leaves out."""
    if name != "inception_v3":
        return 0
    head = torchvision.models.inception.InceptionAux(768, 1000)
    return sum(p.numel() for p in head.parameters())


def _slow(name: str) -> bool:
    meta, _side = weights_meta(name)
    return meta["num_params"] > _SLOW_PARAMS or meta["_ops"] > _SLOW_GMACS


def _cases() -> list[object]:
    return [pytest.param(name, marks=pytest.mark.slow) if _slow(name) else name
            for name in classifiers()]


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
@pytest.mark.parametrize("name", _cases())
def test_every_torchvision_classifier_imports_exactly(name: str) -> None:
    row = survey(name)
    assert not row.error, row.error
    assert row.max_difference is not None  # the compiled graph computed the model's output
    assert row.params == row.expected_params - _left_out(name)
    allowed = max(MACS_TOLERANCE * row.expected_gmacs, ROUNDING)
    assert abs(row.gmacs - row.expected_gmacs) <= allowed, (row.gmacs, row.expected_gmacs)
