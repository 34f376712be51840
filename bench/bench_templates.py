"""Compiled templates cost nothing extra: forward+backward time against torchvision.

For each template (default: resnet18 and vgg11) the compiled graph and torchvision's model,
holding the same weights, run a training step (forward, cross-entropy, backward) on the
same batch, alternately (the order swapping every repeat), in the same process; the script
prints the median time of each and their ratio (target: 1.00 ± 0.03)::

    .venv/bin/python bench/bench_templates.py [--batch 4] [--size 112] [--repeats 21]

By default torch runs one intra-op thread and the step is timed in CPU time of that thread
(``time.thread_time``), which leaves out time spent waiting for a core on a busy machine;
with ``--threads N`` (N > 1) wall time is measured instead.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torchvision
from torch import nn

from netbuilder.compiler import compile_graph
from netbuilder.templates import build_template, get_template_info
from netbuilder.templates.weights import load_weights


@dataclass(frozen=True)
class Result:
    """Median seconds per training step of the template and of torchvision."""

    name: str
    template: float
    torchvision: float

    @property
    def ratio(self) -> float:
        """Template time / torchvision time."""
        return self.template / self.torchvision


def step(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> float:
    """Seconds for one forward + backward pass (CPU time when torch runs one thread)."""
    clock = time.thread_time if torch.get_num_threads() == 1 else time.perf_counter
    model.zero_grad(set_to_none=True)
    start = clock()
    nn.functional.cross_entropy(model(x), target).backward()
    return clock() - start


def models(name: str, size: int) -> tuple[nn.Module, nn.Module]:
    """The compiled template and torchvision's model, with the same weights, in train mode."""
    info = get_template_info(name)
    assert info.torchvision is not None
    torch.manual_seed(0)
    reference = torchvision.models.get_model(info.torchvision, weights=None)
    graph = build_template(name, input_shape=(3, size, size))
    with torch.device("meta"):
        compiled = compile_graph(graph)
    load_weights(compiled, graph, name, reference.state_dict())
    return compiled.train(), reference.train()


def bench(name: str, *, batch: int, size: int, repeats: int, warmup: int) -> Result:
    """Median step times of template ``name`` and its torchvision twin, interleaved."""
    compiled, reference = models(name, size)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, size, size, generator=generator)
    target = torch.randint(0, 1000, (batch,), generator=generator)
    times: dict[str, list[float]] = {"template": [], "torchvision": []}
    for i in range(warmup + repeats):
        pair = [("template", compiled), ("torchvision", reference)]
        for key, model in pair if i % 2 else reversed(pair):
            elapsed = step(model, x, target)
            if i >= warmup:
                times[key].append(elapsed)
    return Result(name, statistics.median(times["template"]),
                  statistics.median(times["torchvision"]))


def main(argv: Sequence[str] | None = None) -> list[Result]:
    """Run the benchmark and print one line per template."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("templates", nargs="*", default=["resnet18", "vgg11"])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=112, help="input height and width")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = "thread CPU time" if args.threads == 1 else "wall time"
    print(f"CPU, {args.threads} thread(s), {clock}, batch {args.batch}, "
          f"3×{args.size}×{args.size}, median of {args.repeats} forward+backward steps")
    results = []
    for name in args.templates:
        result = bench(name, batch=args.batch, size=args.size, repeats=args.repeats,
                       warmup=args.warmup)
        results.append(result)
        print(f"{name:10s} template {result.template * 1e3:8.1f} ms   torchvision "
              f"{result.torchvision * 1e3:8.1f} ms   ratio {result.ratio:.3f}")
    return results


if __name__ == "__main__":
    main()
