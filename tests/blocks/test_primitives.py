"""Every primitive block's analytic inference agrees with the torch module it builds.

For random parameters and input shapes (see :mod:`tests.blocks.primitive_cases`):

* when ``infer`` returns, the built module runs on a batch of 2 and gives exactly the
  inferred shape, parameter count and buffer count;
* when ``resolve`` raises ``ParameterValueError`` or ``infer`` raises ``ShapeError``,
  torch refuses too (building or running), unless the case is one the analysis refuses on
  purpose (``STRICTER``): never a shape for something torch cannot run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from netbuilder.core.errors import ParameterValueError
from netbuilder.core.registry import default_registry
from netbuilder.core.spec import (
    GROUP,
    GROUP_INPUT,
    GROUP_OUTPUT,
    INPUT,
    OUTPUT,
    BlockSpec,
    Inference,
    Shape,
    ShapeError,
)
from tests.blocks.primitive_cases import CASES, STRICTER

REGISTRY = default_registry()
#: Structural blocks, tested by hand in test_primitive_details.py.
STRUCTURAL = {INPUT, OUTPUT, GROUP, GROUP_INPUT, GROUP_OUTPUT}
PRIMITIVES = sorted(s.key for s in REGISTRY if not s.is_composite and s.key not in STRUCTURAL)
FAMILIES = {"Input/Output", "Convolution", "Linear", "Pooling", "Normalization", "Activation",
            "Regularization", "Merge", "Structure", "Transformer"}


def batch(inputs: Sequence[Shape]) -> list[torch.Tensor]:
    """A random batch of 2 for each input shape."""
    return [torch.randn(2, *shape) for shape in inputs]


def buffer_count(module: torch.nn.Module) -> int:
    """Stored values, without batch norm's ``num_batches_tracked`` counter."""
    return sum(b.numel() for name, b in module.named_buffers()
               if not name.endswith("num_batches_tracked"))


def run(spec: BlockSpec, params: dict[str, Any],
        inputs: Sequence[Shape]) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """Build the block's module and run it on a batch."""
    module = spec.build(params, inputs)
    with torch.no_grad():
        return module(*batch(inputs))


def assert_torch_refuses(spec: BlockSpec, params: dict[str, Any],
                         inputs: Sequence[Shape]) -> None:
    """torch raises when building or running the block, or gives an empty tensor.

    Our own errors raised from ``build`` do not count as torch refusing.
    """
    try:
        out = run(spec, params, inputs)
    except (ShapeError, ParameterValueError, NotImplementedError):
        raise
    except Exception:
        return
    parts = out if isinstance(out, tuple) else (out,)
    if any(o.numel() == 0 for o in parts):  # e.g. a transposed convolution to 0×0
        return
    pytest.fail(f"refused, but torch gives {[tuple(o.shape) for o in parts]} for {params} "
                f"on {inputs}")


def assert_agrees(spec: BlockSpec, params: dict[str, Any], inputs: Sequence[Shape],
                  inferred: Inference) -> None:
    """The module's output shape, parameters, buffers and MACs are the inferred ones.

    torch's flop counter counts 2 FLOPs per multiply-accumulate of convolutions and
    matrix products (bias additions aside) and nothing for other operations: exactly
    the MAC convention of the blocks, times 2 per MAC and 2 samples.
    """
    module = spec.build(params, inputs)
    # FlopCounterMode does not count torch's fused CPU attention kernel: attention runs on
    # the math backend here (the same matrix products, counted)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), \
            FlopCounterMode(display=False) as counter:
        out = module(*batch(inputs))
    parts = out if isinstance(out, tuple) else (out,)  # a split returns one per port
    shapes = inferred.outputs or (inferred.shape,)
    assert [tuple(o.shape) for o in parts] == [(2, *s) for s in shapes]
    assert sum(p.numel() for p in module.parameters()) == inferred.params
    assert buffer_count(module) == inferred.buffers
    assert counter.get_total_flops() == 4 * inferred.macs


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("key", PRIMITIVES)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_inference_agrees_with_torch(key: str, data: st.DataObject) -> None:
    spec = REGISTRY.get(key)
    raw, inputs = data.draw(CASES[key], label="params, inputs")
    try:
        params = spec.resolve(raw)
    except ParameterValueError:
        assert_torch_refuses(spec, {**spec.defaults(), **raw}, inputs)
        return
    try:
        inferred = spec.infer(params, inputs)
    except ShapeError:
        refused_on_purpose = STRICTER.get(key)
        if refused_on_purpose is None or not refused_on_purpose(params, inputs):
            assert_torch_refuses(spec, params, inputs)
        return
    assert_agrees(spec, params, inputs, inferred)


def test_every_primitive_has_a_strategy() -> None:
    assert sorted(CASES) == PRIMITIVES


@pytest.mark.parametrize("key", PRIMITIVES + sorted(STRUCTURAL))
def test_declarations_are_complete(key: str) -> None:
    spec = REGISTRY.get(key)
    assert spec.family in FAMILIES
    assert spec.title and spec.help and spec.default_name
    assert spec.resolve({}) == spec.defaults()
    for param in spec.params:
        assert param.help, param.name
        if param.kind in ("int", "float", "ints", "padding", "shape"):
            assert param.minimum is not None and param.maximum is not None, param.name


@pytest.mark.parametrize("key", PRIMITIVES)
def test_defaults_run_on_a_typical_input(key: str) -> None:
    spec = REGISTRY.get(key)
    shape = {"1d": (4, 16), "3d": (2, 6, 6, 6)}.get(key[-2:], (16, 12, 12))
    if key in ("batchnorm1d", "adaptive_avgpool1d"):
        shape = (4, 16)
    if key in ("multihead_attention", "token_select"):  # a sequence of 10 tokens
        shape = (10, 16)
    if key == "patch_embedding":  # larger than one default 16×16 patch
        shape = (3, 32, 32)
    inputs = [shape, shape] if spec.inputs and spec.inputs[0].multi else [shape]
    params = spec.resolve({})
    assert_agrees(spec, params, inputs, spec.infer(params, inputs))
