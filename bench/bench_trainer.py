"""Headless trainer throughput against a plain hand-written PyTorch loop, as a ratio.

Both train the same network (LeNet-5 from ``resources/examples/lenet5.nbproj`` by default,
compiled from the graph with the same seed) on the same data — the fitted training
tensors the trainer prepared, on the training device — with the same optimiser, batch
size and batch order. The hand-written loop is as lean as a loop gets: index the batch,
forward, cross-entropy, ``zero_grad``, backward, step, and the loss and correct count
accumulated on the device and read once per epoch. The trainer runs its full loop with
its built-in history callback; validation is off on both sides.

Runs alternate between the two within each repeat (the order rotating), and the median
samples/s over repeats is reported, with the ratio trainer / hand-written (target ≥ 0.97).
On the CPU the time is the thread's CPU time (``time.thread_time``: time spent waiting for
a core on a busy machine is left out) with one intra-op thread by default; on CUDA it is
wall time with synchronisation. Usage::

    python bench/bench_trainer.py [--device cpu|cuda] [--batch 64] [--epochs 3]
        [--repeats 9] [--project resources/examples/lenet5.nbproj] [--dataset digits]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from netbuilder.compiler import compile_graph
from netbuilder.core import serialize
from netbuilder.core.graph import Graph
from netbuilder.training import TrainConfig, Trainer
from netbuilder.training.data import epoch_order

ROOT = Path(__file__).resolve().parents[1]


def clock(device: torch.device) -> Callable[[], float]:
    """CPU time of this thread on the CPU; synchronised wall time on a GPU."""
    if device.type == "cuda":
        def wall() -> float:
            torch.cuda.synchronize(device)
            return time.perf_counter()
        return wall
    return time.thread_time


def run_trainer(graph: Graph, config: TrainConfig, now: Callable[[], float]) -> float:
    """Samples per second of :meth:`Trainer.fit` (set-up excluded)."""
    trainer = Trainer(graph, config)
    trainer.setup()
    start = now()
    trainer.fit()
    seconds = now() - start
    assert trainer.data is not None
    return trainer.data.train.num_samples * config.epochs / seconds


def run_by_hand(graph: Graph, config: TrainConfig, x: torch.Tensor, y: torch.Tensor,
                now: Callable[[], float]) -> float:
    """Samples per second of a plain loop over the same data, model and optimiser."""
    device = x.device
    torch.manual_seed(config.seed or 0)
    model: nn.Module = compile_graph(graph, init=config.init, seed=config.seed).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    size, count = config.batch_size, len(x)
    seed = config.seed or 0
    model.train()
    start = now()
    for epoch in range(config.epochs):
        order = epoch_order(count, seed, epoch, True).to(device)
        total = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        for first in range(0, count - 1, size):
            index = order[first:first + size]
            inputs, labels = x[index], y[index]
            out = model(inputs)
            loss = F.cross_entropy(out, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
            correct += (out.argmax(1) == labels).sum()
        total.item(), correct.item()
    return count * config.epochs / (now() - start)


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the benchmark and print the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--project", type=Path, default=ROOT / "resources" / "examples" /
                        "lenet5.nbproj")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="CPU intra-op threads")
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    graph = serialize.load(args.project).graph
    config = TrainConfig(dataset=args.dataset, device=args.device, batch_size=args.batch,
                         epochs=args.epochs, val_split=0.0, optimizer="adam",
                         channels_last=args.channels_last)
    probe = Trainer(graph, config)
    probe.setup()
    assert probe.data is not None and hasattr(probe.data.train, "x")
    x, y = probe.data.train.x, probe.data.train.y
    device = x.device
    now = clock(device)
    runs: dict[str, Callable[[], float]] = {
        "trainer": lambda: run_trainer(graph, config, now),
        "hand-written": lambda: run_by_hand(graph, config, x, y, now),
    }
    for run in runs.values():  # warm-up
        run()
    rates: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(args.repeats):
        for name in names[repeat % 2:] + names[:repeat % 2]:
            rates[name].append(runs[name]())
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(f"device {device}, {args.project.stem} on {args.dataset} ({len(x)} images), "
          f"batch {args.batch}, {args.epochs} epochs, median of {args.repeats} repeats")
    for name, value in medians.items():
        spread = f"{min(rates[name]):,.0f}..{max(rates[name]):,.0f}"
        print(f"  {name:<13} {value:>10,.0f} samples/s   ({spread})")
    print(f"ratio trainer / hand-written: {medians['trainer'] / medians['hand-written']:.3f}"
          f" (target >= 0.97)")


if __name__ == "__main__":
    main()
