"""The memory planner against autograd, and against torchinfo, on the same models.

For each template (at a small input so it runs on a CPU), one training-mode forward pass
is measured: the distinct storages autograd saves for backward
(``torch.autograd.graph.saved_tensors_hooks``, parameters and buffers left out — both
tools count those as weights). Printed per model: the measurement, the planner's
prediction (:func:`netbuilder.core.memory.plan_memory`) and torchinfo's
"forward/backward pass size" (``total_output_bytes``, its estimate of activation memory),
each with its error relative to the measurement. The planner's error must be the smaller.

torchinfo is a test-only dependency (``pip install netbuilder[test]``).

Usage: ``python bench/bench_memory.py [--batch 4] [--all]``
"""

from __future__ import annotations

import argparse
import sys

import torch
import torchinfo

from netbuilder.compiler import compile_graph
from netbuilder.core.analysis import analyze
from netbuilder.core.memory import MemorySettings, format_bytes, plan_memory
from netbuilder.templates import build_template, template_names
from netbuilder.training.probes import saved_bytes

#: Templates measured by default, with an input small enough for a CPU.
DEFAULT = {"lenet5": None, "alexnet": (3, 67, 67), "vgg11_bn": (3, 32, 32),
           "nin": (3, 67, 67), "googlenet": (3, 64, 64), "resnet18": (3, 64, 64),
           "resnet20": (3, 32, 32), "resnet50": (3, 64, 64), "densenet121": (3, 64, 64)}



def compare(name: str, shape: tuple[int, ...] | None, batch: int) -> tuple[float, float]:
    """Print one row; return the planner's and torchinfo's relative errors."""
    graph = build_template(name, input_shape=shape) if shape else build_template(name)
    analysis = analyze(graph)
    plan = plan_memory(graph, analysis, MemorySettings(batch=batch, device="cpu"))
    module = compile_graph(graph, analysis=analysis, seed=0).train()
    size = (batch, *module.input_shapes[0])
    truth = saved_bytes(module, torch.randn(*size))
    stats = torchinfo.summary(module, input_size=size, mode="train", verbose=0)
    theirs = stats.total_output_bytes
    ours_error, their_error = (abs(plan.saved - truth) / truth,
                               abs(theirs - truth) / truth)
    print(f"{name:<14} {format_bytes(truth):>10} {format_bytes(plan.saved):>10} "
          f"{ours_error:>7.1%} {format_bytes(theirs):>10} {their_error:>7.1%}", flush=True)
    return ours_error, their_error


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; exit 1 when the planner is not the more accurate on a model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--all", action="store_true", help="every template")
    args = parser.parse_args(argv)
    models = {n: DEFAULT.get(n, (3, 64, 64)) for n in template_names()} if args.all \
        else DEFAULT
    print(f"{'model':<14} {'autograd':>10} {'planner':>10} {'error':>7} "
          f"{'torchinfo':>10} {'error':>7}")
    worse = []
    for name, shape in models.items():
        ours, theirs = compare(name, shape, args.batch)
        if ours >= theirs:
            worse.append(name)
    print("planner more accurate on every model" if not worse else
          f"planner NOT more accurate on: {', '.join(worse)}")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
