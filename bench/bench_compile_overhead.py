"""Overhead of the compiled graph module against hand-written modules, as a time ratio.

Takes ResNet-18 from :mod:`netbuilder.templates` (or, without it, builds it here from
``basic_block`` composites in groups ``layer1``..``layer4``, named as torchvision names its
modules), compiles it, loads torchvision's ``resnet18``
weights into it with a strict, identity key mapping, checks that both give the same
outputs, and times a training step (forward, backward) of:

* the compiled :class:`~netbuilder.compiler.GraphModule`,
* torchvision's ``resnet18`` (hand-written; in-place ReLUs),
* the module defined by :func:`~netbuilder.compiler.to_source`'s export of the same graph
  (hand-written style, the same out-of-place ReLUs as the graph).

A second measure times inference alone (``no_grad``, eval mode) on a single small image,
where the per-call Python work of the forward weighs most.

On the CPU the benchmark uses one intra-op thread by default and measures the thread's
CPU time (``time.thread_time``), which leaves out time spent waiting for a core on a busy
machine; on CUDA it measures wall time with synchronisation. Models are timed in turn
within each repeat (the order rotating from one repeat to the next), and the median over
repeats is reported, so drift of the machine affects all of them alike. Usage::

    python bench/bench_compile_overhead.py [--device cpu|cuda] [--batch 8] [--size 64]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torchvision
from torch import nn

from netbuilder.compiler import compile_graph, to_source
from netbuilder.core.graph import Graph, Node

STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))


def resnet18_graph(classes: int = 1000, size: int = 224) -> Graph:
    """ResNet-18 as a graph whose module names match torchvision's ``resnet18``."""
    try:
        from netbuilder.templates import build_template
    except ImportError:
        return build_resnet18(classes, size)
    return build_template("resnet18", input_shape=(3, size, size), num_classes=classes)


def build_resnet18(classes: int = 1000, size: int = 224) -> Graph:
    """ResNet-18 built here from blocks, named as torchvision's ``resnet18``."""
    graph = Graph()
    x = graph.add("input", "x", shape=(3, size, size))
    last = graph.chain(
        ("conv2d", "conv1", dict(out_channels=64, kernel_size=7, stride=2, padding=3,
                                 bias=False)),
        ("batchnorm2d", "bn1", {}), ("relu", "relu", {}),
        ("maxpool2d", "maxpool", dict(kernel_size=3, stride=2, padding=1)), after=x)
    for index, (channels, stride) in enumerate(STAGES, 1):
        last = _stage(graph, f"layer{index}", last, channels, stride)
    head = graph.chain(("adaptive_avgpool2d", "avgpool", dict(output_size=1)),
                       ("flatten", "flatten", {}),
                       ("linear", "fc", dict(out_features=classes)), after=last)
    graph.add("output", "out", after=head)
    return graph


def _stage(graph: Graph, name: str, source: Node, channels: int, stride: int) -> Node:
    stage = graph.add("group", name)
    body = stage.body
    assert body is not None
    x = body.add("group_input", "x")
    shortcut = "identity" if stride == 1 else "projection"
    first = body.add("basic_block", "0", after=x, out_channels=channels, stride=stride,
                     shortcut=shortcut)
    second = body.add("basic_block", "1", after=first, out_channels=channels)
    body.add("group_output", "out", after=second)
    graph.connect(source, stage)
    return stage


def load_exported(graph: Graph) -> nn.Module:
    """The network class of the graph's exported source, instantiated."""
    namespace: dict[str, Any] = {"__name__": "exported"}
    exec(compile(to_source(graph, "ResNet18"), "<exported>", "exec"), namespace)
    return namespace["ResNet18"]()  # type: ignore[no-any-return]


def train_step(model: nn.Module, batch: torch.Tensor) -> Callable[[], None]:
    """One forward and backward pass of ``model`` on ``batch``."""
    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(batch).sum().backward()
    return step


def inference_step(model: nn.Module, batch: torch.Tensor) -> Callable[[], None]:
    """One forward pass of ``model`` on ``batch`` without autograd."""
    def step() -> None:
        with torch.no_grad():
            model(batch)
    return step


def timed(step: Callable[[], None], device: torch.device) -> float:
    """Seconds one call of ``step`` takes: CUDA wall time, or CPU time of this thread."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start = time.perf_counter()
        step()
        torch.cuda.synchronize(device)
        return time.perf_counter() - start
    start = time.thread_time()
    step()
    return time.thread_time() - start


def benchmark(steps: dict[str, Callable[[], None]], device: torch.device, repeats: int,
              warmup: int) -> dict[str, float]:
    """Median seconds per call of each step, the steps timed in turn each repeat."""
    for _ in range(warmup):
        for step in steps.values():
            step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(timed(steps[name], device))
    return {name: statistics.median(times) for name, times in samples.items()}


def build_models(size: int, device: torch.device) -> dict[str, nn.Module]:
    """The compiled graph, torchvision's resnet18 and the export, with equal weights."""
    graph = resnet18_graph(size=size)
    reference = torchvision.models.resnet18()
    compiled = compile_graph(graph)
    compiled.load_state_dict(reference.state_dict(), strict=True)
    exported = load_exported(graph)
    exported.load_state_dict(reference.state_dict(), strict=True)
    models = {"compiled": compiled, "torchvision": reference, "exported": exported}
    return {name: model.to(device).train() for name, model in models.items()}


def check_equal(models: dict[str, nn.Module], batch: torch.Tensor) -> float:
    """Largest output difference between the models in eval mode."""
    with torch.no_grad():
        outputs = [m.eval()(batch) for m in models.values()]
    for model in models.values():
        model.train()
    return max((o - outputs[0]).abs().max().item() for o in outputs[1:])


def report(title: str, medians: dict[str, float], repeats: int) -> None:
    """Print the medians and the ratios of the compiled module to the others."""
    print(title)
    for name, seconds in medians.items():
        print(f"  {name:<12} {seconds * 1e3:9.2f} ms (median of {repeats})")
    for reference in ("torchvision", "exported"):
        print(f"  ratio compiled / {reference}: {medians['compiled'] / medians[reference]:.3f}")


def main(argv: list[str] | None = None) -> None:
    """Parse options, run the benchmark and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="CPU intra-op threads")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    models = build_models(args.size, device)
    batch = torch.randn(args.batch, 3, args.size, args.size, device=device)
    difference = check_equal(models, batch)
    print(f"ResNet-18 on {device}, torch {torch.__version__}, {torch.get_num_threads()} "
          f"thread(s); max |output difference| {difference:.2e}")
    train = {name: train_step(model, batch) for name, model in models.items()}
    report(f"forward+backward, batch {args.batch}×3×{args.size}×{args.size}:",
           benchmark(train, device, args.repeats, args.warmup), args.repeats)
    for model in models.values():
        model.eval()
    single = batch[:1, :, :32, :32].contiguous()
    infer = {name: inference_step(model, single) for name, model in models.items()}
    report("inference (no_grad), batch 1×3×32×32:",
           benchmark(infer, device, args.repeats * 10, args.warmup * 10), args.repeats * 10)


if __name__ == "__main__":
    main()
