"""The opaque block: a call no other block reproduces, kept by qualified name.

An imported model may call a module or a torch function that has no block (a
``torchvision.ops.misc.Permute``, ``F.interpolate``, a user's own layer). The importer keeps
such a call as an ``opaque`` node instead of refusing the model. Its parameters are text:

* ``target``: the qualified name of the call the node stands for (shown to the user);
* ``call``: the computation as a JSON *expression* over the node's input tensors (in edge
  order), its own tensors and modules, and constants — see :mod:`~netbuilder.blocks.opaque_module`;
* ``modules``: JSON ``{local name: {"class": "package.module:Class", "kwargs": {...}}}``,
  the modules the expression calls, rebuilt from their constructor arguments;
* ``tensors``: JSON ``{local name: {"shape": [...], "dtype": "float32", "buffer": false}}``,
  the parameters and buffers the expression reads directly.

Nothing here is analytic: the output shape comes from running the node on the meta
device, its parameters are counted on the module, and its multiply-adds are *measured*
with ``torch.utils.flop_counter.FlopCounterMode`` (half the counted FLOPs: matrix products
and convolutions, as the other blocks count). Results are cached per parameters and shapes.

Resolving a qualified name imports its module. Opening a project therefore imports the
modules its opaque nodes name; :func:`foreign_modules` lists those outside torch and
torchvision that are not imported yet, so a front end can ask before :func:`trust_modules`
lets them be imported.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from netbuilder.core.registry import BlockRegistry
from netbuilder.core.spec import (
    BlockSpec,
    Inference,
    Params,
    ParamSpec,
    PortSpec,
    Shape,
    ShapeError,
)

if TYPE_CHECKING:
    from netbuilder.core.graph import Graph

OPAQUE = "opaque"
#: Top-level packages whose names are imported without asking.
TRUSTED_ROOTS = frozenset(("torch", "torchvision", "operator", "_operator", "builtins", "math"))
_trusted: set[str] = set()
#: Sample batch used when running a node on the meta device (2: no size-1 squeezing).
_META_BATCH = 2


class UntrustedModuleError(ImportError):
    """A qualified name whose module is neither trusted nor imported yet."""


# -- trust ------------------------------------------------------------------------------------
def module_root(qualified: str) -> str:
    """``package.module:Class`` → ``package``."""
    return qualified.partition(":")[0].split(".")[0]


def is_trusted(qualified: str) -> bool:
    """Whether resolving ``qualified`` may import its module without asking."""
    root = module_root(qualified)
    module = qualified.partition(":")[0]
    return root in TRUSTED_ROOTS or root in _trusted or module in sys.modules


def trust_modules(roots: Iterable[str]) -> None:
    """Allow the named top-level packages to be imported by opaque nodes (this process)."""
    _trusted.update(roots)


def qualified_names(params: Params) -> set[str]:
    """Every qualified name an opaque node's parameters refer to."""
    names = {str(params.get("target", ""))}
    names.update(str(m.get("class", "")) for m in _loads(params.get("modules", "{}")).values())
    _collect_functions(_loads(params.get("call", "null")), names)
    return {n for n in names if ":" in n}


def _collect_functions(value: Any, names: set[str]) -> None:
    if isinstance(value, dict):
        if "function" in value:
            names.add(str(value["function"]))
        for item in value.values():
            _collect_functions(item, names)
    elif isinstance(value, list):
        for item in value:
            _collect_functions(item, names)


def foreign_modules(graph: Graph) -> list[str]:
    """Top-level packages the opaque nodes of ``graph`` (at every depth) would import.

    Only packages outside torch and torchvision that are not imported already are listed:
    opening the project imports them, which runs their code.
    """
    roots: set[str] = set()
    for _level, node in graph.walk():
        if node.type == OPAQUE:
            roots.update(module_root(n) for n in qualified_names(node.params)
                         if not is_trusted(n))
    return sorted(roots)


def foreign_modules_in_file(path: str | os.PathLike[str]) -> list[str]:
    """:func:`foreign_modules` of a project file, read without analysing it.

    Raises:
        ProjectFileError: when the file is not a valid project.
    """
    from netbuilder.core.serialize import load

    return foreign_modules(load(path).graph)


def untrusted_message(graph: Graph) -> str | None:
    """Why a front end must not open ``graph`` without asking, or None when it may."""
    foreign = foreign_modules(graph)
    if not foreign:
        return None
    flags = " ".join(f"--trust-module {name}" for name in foreign)
    return (f"opening it imports {', '.join(foreign)} (runs their code); to allow it, "
            f"pass {flags}")


def resolve(qualified: str) -> Any:
    """The object named ``package.module:attr.path``, importing its module.

    Raises:
        UntrustedModuleError: when the module is not trusted and not imported yet.
        ImportError, AttributeError: when it does not exist.
    """
    if not is_trusted(qualified):
        raise UntrustedModuleError(
            f"{qualified.partition(':')[0]} is not imported: opening this project would "
            "import it (trust it first)")
    from netbuilder.blocks.opaque_module import locate

    return locate(qualified)


def check_trusted(params: Params) -> None:
    """Refuse an opaque node naming a module that is neither trusted nor imported.

    Raises:
        UntrustedModuleError: naming the first such module.
    """
    for name in sorted(qualified_names(params)):
        if not is_trusted(name):
            raise UntrustedModuleError(
                f"{name.partition(':')[0]} is not imported: opening this project would "
                "import it (trust it first)")


def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as error:
        raise ShapeError(f"opaque: unreadable parameter ({error})") from None


def _torch() -> Any:
    import torch

    return torch


def build_opaque_module(params: Params) -> Any:
    """The ``torch.nn.Module`` of an opaque node (its tensors uninitialised)."""
    from netbuilder.blocks.opaque_module import OpaqueModule

    check_trusted(params)
    for name in ("call", "modules", "tensors"):
        _loads(params[name])  # unreadable JSON is a ShapeError on the node
    return OpaqueModule(str(params["call"]), str(params["modules"]), str(params["tensors"]))


# -- the block ----------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _measure(target: str, call: str, modules: str, tensors: str,
             inputs: tuple[Shape, ...]) -> Inference:
    """Run the node on meta tensors: output shape, parameters, buffers and measured MACs."""
    torch = _torch()
    from torch.utils.flop_counter import FlopCounterMode

    params = {"target": target, "call": call, "modules": modules, "tensors": tensors}
    with torch.device("meta"):
        module = build_opaque_module(params).requires_grad_(False)
        samples = [torch.empty((_META_BATCH, *shape)) for shape in inputs]
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            result = module(*samples)
    if not isinstance(result, torch.Tensor) or result.dim() == 0 \
            or result.shape[0] != _META_BATCH:
        raise ShapeError(f"{target} does not return one tensor per sample")
    shape = tuple(int(s) for s in result.shape[1:])
    count = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for b in module.buffers())
    macs = counter.get_total_flops() // 2 // _META_BATCH
    formulas = (f"shape: measured by running {target} on the meta device",
                f"params: {count} (counted on the module)",
                f"MACs: {macs} (measured with FlopCounterMode, not analytic)")
    return Inference(shape, count, macs, formulas=formulas, buffers=buffers)


@dataclass(frozen=True)
class OpaqueSpec(BlockSpec):
    """A call kept by qualified name; inference by running it on the meta device."""

    def infer(self, params: Params, inputs: Sequence[Shape]) -> Inference:
        """Shape, parameters and MACs measured on meta tensors (cached)."""
        if not inputs:
            raise ShapeError("opaque: needs at least one input")
        try:
            return _measure(str(params["target"]), str(params["call"]),
                            str(params["modules"]), str(params["tensors"]),
                            tuple(tuple(s) for s in inputs))
        except ShapeError:
            raise
        except Exception as error:  # whatever the wrapped call raises on these shapes
            message = f"{type(error).__name__}: {error}".splitlines()[0]
            raise ShapeError(f"{params['target']}: {message}") from None

    def label(self, params: Params) -> str:
        """The call's short name (``interpolate``, ``Permute``)."""
        return str(params["target"]).rpartition(":")[2].rpartition(".")[2]

    def build(self, params: Params, inputs: Sequence[Shape]) -> Any:
        """The node's module (see :mod:`netbuilder.blocks.opaque_module`)."""
        return build_opaque_module(params)


def opaque_spec() -> OpaqueSpec:
    """The ``opaque`` block's declaration."""
    def text(name: str, default: str, what: str) -> ParamSpec:
        return ParamSpec(name, "str", default, help=what)

    return OpaqueSpec(
        key=OPAQUE, title="Opaque Call", family="Structure",
        params=(text("target", "torch:nn.Identity", "Qualified name of the call kept"),
                text("call", '{"input": 0}', "The computation, as a JSON expression"),
                text("modules", "{}", "Modules it calls, rebuilt from their arguments"),
                text("tensors", "{}", "Parameters and buffers it reads directly")),
        inputs=(PortSpec("in", multi=True),), default_name="call",
        help="A call from an imported model that no block reproduces; shapes and MACs are "
             "measured on the meta device")


def register(registry: BlockRegistry) -> None:
    """Register the opaque block."""
    registry.register(opaque_spec())

