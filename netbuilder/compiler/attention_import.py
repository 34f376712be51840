"""Self-attention calls in a traced model, folded into one call the importer maps to a block.

``torch.fx`` records ``out, _ = self.attn(x, x, x, need_weights=False)`` as a module call
with three arguments returning a tuple, then ``getitem`` nodes taking the tuple apart. No
block takes three inputs and returns a pair, so :func:`fold_self_attention` rewrites each
such use of an ``nn.MultiheadAttention`` that the ``multihead_attention`` block reproduces
into a single-argument call of the module whose value is the attended output; the
importer then maps it like any other module (its weights keep their keys). Other uses
(cross-attention, masks, the attention weights read) are left as traced and become opaque
nodes.
"""

from __future__ import annotations

import inspect
import operator
from typing import Any

from torch import fx, nn

from netbuilder.compiler.module_map import Unsupported, self_attention_call

#: Per traced tensor, its batch-ful shape (None for other values).
Shapes = dict[fx.Node, "tuple[int, ...] | None"]


def fold_self_attention(model: nn.Module, graph: fx.Graph, shapes: Shapes) -> int:
    """Rewrite every foldable self-attention call of ``graph`` in place (see the module doc).

    Args:
        model: The traced model.
        graph: Its traced graph.
        shapes: The recorded shapes; the folded call takes the shape of the output it
            replaces.

    Returns:
        How many calls were folded.
    """
    calls = [n for n in graph.nodes if n.op == "call_module"]
    targets = [str(n.target) for n in calls]
    folded = 0
    for node in calls:
        module = model.get_submodule(str(node.target))
        if type(module) is not nn.MultiheadAttention or targets.count(str(node.target)) != 1:
            continue
        query = _self_attention_input(module, node, shapes)
        output = _attended_output(node)
        if query is None or output is None:
            continue
        _replace(graph, node, query, output, shapes)
        folded += 1
    return folded


def _self_attention_input(module: nn.MultiheadAttention, node: fx.Node,
                          shapes: Shapes) -> fx.Node | None:
    """The one ``N×L×E`` input a call attends over, when the block reproduces the call."""
    try:
        self_attention_call(module)
        bound = inspect.signature(module.forward).bind(*node.args, **node.kwargs)
    except (Unsupported, TypeError):
        return None
    bound.apply_defaults()
    arguments: dict[str, Any] = bound.arguments
    query = arguments["query"]
    if not isinstance(query, fx.Node) or arguments["key"] is not query or \
            arguments["value"] is not query:
        return None
    if any(arguments[name] is not None for name in ("key_padding_mask", "attn_mask")) or \
            arguments["is_causal"] is not False:
        return None
    shape = shapes.get(query)
    return query if shape is not None and len(shape) == 3 else None


def _attended_output(node: fx.Node) -> fx.Node | None:
    """The one ``call(...)[0]`` node, when the rest of the call's users are unused ``[1]``."""
    firsts = []
    for user in node.users:
        if user.op != "call_function" or user.target is not operator.getitem or \
                user.args[0] is not node or user.args[1] not in (0, 1):
            return None
        if user.args[1] == 0:
            firsts.append(user)
        elif user.users:
            return None  # the attention weights are read
    return firsts[0] if len(firsts) == 1 else None


def _replace(graph: fx.Graph, node: fx.Node, query: fx.Node, output: fx.Node,
             shapes: Shapes) -> None:
    """Put ``module(query)`` in place of ``output`` and drop the original call."""
    with graph.inserting_after(node):
        call = graph.call_module(str(node.target), (query,))
    call.meta = dict(node.meta)
    shapes[call] = shapes.get(output)
    output.replace_all_uses_with(call)
    for user in list(node.users):
        graph.erase_node(user)
    graph.erase_node(node)
