"""The memory plan as the command line shows it: options, columns and totals.

``netbuilder summary FILE --batch 32 --optimizer adam --amp`` adds per-node columns
(saved activations, weights with gradient and optimiser state) and the peaks, and
``--fit 8`` the largest batch whose training step fits in 8 GB.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from netbuilder.core.analysis import Analysis
from netbuilder.core.arguments import positive_int
from netbuilder.core.graph import Graph
from netbuilder.core.memory import (
    OPTIMIZER_STATE,
    MemoryPlan,
    MemorySettings,
    NodeMemory,
    format_bytes,
    largest_batch,
    plan_memory,
)

MEMORY_HEADERS = ("Saved", "State")


def _budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of GB") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: a memory budget is 0 GB or more")
    return value


def add_memory_arguments(parser: argparse.ArgumentParser) -> None:
    """``--batch``, ``--optimizer``, ``--amp`` and ``--fit``."""
    parser.add_argument("--batch", type=positive_int, metavar="B",
                        help="add training memory columns for batches of B samples")
    parser.add_argument("--optimizer", choices=tuple(OPTIMIZER_STATE), default="adam",
                        help="optimiser whose state is counted (default adam)")
    parser.add_argument("--amp", nargs="?", const="bf16", choices=("bf16", "fp16"),
                        help="mixed precision (default bf16 when given without a value)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="where it trains (dropout masks differ; default cuda)")
    parser.add_argument("--fit", type=_budget, metavar="GB",
                        help="print the largest batch whose training step fits in GB")


def wants_memory(args: argparse.Namespace) -> bool:
    """Whether the user asked for memory columns or the batch solver."""
    return getattr(args, "batch", None) is not None or getattr(args, "fit", None) is not None


def settings_of(args: argparse.Namespace) -> MemorySettings:
    """The plan settings the options describe."""
    return MemorySettings(batch=args.batch or 1, precision=args.amp or "fp32",
                          optimizer=args.optimizer, device=args.device)


def memory_cells(memory: NodeMemory | None) -> tuple[str, str]:
    """The two memory cells of a node row (empty when not costed)."""
    if memory is None or not memory.costed:
        return ("?", "?") if memory is not None else ("", "")
    state = memory.weights + memory.gradients + memory.optimizer
    return (format_bytes(memory.saved) if memory.saved else "",
            format_bytes(state) if state else "")


def memory_totals(graph: Graph, analysis: Analysis, plan: MemoryPlan,
                  args: argparse.Namespace) -> list[str]:
    """The plan's totals, peaks and (with ``--fit``) the largest batch."""
    lines = [f"Memory ({plan.settings.optimizer}, {plan.settings.precision}, batch "
             f"{plan.settings.batch}):",
             *(f"  {line}" for line in plan.formulas())]
    if plan.uncosted:
        names = ", ".join(graph.find(n)[1].name for n in plan.uncosted)
        lines.append(f"  not costed (no shapes): {names}")
    if args.fit is not None:
        batch = largest_batch(graph, analysis, args.fit * 1e9, plan.settings)
        lines.append(f"  largest batch that fits in {args.fit:g} GB: {batch}" if batch else
                     f"  not even a batch of 1 fits in {args.fit:g} GB")
    return lines


def memory_json(graph: Graph, analysis: Analysis, plan: MemoryPlan,
                args: argparse.Namespace) -> dict[str, Any]:
    """The plan for ``summary --json``."""
    nodes = {n: {"saved_bytes": m.saved, "weights_bytes": m.weights,
                 "gradient_bytes": m.gradients, "optimizer_bytes": m.optimizer,
                 "formulas": m.formulas, "costed": m.costed}
             for n, m in plan.nodes.items()}
    out: dict[str, Any] = {
        "settings": asdict(plan.settings),
        "nodes": nodes, "saved_bytes": plan.saved, "weights_bytes": plan.weights,
        "gradient_bytes": plan.gradients, "optimizer_bytes": plan.optimizer,
        "inference_peak_bytes": plan.inference_peak,
        "training_peak_bytes": plan.training_peak, "uncosted": plan.uncosted,
    }
    if args.fit is not None:
        out["largest_batch"] = largest_batch(graph, analysis, args.fit * 1e9, plan.settings)
    return out


def plan_for(graph: Graph, analysis: Analysis, args: argparse.Namespace) -> MemoryPlan | None:
    """The plan the options ask for, or None when they ask for none."""
    return plan_memory(graph, analysis, settings_of(args)) if wants_memory(args) else None
