"""Project file save and load time against file size, as figures and as ratios.

Two families of files (issue 19):

* ``nested D``: a ``basic_block`` edited so that its body holds another ``basic_block``,
  whose body holds another, ``D`` deep (saving used to serialise each body again for
  every ancestor: exponential in ``D``);
* ``nameless N``: a chain of ``N`` ReLUs written without names (loading used to count
  names up from 1 for each node: quadratic in ``N``).

For each file the bench prints its size, the median save (``dumps``) and load (``loads``)
times, and time per kilobyte relative to the smallest file of its family: a ratio near 1
means time grows in proportion to size. ``summary`` adds a full analysis after loading,
as ``netbuilder summary`` does.

Usage: ``python bench/bench_files.py [--depths 5 10 20] [--counts 10000 50000 100000]
[--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from itertools import pairwise

from netbuilder.core import serialize
from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph


def median_s(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def nested_text(depth: int) -> str:
    """A project with ``basic_block`` s nested ``depth`` deep in edited bodies."""
    graph = Graph()
    x = graph.add("input", shape=(8, 8, 8))
    block = graph.add("basic_block", after=x, out_channels=8)
    graph.add("output", after=block)
    level = block.body
    for _ in range(depth - 1):
        assert level is not None
        level = level.add("basic_block", out_channels=8).body
    return serialize.dumps(serialize.Project(graph))


def nameless_text(count: int) -> str:
    """A project with an input and ``count`` ReLUs in a chain, none of them named."""
    nodes = [{"id": "in", "type": "input", "params": {"shape": [8]}}]
    nodes += [{"id": f"r{k}", "type": "relu"} for k in range(count)]
    nodes.append({"id": "out", "type": "output"})
    edges = [{"source": a["id"], "target": b["id"]} for a, b in pairwise(nodes)]
    document = {"format": "netbuilder-project", "format_version": 1,
                "graph": {"nodes": nodes, "edges": edges}}
    return json.dumps(document, indent=1)


def measure(label: str, text: str, repeats: int) -> dict[str, float | str]:
    """Size and median save, load and load-plus-analysis times of one file."""
    project = serialize.loads(text)
    return {
        "file": label,
        "kb": len(text.encode()) / 1024,
        "save": median_s(lambda: serialize.dumps(project), repeats),
        "load": median_s(lambda: serialize.loads(text), repeats),
        "summary": median_s(lambda: analyze(serialize.loads(text).graph), repeats),
    }


def report(rows: list[dict[str, float | str]]) -> None:
    """Print figures and per-kilobyte ratios against the family's first (smallest) file."""
    base = rows[0]
    print(f"{'file':<16}{'KB':>10}{'save s':>10}{'load s':>10}{'summary s':>11}"
          f"{'save/KB':>10}{'load/KB':>10}{'summ/KB':>10}")
    for row in rows:
        ratios = [(float(row[k]) / float(row["kb"])) / (float(base[k]) / float(base["kb"]))
                  for k in ("save", "load", "summary")]
        print(f"{row['file']:<16}{row['kb']:>10.0f}{row['save']:>10.3f}{row['load']:>10.3f}"
              f"{row['summary']:>11.3f}" + "".join(f"{r:>10.2f}" for r in ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("time per KB relative to the family's smallest file (1.00 = linear)\n")
    report([measure(f"nested {d}", nested_text(d), args.repeats) for d in args.depths])
    print()
    report([measure(f"nameless {n}", nameless_text(n), args.repeats) for n in args.counts])


if __name__ == "__main__":
    main()
