"""Where and how a run computes: device choice, mixed precision, the network's facts."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from netbuilder.core.graph import Graph
from netbuilder.core.spec import INPUT, OUTPUT
from netbuilder.training.errors import TrainingError

if TYPE_CHECKING:
    from netbuilder.training.data import PreparedData

Shape = tuple[int, ...]


def pick_device(name: str) -> torch.device:
    """The device ``name`` asks for; ``auto`` is CUDA, else MPS (macOS), else the CPU.

    Raises:
        TrainingError: when the device asked for is not available.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError("device cuda: no CUDA GPU is available (use auto or cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise TrainingError(f"device {name}: there are only "
                                f"{torch.cuda.device_count()} CUDA devices")
    if device.type == "mps" and not _mps_available():
        raise TrainingError("device mps: Apple's Metal backend is not available here")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager[Any]:
    """A reusable context for the forward pass: autocast to ``amp``'s type, or nothing."""
    if amp == "none":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, amp: str) -> torch.amp.GradScaler | None:
    """A gradient scaler for float16 training (``None`` otherwise)."""
    if amp != "fp16":
        return None
    return torch.amp.GradScaler(device.type)


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says the device ran out of memory."""
    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    if isinstance(error, (oom, torch.cuda.OutOfMemoryError)):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


# -- the network -------------------------------------------------------------------------------
def graph_input_shape(graph: Graph) -> Shape:
    """The shape of the graph's single ``input`` node.

    Raises:
        TrainingError: when the graph has no input or several.
    """
    inputs = [n for n in graph.nodes.values() if n.type == INPUT]
    if len(inputs) != 1:
        raise TrainingError(f"training needs a network with exactly one input node "
                            f"(this one has {len(inputs)})")
    return tuple(int(d) for d in inputs[0].resolved["shape"])


def require_output(graph: Graph) -> None:
    """Make sure the graph has an output node, whose scores training compares with labels.

    Raises:
        CompileError: saying how to add one.
    """
    from netbuilder.compiler import CompileError

    if not any(node.type == OUTPUT for node in graph.nodes.values()):
        raise CompileError("the network has no output node, so there is nothing to compare "
                           "with the labels: connect its last layer (one score per class) "
                           "to an output node")


def network_input_shape(graph: Graph | None, model: nn.Module,
                        given: Shape | None = None) -> Shape:
    """The input shape of the network: the graph's input node, ``given``, or the module's.

    Raises:
        TrainingError: when it cannot be known.
    """
    if graph is not None:
        return graph_input_shape(graph)
    if given is not None:
        return tuple(given)
    shapes = getattr(model, "input_shapes", None)
    if shapes and len(shapes) == 1:
        return tuple(shapes[0])
    raise TrainingError("give the input shape of the module (input_shape=(C, H, W))")


def check_network(model: nn.Module, data: PreparedData, device: torch.device,
                  channels_last: bool = False) -> None:
    """Run two samples through ``model`` (eval mode): it must work and score every class.

    Raises:
        TrainingError: saying what does not fit.
    """
    x, _ = data.samples(2, split="train")
    x = x.to(device)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:
        raise TrainingError(f"the network cannot run on {data.name} images of shape "
                            f"{tuple(x.shape[1:])}: {exc}") from exc
    out = out[0] if isinstance(out, tuple) else out
    if out.dim() != 2:
        raise TrainingError(f"the network's output is {'×'.join(map(str, out.shape[1:]))} "
                            f"per image; a classifier ends in one score per class (add "
                            f"flatten and linear layers)")
    if out.shape[1] < data.num_classes:
        raise TrainingError(f"the network outputs {out.shape[1]} scores but {data.name} has "
                            f"{data.num_classes} classes: give the last layer "
                            f"{data.num_classes} outputs")


def graph_last_block(graph: Graph) -> str | None:
    """Block type of the node feeding the graph's (first) output node."""
    for node in graph.nodes.values():
        if node.type == OUTPUT:
            edges = graph.in_edges(node.id)
            return graph.nodes[edges[0].source].type if edges else None
    return None


def module_last_block(module: nn.Module) -> str | None:
    """Lower-case class name of the last leaf module registered in ``module``."""
    leaves = [m for m in module.modules() if not list(m.children())]
    return type(leaves[-1]).__name__.lower() if leaves else None


def frozen_norms(module: nn.Module) -> list[nn.Module]:
    """Modules to keep in eval mode while training: those of frozen nodes.

    For a compiled graph these are its frozen nodes' modules; for another module, every
    batch norm whose parameters are all frozen.
    """
    frozen = getattr(module, "frozen_modules", None)
    if callable(frozen):
        return list(frozen().values())
    return [m for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._NormBase)
            and list(m.parameters()) and not any(p.requires_grad for p in m.parameters())]
