"""ONNX export through torch's dynamo exporter, checked with onnxruntime.

:func:`export_onnx` traces the compiled network with ``torch.onnx.export(...,
dynamo=True)`` with a dynamic batch dimension, writes the model atomically, then runs it
in onnxruntime on a batch of another size: the outputs must equal the compiled module's
within :data:`~netbuilder.compiler.export_common.TOLERANCE`. An op ONNX cannot express
raises :class:`UnsupportedOpError` naming the op and the node that uses it.

``onnx``, ``onnxscript`` and ``onnxruntime`` come with the ``export`` extra
(``pip install 'netbuilder[export]'``).
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from netbuilder.compiler.export_common import (
    CHECK_BATCH,
    TRACE_BATCH,
    ExportError,
    ExportReport,
    checked,
    compiled_for_export,
    dynamic_batch,
    example_inputs,
    max_difference,
    reference_outputs,
)
from netbuilder.compiler.module import GraphModule
from netbuilder.core.graph import Graph
from netbuilder.core.outputs import write_output

#: Packages the ONNX export needs beyond torch.
REQUIRED = ("onnx", "onnxscript", "onnxruntime")
#: An op's name in the exporter's messages (``aten.grid_sampler_3d.default``, ``my::op``).
_OP_PATTERN = re.compile(r"\b([A-Za-z_]\w*(?:\.|::)[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\b")


class UnsupportedOpError(ExportError):
    """An op the ONNX exporter cannot translate, named with the node that uses it."""


def default_opset() -> int:
    """The ONNX opset torch's exporter writes by default."""
    from torch.onnx._constants import ONNX_DEFAULT_OPSET

    return int(ONNX_DEFAULT_OPSET)


def missing_packages() -> list[str]:
    """The packages of :data:`REQUIRED` that are not installed."""
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def export_onnx(graph: Graph, path: str | os.PathLike[str], *, opset: int | None = None,
                module: GraphModule | None = None) -> ExportReport:
    """Write ``graph`` as an ONNX model to ``path`` and check it with onnxruntime.

    Args:
        graph: The network.
        path: The ``.onnx`` file to write (atomically).
        opset: The ONNX opset (default: torch's, :func:`default_opset`).
        module: The compiled network with the weights to export (default: ``graph``
            compiled with fresh weights).

    Raises:
        CompileError: when the graph has errors.
        ExportError: when a package is missing or the outputs differ.
        UnsupportedOpError: when an op has no ONNX translation.
        OutputError: when ``path`` cannot be written.
    """
    missing = missing_packages()
    if missing:
        raise ExportError(f"ONNX export needs {', '.join(missing)}: "
                          f"pip install 'netbuilder[export]'")
    compiled = compiled_for_export(graph, module)
    program = onnx_program(compiled, compiled.node_modules(), graph, opset)
    written = write_output(path, lambda temp: program.save(str(temp)))
    return verify_onnx(compiled, written)


def onnx_program(module: nn.Module, node_modules: Mapping[str, str], graph: Graph | None,
                 opset: int | None) -> Any:
    """The ``torch.onnx.ONNXProgram`` of ``module`` (inputs as ``GraphModule`` takes them).

    Args:
        module: The module to export.
        node_modules: Qualified module name by node id (to name a node at fault).
        graph: The graph the node ids belong to (for their names), if any.
        opset: The ONNX opset, or ``None`` for torch's default.

    Raises:
        UnsupportedOpError: when an op cannot be expressed in ONNX.
    """
    inputs = example_inputs(module, TRACE_BATCH)  # type: ignore[arg-type]
    shapes = dynamic_batch(module)  # type: ignore[arg-type]
    try:
        return torch.onnx.export(module, inputs, dynamo=True, dynamic_shapes=shapes,
                                 opset_version=opset, verbose=False, report=False)
    except Exception as error:
        raise _unsupported(error, module, inputs, node_modules, graph) from None


def verify_onnx(module: GraphModule, path: Path) -> ExportReport:
    """Run the model at ``path`` in onnxruntime on a fresh batch and compare with ``module``.

    Raises:
        ExportError: when the outputs differ by more than the tolerance.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = example_inputs(module, CHECK_BATCH, seed=1)
    feed = {arg.name: x.numpy() for arg, x in zip(session.get_inputs(), inputs)}
    results = tuple(torch.from_numpy(out) for out in session.run(None, feed))
    difference = max_difference(results, reference_outputs(module, inputs))
    return checked(path, difference, "onnxruntime's output")


# -- naming an op the exporter refused --------------------------------------------------------
def _unsupported(error: Exception, module: nn.Module, inputs: tuple[torch.Tensor, ...],
                 node_modules: Mapping[str, str], graph: Graph | None) -> ExportError:
    """The error to raise for an export that failed with ``error``."""
    text = str(error)
    ops = _op_names(text)
    located = _locate(module, inputs, ops, node_modules, graph) if ops else None
    if located is None:
        first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        return ExportError(f"ONNX export failed: {first}")
    node, op = located
    return UnsupportedOpError(f"ONNX cannot express the op {op} used by the node {node}",
                              [node])


def _op_names(text: str) -> list[str]:
    """The op names an exporter message mentions, most specific first."""
    names = [m for m in _OP_PATTERN.findall(text)
             if m.split(".")[0].split("::")[0] not in ("torch", "onnx", "onnxscript", "https")]
    return list(dict.fromkeys(names))


def _locate(module: nn.Module, inputs: tuple[torch.Tensor, ...], ops: list[str],
            node_modules: Mapping[str, str], graph: Graph | None) -> tuple[str, str] | None:
    """The node (by name) and op of the first traced call to one of ``ops``."""
    try:
        traced = torch.export.export(module, inputs)
    except Exception:
        return None
    wanted = {_normal(op) for op in ops}
    for fx_node in traced.graph.nodes:
        target = _normal(str(fx_node.target))
        if fx_node.op == "call_function" and (target in wanted or
                                              target.rsplit(".", 1)[0] in wanted):
            path = _module_path(fx_node.meta.get("nn_module_stack") or {})
            return _node_name(path, node_modules, graph), str(fx_node.target)
    return None


def _normal(op: str) -> str:
    return op.replace("::", ".")


def _module_path(stack: Mapping[str, Any]) -> str:
    """The innermost module's qualified name in an ``nn_module_stack`` entry."""
    paths = [str(value[0]) for value in stack.values() if value and value[0]]
    path = paths[-1] if paths else ""
    return re.sub(r"^L\['self'\]\.?", "", path).replace("._modules['", ".").replace("']", "")


def _node_name(path: str, node_modules: Mapping[str, str], graph: Graph | None) -> str:
    """The name of the node whose module is ``path`` (or the path itself)."""
    by_path = {name: node_id for node_id, name in node_modules.items()}
    while path:
        node_id = by_path.get(path)
        if node_id is not None:
            if graph is not None:
                level, node = graph.find(node_id)
                return ".".join((*level.path(), node.name))
            return path
        path = path.rpartition(".")[0]
    return "(the network)"
