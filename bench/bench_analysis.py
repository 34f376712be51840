"""Analysis speed on a ResNet-50-sized graph, as figures and as ratios.

Prints the time of a full analysis pass (fresh analyser, nothing cached), of a re-analysis
after a single parameter change (incremental), and of one forward pass of the same model
on the meta device (shape propagation by torch itself, measured in the same run) — the
ratios say how our analytic inference compares with asking torch.

Targets (issue 2): full pass < 10 ms; a single parameter change re-analysed incrementally.

Usage: ``python bench/bench_analysis.py [--template resnet50] [--repeats 30]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from netbuilder.core import commands
from netbuilder.core.analysis import Analyzer
from netbuilder.core.graph import Graph


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def build(name: str) -> Graph:
    """The template graph ``name``."""
    from netbuilder.templates import build_template

    return build_template(name)


def deepest_conv(graph: Graph) -> tuple[Graph, str]:
    """A conv node deep inside the network (its change re-flows little downstream)."""
    found = [(g, n) for g, n in graph.walk() if n.type == "conv2d" and n.name == "conv2"]
    level, node = found[len(found) // 2]
    return level, node.id


def meta_forward_ms(graph: Graph, repeats: int) -> float:
    """One forward pass of the compiled graph on the meta device."""
    import torch

    from netbuilder.compiler import compile_graph

    with torch.device("meta"):
        model = compile_graph(graph)
    shape = next(n.resolved["shape"] for n in graph.nodes.values() if n.type == "input")
    x = torch.empty((1, *shape), device="meta")
    with torch.no_grad():
        return median_ms(lambda: model(x), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="resnet50")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    graph = build(args.template)
    nodes = sum(1 for _ in graph.walk())
    meta = meta_forward_ms(graph, max(5, args.repeats // 3))
    full = median_ms(lambda: Analyzer(graph).run(), args.repeats)
    analyzer = Analyzer(graph)
    analyzer.run()
    level, node_id = deepest_conv(graph)
    values = iter(range(10**6))

    def one_edit() -> None:
        commands.set_param(level, node_id, "out_channels", 64 + next(values) % 2 * 8).redo()
        analyzer.run()

    incremental = median_ms(one_edit, args.repeats)
    unchanged = median_ms(analyzer.run, args.repeats)
    print(f"graph: {args.template}, {nodes} nodes (all levels)")
    print(f"full analysis pass:          {full:7.2f} ms  (target < 10 ms)  "
          f"ratio to meta forward {full / meta:5.2f}")
    print(f"one parameter change:        {incremental:7.2f} ms  "
          f"ratio to full pass {incremental / full:5.2f}, "
          f"to meta forward {incremental / meta:5.2f}")
    print(f"re-analysis, nothing changed:{unchanged:7.2f} ms")
    print(f"meta-device forward (torch): {meta:7.2f} ms  (reference)")


if __name__ == "__main__":
    main()
