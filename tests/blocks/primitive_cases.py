"""Hypothesis strategies of ``(params, inputs)`` for every primitive block.

:data:`CASES` maps each block key to a strategy drawing raw (unresolved) parameters and a
list of batch-less input shapes. Shapes are small so that building and running the torch
module is quick; most draws have the rank the block expects, some any rank, and some
parameters are drawn so that torch refuses them (groups that do not divide, padding too
large), to exercise the error paths.

:data:`STRICTER` lists, per block, the cases that the analysis refuses on purpose although
torch would run them (mostly because torch would read the batch dimension as something
else), so that the property test can tell them from bugs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

from netbuilder.core.registry import default_registry
from netbuilder.core.spec import ParamSpec, Shape

Case = tuple[dict[str, Any], list[Shape]]
Strategy = st.SearchStrategy[Case]
REGISTRY = default_registry()


# -- shapes ---------------------------------------------------------------------------
def shape(rank: int, channels: int = 6, size: int = 8) -> st.SearchStrategy[Shape]:
    """A batch-less shape of ``rank``: a channel count then small spatial sizes."""
    return st.tuples(st.integers(1, channels), *[st.integers(1, size)] * (rank - 1))


def any_shape(size: int = 5) -> st.SearchStrategy[Shape]:
    """A shape of any rank from 1 to 4."""
    return st.one_of(*(shape(r, size=size) for r in (1, 2, 3, 4)))


def mostly(ranks: Sequence[int], channels: int = 6, size: int = 8) -> st.SearchStrategy[Shape]:
    """Shapes of the expected ``ranks`` two times in three, else of any rank."""
    right = st.one_of(*(shape(r, channels, size) for r in ranks))
    return st.one_of(right, right, any_shape())


# -- parameters -----------------------------------------------------------------------
def ints(low: int, high: int, n: int) -> st.SearchStrategy[int | tuple[int, ...]]:
    """An int, or a tuple of ``n`` ints (an ``ints`` parameter of an N-d block)."""
    return st.one_of(st.integers(low, high), st.tuples(*[st.integers(low, high)] * n))


def _default_strategy(param: ParamSpec) -> st.SearchStrategy[Any]:
    low = param.minimum
    if param.kind == "float":
        strategy: st.SearchStrategy[Any] = st.floats(low, param.maximum)
    elif param.kind == "int":
        high = param.maximum if param.maximum - low <= 10 else low + 6
        strategy = st.integers(int(low), int(high))
    elif param.kind == "bool":
        strategy = st.booleans()
    elif param.kind == "choice":
        strategy = st.sampled_from(param.choices)
    else:
        raise AssertionError(f"give {param.name} a strategy explicitly")
    return st.one_of(st.none(), strategy) if param.nullable else strategy


def params(key: str, **given: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the block's parameters: ``given`` strategies, else from the spec."""
    spec = REGISTRY.get(key)
    return st.fixed_dictionaries({}, optional={
        p.name: given[p.name] if p.name in given else _default_strategy(p)
        for p in spec.params})


def one_input(key: str, inputs: st.SearchStrategy[Shape],
              **given: st.SearchStrategy[Any]) -> Strategy:
    """A single-input case."""
    return st.tuples(params(key, **given), inputs.map(lambda s: [s]))


# -- block families -------------------------------------------------------------------
@st.composite
def _permute_case(draw: st.DrawFn) -> Case:
    shape = draw(any_shape())
    order = draw(st.permutations(range(len(shape))))
    dims = ", ".join(map(str, order))
    if draw(st.integers(0, 5)) == 0:  # now and then an order of the wrong length
        dims = ", ".join(map(str, range(len(shape) + 1)))
    return {"dims": dims}, [shape]


@st.composite
def _split_case(draw: st.DrawFn) -> Case:
    """Chunks or sizes along any dimension; the sizes often add up to the input's length."""
    shape = list(draw(any_shape(size=6)))
    dim = draw(st.integers(-len(shape) - 1, len(shape)))
    if draw(st.booleans()):
        return {"chunks": draw(st.integers(2, 5)), "dim": dim}, [tuple(shape)]
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    axis = dim % (len(shape) + 1)
    if axis and draw(st.integers(0, 3)):
        shape[axis - 1] = sum(sizes)
    return {"sizes": ", ".join(map(str, sizes)), "dim": dim}, [tuple(shape)]


@st.composite
def _reshape_case(draw: st.DrawFn) -> Case:
    """The input's sizes reordered (one maybe -1), or any sizes (mostly a wrong count)."""
    shape = draw(any_shape())
    if draw(st.integers(0, 3)):
        target = [str(s) for s in draw(st.permutations(shape))]
    else:
        target = [str(s) for s in draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))]
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = "-1"
    return {"shape": ", ".join(target)}, [shape]


def _split_refused(p: dict[str, Any], inputs: list[Shape]) -> bool:
    """A split of the batch, or chunks that torch.chunk would cut fewer of."""
    from netbuilder.blocks.shape_ops import chunk_sizes, split_sizes

    if _names_batch("dim")(p, inputs):
        return True
    rank = len(inputs[0]) + 1
    if split_sizes(p) or not -rank <= p["dim"] < rank:
        return False
    length = inputs[0][p["dim"] % rank - 1]
    return len(chunk_sizes(length, p["chunks"])) != p["chunks"]


def shape_op_cases() -> dict[str, Strategy]:
    """Upsample (scale or size), channel shuffle, permute, split and reshape."""
    size = st.one_of(st.none(), st.tuples(st.integers(1, 12)),
                     st.tuples(st.integers(1, 12), st.integers(1, 12)))
    scale = st.one_of(st.none(), st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]))
    return {
        "upsample": st.one_of(
            # torch raises NotImplementedError on a vector, which counts as a crash here
            one_input("upsample", st.one_of(shape(2), shape(3), shape(4)), size=size,
                      scale_factor=scale,
                      mode=st.just("nearest")),
            one_input("upsample", shape(3), size=size, scale_factor=scale,
                      mode=st.just("bilinear"))),
        "channel_shuffle": one_input("channel_shuffle", mostly((3,), channels=8),
                                     groups=st.integers(1, 4)),
        "permute": _permute_case(),
        "split": _split_case(),
        "reshape": _reshape_case(),
    }


def _opaque(target: str, call: dict[str, Any], modules: dict[str, Any] | None = None,
            tensors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"target": target, "call": json.dumps(call), "modules": json.dumps(modules or {}),
            "tensors": json.dumps(tensors or {})}


def opaque_case() -> Strategy:
    """Opaque calls: a function with options, a rebuilt module, a tensor read directly."""
    interpolate = _opaque("torch.nn.functional:interpolate", {
        "function": "torch.nn.functional:interpolate", "args": [{"input": 0}],
        "kwargs": {"scale_factor": 2.0, "mode": "nearest"}})
    linear = _opaque("torch.nn.modules.linear:Linear", {"module": "lin", "args": [{"input": 0}]},
                     {"lin": {"class": "torch.nn.modules.linear:Linear",
                              "kwargs": {"in_features": 6, "out_features": 4}}})
    scale = _opaque("_operator:mul", {"function": "_operator:mul",
                                      "args": [{"input": 0}, {"tensor": "gamma"}]},
                    tensors={"gamma": {"shape": [6, 1, 1], "dtype": "float32"}})
    chunk = _opaque("_operator:getitem", {"function": "_operator:getitem", "args": [
        {"method": "chunk", "args": [{"input": 0}, 2, 1]}, 1]})
    return st.one_of(
        st.tuples(st.just(interpolate), shape(3).map(lambda s: [s])),
        st.tuples(st.just(linear), st.sampled_from([[(6,)], [(3, 6)]])),
        st.tuples(st.just(scale), st.tuples(st.just(6), st.integers(1, 5),
                                            st.integers(1, 5)).map(lambda s: [s])),
        st.tuples(st.just(chunk), shape(3).filter(lambda s: s[0] >= 2).map(lambda s: [s])))


@st.composite
def conv_case(draw: st.DrawFn, key: str, dims: int) -> Case:
    """Convolutions, with channels usually (not always) divisible by groups."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    channels = groups * draw(st.integers(1, 3)) + draw(st.sampled_from([0, 0, 0, 1]))
    sizes = draw(st.tuples(*[st.integers(1, 9 - 2 * dims)] * dims))
    rank = draw(st.sampled_from([dims + 1] * 4 + [1, 2, 3, 4]))
    shape = (channels, *sizes, 3, 3, 3)[:rank]
    given = dict(out_channels=st.just(groups * draw(st.integers(1, 3)) +
                                      draw(st.sampled_from([0, 0, 0, 1]))),
                 groups=st.just(groups), kernel_size=ints(1, 4, dims),
                 stride=ints(1, 3, dims), dilation=ints(1, 3, dims))
    if key.startswith("conv_transpose"):
        given.update(padding=ints(0, 2, dims), output_padding=ints(0, 2, dims))
    else:
        given.update(padding=st.one_of(ints(0, 3, dims), st.sampled_from(["same", "valid"])))
    return draw(params(key, **given)), [shape]


def pool_case(key: str, dims: int) -> Strategy:
    """Max and average pooling."""
    return one_input(key, mostly([dims + 1], size=9 - 2 * dims),
                     kernel_size=ints(1, 4, dims), stride=st.one_of(st.none(), ints(1, 3, dims)),
                     padding=ints(0, 2, dims), dilation=ints(1, 3, dims))


def adaptive_case(key: str, dims: int) -> Strategy:
    """Adaptive pooling, including outputs larger than the input."""
    return one_input(key, mostly([dims + 1]), output_size=ints(1, 6, dims))


def pointwise(key: str, ranks: Sequence[int] = (1, 2, 3, 4)) -> Strategy:
    """A shape-preserving block with parameters drawn from its spec."""
    return one_input(key, mostly(ranks))


@st.composite
def elementwise_case(draw: st.DrawFn, key: str) -> Case:
    """Two to four inputs: equal, broadcastable (sizes set to 1), or mismatched."""
    base = draw(mostly([3], size=4))
    inputs = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["same", "same", "ones", "other"]))
        if kind == "ones":
            inputs.append(tuple(1 if draw(st.booleans()) else n for n in base))
        else:
            inputs.append(base if kind == "same" else draw(any_shape(4)))
    return {}, inputs


@st.composite
def concat_case(draw: st.DrawFn) -> Case:
    """One to four inputs that differ along ``dim``, sometimes elsewhere too."""
    dim = draw(st.integers(-5, 4))
    base = draw(mostly([1, 2, 3], size=5))
    inputs = []
    for _ in range(draw(st.integers(1, 4))):
        sizes = list(base)
        if draw(st.booleans()):
            sizes[draw(st.integers(0, len(sizes) - 1))] = draw(st.integers(1, 5))
        inputs.append(tuple(sizes) if draw(st.integers(0, 5)) else draw(any_shape(4)))
    return {"dim": dim}, inputs


@st.composite
def groupnorm_case(draw: st.DrawFn) -> Case:
    """Group norm, with channels usually divisible by the groups."""
    groups = draw(st.integers(1, 4))
    base = draw(mostly([1, 2, 3, 4]))
    channels = groups * draw(st.integers(1, 2)) + draw(st.sampled_from([0, 0, 1]))
    return draw(params("groupnorm", num_groups=st.just(groups))), [(channels, *base[1:])]


@st.composite
def attention_case(draw: st.DrawFn) -> Case:
    """Self-attention on L×E tokens, E usually a multiple of the heads."""
    heads = draw(st.integers(1, 4))
    embed = heads * draw(st.integers(1, 3)) + draw(st.sampled_from([0, 0, 0, 1]))
    tokens = draw(st.one_of(st.tuples(st.integers(1, 6), st.just(embed)),
                            st.tuples(st.just(embed)), shape(3, size=4)))
    return draw(params("multihead_attention", num_heads=st.just(heads))), [tokens]


def transformer_cases() -> dict[str, Strategy]:
    """Multi-head attention, patch embedding and token selection."""
    return {
        "multihead_attention": attention_case(),
        "patch_embedding": one_input("patch_embedding", mostly((3,), size=9),
                                     patch_size=st.integers(1, 5),
                                     hidden_dim=st.integers(1, 8)),
        "token_select": one_input("token_select", any_shape(), index=st.integers(-6, 6)),
    }


def _cases() -> dict[str, Strategy]:
    cases: dict[str, Strategy] = {
        "flatten": pointwise("flatten"),
        "identity": pointwise("identity"),
        "conv_transpose2d": conv_case("conv_transpose2d", 2),
        "linear": one_input("linear", mostly([1]), out_features=st.integers(1, 12)),
        "global_avgpool": pointwise("global_avgpool", [3]),
        "batchnorm1d": pointwise("batchnorm1d", [1, 2]),
        "batchnorm2d": pointwise("batchnorm2d", [3]),
        "batchnorm3d": pointwise("batchnorm3d", [4]),
        "layernorm": pointwise("layernorm"),
        "groupnorm": groupnorm_case(),
        "lrn": one_input("lrn", mostly([2, 3, 4]), size=st.integers(1, 6)),
        "dropout2d": pointwise("dropout2d", [3]),
        "add": elementwise_case("add"),
        "multiply": elementwise_case("multiply"),
        "concat": concat_case(),
        "channel_pad": one_input("channel_pad", mostly([3]), out_channels=st.integers(1, 8),
                                 stride=st.integers(1, 3)),
    }
    for dims in (1, 2, 3):
        cases[f"conv{dims}d"] = conv_case(f"conv{dims}d", dims)
        for op in ("max", "avg"):
            cases[f"{op}pool{dims}d"] = pool_case(f"{op}pool{dims}d", dims)
    for key, dims in (("adaptive_avgpool1d", 1), ("adaptive_avgpool2d", 2),
                      ("adaptive_maxpool2d", 2)):
        cases[key] = adaptive_case(key, dims)
    cases["opaque"] = opaque_case()
    cases.update(shape_op_cases())
    cases.update(transformer_cases())
    cases["layernorm2d"] = one_input("layernorm2d", mostly((3,)),
                                     eps=st.sampled_from([1e-6, 1e-5]))
    cases["layer_scale"] = one_input("layer_scale", any_shape(), dim=st.integers(-5, 4),
                                     init_value=st.sampled_from([1e-6, 0.5, 2.0]))
    for key in ("relu", "leaky_relu", "prelu", "elu", "gelu", "silu", "sigmoid", "tanh",
                "softmax", "log_softmax", "hardswish", "relu6", "hardsigmoid", "mish",
                "dropout", "stochastic_depth"):
        cases[key] = pointwise(key)
    return cases


#: Strategy of ``(raw params, input shapes)`` per primitive block key.
CASES = _cases()


# -- deliberate refusals --------------------------------------------------------------
Refusal = Callable[[dict[str, Any], list[Shape]], bool]


def _rank_is(*ranks: int) -> Refusal:
    """The input has a rank that torch would read as an unbatched sample."""
    return lambda p, inputs: len(inputs[0]) in ranks


def _names_batch(*names: str) -> Refusal:
    """A dimension parameter resolves to the batch dimension."""
    def refused(p: dict[str, Any], inputs: list[Shape]) -> bool:
        rank = len(inputs[0]) + 1
        return any(p[n] % rank == 0 and -rank <= p[n] < rank for n in names)
    return refused


def _ranks_differ(p: dict[str, Any], inputs: list[Shape]) -> bool:
    return len({len(s) for s in inputs}) > 1


def _one_or_ranks_differ(p: dict[str, Any], inputs: list[Shape]) -> bool:
    return len(inputs) < 2 or _ranks_differ(p, inputs)


def _stricter() -> dict[str, Refusal]:
    stricter: dict[str, Refusal] = {
        "conv_transpose2d": _rank_is(2), "global_avgpool": _rank_is(2, 4),
        "adaptive_avgpool1d": _rank_is(1, 3, 4), "adaptive_avgpool2d": _rank_is(2, 4),
        "adaptive_maxpool2d": _rank_is(2, 4),
        "channel_pad": lambda p, inputs: (len(inputs[0]) != 3  # a negative pad crops
                                          or p["out_channels"] < inputs[0][0]),
        "dropout2d": lambda p, inputs: len(inputs[0]) != 3,
        "layernorm": lambda p, inputs: p["normalized_dims"] > len(inputs[0]),
        "softmax": _names_batch("dim"), "log_softmax": _names_batch("dim"),
        "layer_scale": _names_batch("dim"),
        "flatten": _names_batch("start_dim", "end_dim"),
        "concat": lambda p, inputs: _ranks_differ(p, inputs) or _names_batch("dim")(p, inputs),
        "add": _one_or_ranks_differ, "multiply": _one_or_ranks_differ,
        "split": _split_refused,
        "multihead_attention": _rank_is(1), "token_select": _rank_is(1),
    }
    for dims in (1, 2, 3):
        for key in (f"conv{dims}d", f"maxpool{dims}d", f"avgpool{dims}d"):
            stricter[key] = _rank_is(dims)
    return stricter


#: Per block, the cases refused on purpose although torch would run them.
STRICTER = _stricter()
