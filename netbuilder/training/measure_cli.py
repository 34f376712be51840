"""``netbuilder profile FILE`` and ``netbuilder check FILE``: the measuring subcommands.

Importing this module does not import torch; the commands import it when they run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from netbuilder.core.arguments import positive_int
from netbuilder.core.errors import NetBuilderError
from netbuilder.core.graph import Graph
from netbuilder.core.messages import one_line
from netbuilder.training.cli import load_source

PROFILE_HELP = "measure forward and backward time per node under torch.profiler"
CHECK_HELP = "pre-flight check: overfit one batch for 50 steps and report per node"
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _graph(source: str) -> Graph | None:
    """The graph of a project file or template name (None, said on stderr, when none)."""
    try:
        return load_source(source).graph
    except NetBuilderError as exc:
        print(f"netbuilder: error: {one_line(str(exc))}", file=sys.stderr)
        return None


def configure_profile(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netbuilder profile``."""
    parser.add_argument("file", metavar="FILE", help="a .nbproj project file or a template")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch", type=positive_int, default=8, metavar="B")
    parser.add_argument("--steps", type=positive_int, default=3, metavar="N",
                        help="profiled steps, averaged (after one warm-up step)")
    parser.add_argument("--trace", type=Path, metavar="FILE.json",
                        help="save the trace for Perfetto (ui.perfetto.dev) or "
                             "chrome://tracing")


def run_profile(args: argparse.Namespace) -> int:
    """Profile and print a table of per-node times."""
    from netbuilder.training.profile import ProfileError, profile_graph

    graph = _graph(args.file)
    if graph is None:
        return EXIT_USAGE
    try:
        result = profile_graph(graph, device=args.device, batch=args.batch,
                               steps=args.steps, trace=args.trace)
    except ProfileError as exc:
        print(f"netbuilder: profile: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    rows = sorted(result.nodes.values(), key=lambda t: -t.total_ms)
    print(f"{'Node':<28} {'fwd ms':>9} {'bwd ms':>9} {'% step':>7} {'GMAC/s':>8}")
    for timing in rows:
        name = ".".join((*graph.find(timing.node)[0].path(), graph.find(timing.node)[1].name))
        flag = "  memory-bound" if timing.memory_bound else ""
        print(f"{name:<28} {timing.forward_ms:>9.3f} {timing.backward_ms:>9.3f} "
              f"{timing.share:>7.1%} {timing.gmacs:>8.2f}{flag}")
    print(f"step: {result.step_ms:.3f} ms on {result.device} at batch {result.batch}; "
          f"nodes {result.attributed_ms:.3f} ms "
          f"({result.attributed_ms / result.step_ms:.1%}), "
          f"unattributed {result.unattributed_ms:.3f} ms (loss, engine)")
    if result.trace is not None:
        print(f"trace: {result.trace} (open in ui.perfetto.dev or chrome://tracing)")
    return EXIT_OK


def configure_check(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netbuilder check``."""
    parser.add_argument("file", metavar="FILE", help="a .nbproj project file or a template")
    parser.add_argument("--batch", type=positive_int, default=16, metavar="B")
    parser.add_argument("--steps", type=positive_int, default=50, metavar="N")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")


def run_check(args: argparse.Namespace) -> int:
    """Run the pre-flight check; exit 1 when it finds something."""
    from netbuilder.training.preflight import PreflightError, preflight

    graph = _graph(args.file)
    if graph is None:
        return EXIT_USAGE
    try:
        report = preflight(graph, batch=args.batch, steps=args.steps, lr=args.lr)
    except PreflightError as exc:
        print(f"netbuilder: check: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"loss {report.losses[0]:.4g} → {report.losses[-1]:.4g} in {report.steps} steps "
          f"on one batch ({report.drop:.0%} drop)")
    for message in report.messages():
        print(f"  {message}")
    print("healthy" if report.healthy else "problems found")
    return EXIT_OK if report.healthy else EXIT_PROBLEMS
