"""The trainer's device paths end to end, as one short script for a machine with a GPU.

Each check trains for real and prints one line, ``ok`` or ``FAIL``, with what it measured:

1. **in memory** — digits held as one tensor on the training device; LeNet-5 learns.
2. **bf16** / **fp16** — the convolutions run in the reduced type (a forward hook looks),
   the weights stay float32; fp16 has a gradient scaler with a finite scale; the loss falls.
3. **channels-last** — the convolution weights are channels-last, and the network learns.
4. **loader** — the data read by a ``DataLoader`` with two workers (``in_memory="never"``):
   its batches are in pinned memory on CUDA (the trainer copies them ``non_blocking``),
   in pageable memory elsewhere; the network learns.
5. **out of memory** (CUDA only) — with the process capped to a few GiB of the GPU, VGG-16
   at 224×224 with batch 128 runs out of memory: the run ends as a fault whose message
   names the batch size and suggests a smaller one, the memory is handed back, and the
   same process then trains LeNet-5.
6. **compile** (``--compile``) — LeNet-5 through ``torch.compile``.
7. **memory plan** (CUDA only) — the memory planner's training peak for ResNet-18 at batch
   32 with Adam, against ``torch.cuda.max_memory_allocated`` (within 20 %).
8. **ddp** (CUDA only) — the exported LeNet-5 job under ``torchrun --standalone`` with one
   process per GPU: DistributedDataParallel over NCCL trains a few dozen steps, exits 0
   and rank 0 writes its checkpoint.

On the CPU everything but 5 runs (and 4 expects pageable batches), so the script is
tried on every machine; ``tests/training/test_check_device.py`` runs it there. Exit status
1 when a check fails. Usage::

    python bench/check_device.py [--device cuda] [--compile] [--oom-gib 3]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from netbuilder.core.graph import Graph
from netbuilder.templates import build_template
from netbuilder.training import TrainConfig, Trainer

#: LeNet-5 on digits, as the template suggests training it (a few epochs).
BASE = {"dataset": "digits", "epochs": 3, "batch_size": 64, "lr": 3e-3, "optimizer": "adam",
        "seed": 0}


def lenet() -> Graph:
    """The LeNet-5 template (1×32×32, 10 classes)."""
    return build_template("lenet5")


def train(graph: Graph, device: str, before: Callable[[Trainer], None] | None = None,
          **settings: Any) -> tuple[Trainer, float]:
    """Train ``graph`` with :data:`BASE` and ``settings``; the trainer and the seconds."""
    trainer = Trainer(graph, TrainConfig.from_dict({**BASE, "device": device, **settings}))
    trainer.setup()
    if before is not None:
        before(trainer)
    started = time.perf_counter()
    trainer.fit()
    return trainer, time.perf_counter() - started


def learned(trainer: Trainer) -> str | None:
    """Why the run did not learn (``None``: its loss fell and it scores well above chance,
    which is 0.1 on digits)."""
    epochs = trainer.history.epochs
    if not epochs:
        return "no epoch finished"
    if not epochs[-1]["train_loss"] < epochs[0]["train_loss"]:
        return f"the loss did not fall: {[round(e['train_loss'], 3) for e in epochs]}"
    if (epochs[-1]["val_acc"] or 0.0) < 0.3:
        return f"validation accuracy {epochs[-1]['val_acc']}"
    return None


def summary(trainer: Trainer, seconds: float) -> str:
    epoch = trainer.history.epochs[-1]
    return (f"val_acc {epoch['val_acc']:.3f}, {epoch['samples_per_s']:,.0f} samples/s, "
            f"{seconds:.1f} s")


def conv_types(trainer: Trainer) -> list[torch.dtype]:
    """A list that fills with the dtype of every training forward's first convolution."""
    seen: list[torch.dtype] = []
    conv = next(m for m in trainer.model.modules() if isinstance(m, nn.Conv2d))
    conv.register_forward_hook(
        lambda module, _inputs, out: seen.append(out.dtype) if module.training else None)
    return seen


# -- the checks (each returns what it measured, or raises AssertionError) ----------------------
def check_in_memory(device: str) -> str:
    trainer, seconds = train(lenet(), device)
    data = trainer.data
    assert data is not None and data.in_memory, "digits should be held in memory"
    where = data.train.x.device  # type: ignore[union-attr]
    assert where.type == trainer.device.type, f"the data is on {where}, not {trainer.device}"
    assert (why := learned(trainer)) is None, why
    return f"data on {where}; {summary(trainer, seconds)}"


def check_amp(device: str, amp: str) -> str:
    watched: list[list[torch.dtype]] = []
    trainer, seconds = train(lenet(), device, lambda t: watched.append(conv_types(t)),
                             amp=amp)
    seen = watched[0]
    wanted = torch.bfloat16 if amp == "bf16" else torch.float16
    assert seen and set(seen) == {wanted}, f"the convolution ran in {set(seen)}"
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters()), \
        "the weights are not float32"
    scaler = trainer.scaler
    if amp == "fp16":
        assert scaler is not None, "fp16 without a gradient scaler"
        assert 0 < scaler.get_scale() < float("inf"), f"scale {scaler.get_scale()}"
    else:
        assert scaler is None, "bf16 needs no gradient scaler"
    assert (why := learned(trainer)) is None, why
    scale = f"scale {scaler.get_scale():g}; " if scaler is not None else ""
    return f"forward in {wanted}; {scale}{summary(trainer, seconds)}"


def check_channels_last(device: str) -> str:
    trainer, seconds = train(lenet(), device, channels_last=True)
    conv = next(m for m in trainer.model.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last), \
        "the convolution weights are not channels-last"
    assert (why := learned(trainer)) is None, why
    return summary(trainer, seconds)


def check_loader(device: str) -> str:
    trainer, seconds = train(lenet(), device, in_memory="never", num_workers=2)
    data = trainer.data
    assert data is not None and not data.in_memory, "the data should be read by a loader"
    loader = data.train.loader  # type: ignore[union-attr]
    cuda = trainer.device.type == "cuda"
    assert loader.pin_memory == cuda, f"pin_memory {loader.pin_memory} on {trainer.device}"
    x, _y = next(iter(data.train.epoch(0)))
    assert x.is_pinned() == cuda, f"a batch is {'not ' if cuda else ''}in pinned memory"
    assert (why := learned(trainer)) is None, why
    memory = "pinned" if x.is_pinned() else "pageable"
    return f"{loader.num_workers} workers, {memory} batches; {summary(trainer, seconds)}"


def check_out_of_memory(device: str, gib: float) -> str:
    index = torch.device(device).index or 0
    total = torch.cuda.get_device_properties(index).total_memory
    baseline = torch.cuda.memory_allocated(index)
    torch.cuda.set_per_process_memory_fraction(min(gib * 2**30 / total, 1.0), index)
    try:
        graph = build_template("vgg16", num_classes=4)
        trainer = Trainer(graph, TrainConfig.from_dict({
            **BASE, "device": device, "dataset": "shapes", "shapes_samples": 256,
            "batch_size": 128, "optimizer": "sgd", "lr": 0.01, "epochs": 1}))
        trainer.setup()
        result = trainer.fit()
        assert result.status == "fault", f"the run ended {result.status}: {result.message}"
        assert "out of memory" in result.message and "batch size 128" in result.message \
            and "smaller" in result.message, f"message: {result.message}"
        message = result.message
        del trainer, result, graph
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, index)
    gc.collect()
    torch.cuda.empty_cache()
    left = torch.cuda.memory_allocated(index) - baseline
    assert left < 2**20, f"{left / 2**20:.0f} MiB still allocated after the fault"
    after, seconds = train(lenet(), device)
    assert (why := learned(after)) is None, f"after the fault: {why}"
    return f"“{message}”; memory handed back; LeNet-5 then trained ({summary(after, seconds)})"


def check_compile(device: str) -> str:
    trainer, seconds = train(lenet(), device, compile=True)
    assert trainer._forward is not trainer.model, "the network was not compiled"
    assert (why := learned(trainer)) is None, why
    return summary(trainer, seconds)


def check_memory_plan(device: str, batch: int = 32) -> str:
    """The planner's training peak against ``torch.cuda.max_memory_allocated`` (issue 17).

    ResNet-18 at 224×224 with Adam: two steps (the first allocates the optimiser state),
    peak measured over the second. The plan must be within 20 % of what CUDA allocated.
    """
    from netbuilder.compiler import compile_graph
    from netbuilder.core.analysis import analyze
    from netbuilder.core.memory import MemorySettings, format_bytes, plan_memory

    graph = build_template("resnet18")
    analysis = analyze(graph)
    plan = plan_memory(graph, analysis, MemorySettings(batch=batch, optimizer="adam"))
    model = compile_graph(graph, analysis=analysis, seed=0).to(device).train()
    optimizer = torch.optim.Adam(model.parameters())
    images = torch.randn(batch, *model.input_shapes[0], device=device)
    labels = torch.randint(0, 1000, (batch,), device=device)
    for step in range(2):
        if step == 1:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    torch.cuda.synchronize(device)
    measured = torch.cuda.max_memory_allocated(device)
    error = plan.training_peak / measured - 1
    del model, optimizer, images
    gc.collect()
    torch.cuda.empty_cache()
    text = (f"resnet18 batch {batch} adam: planned {format_bytes(plan.training_peak)}, "
            f"max_memory_allocated {format_bytes(measured)} ({error:+.1%})")
    assert abs(error) <= 0.20, text
    return text


def check_ddp(steps: int = 40) -> str:
    """The LeNet-5 job under torchrun, one process per GPU, over NCCL (issue 16)."""
    import json
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    from netbuilder.cli import main as netbuilder

    gpus = torch.cuda.device_count()
    with tempfile.TemporaryDirectory() as temp:
        job = Path(temp) / "lenet5-job"
        assert netbuilder(["export", "lenet5", "--format", "job", "-o", str(job)]) == 0
        config = json.loads((job / "config.json").read_text())
        (job / "config.json").write_text(json.dumps({**config, "batch_size": 64}))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone",
             f"--nproc-per-node={gpus}", str(job / "train.py"), "--epochs", "1",
             "--max-steps", str(steps), "--timeout", "120"],
            cwd=job, capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, "OMP_NUM_THREADS": "1"})
        seconds = time.perf_counter() - started
        assert done.returncode == 0, done.stderr[-2000:]
        assert "backend nccl" in done.stderr, done.stderr[-2000:]
        assert (job / "checkpoints" / "last.pt").is_file(), "rank 0 wrote no checkpoint"
        record = json.loads((job / "checkpoints" / "metrics.jsonl").read_text().splitlines()[-1])
    return (f"{gpus} process(es) over NCCL, {steps} steps in {seconds:.1f} s (with start-up), "
            f"{record['samples_per_s']:.0f} samples/s, val acc {record['val_acc']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="check torch.compile too")
    parser.add_argument("--oom-gib", type=float, default=3.0,
                        help="GPU memory the out-of-memory check allows the process (GiB)")
    args = parser.parse_args(argv)
    device = args.device
    cuda = torch.device(device).type == "cuda"
    if cuda:
        name = torch.cuda.get_device_name(torch.device(device).index or 0)
        print(f"{device}: {name}, torch {torch.__version__}")
    else:
        print(f"{device}: torch {torch.__version__}, {torch.get_num_threads()} threads")
    checks: list[tuple[str, Callable[[], str]]] = [
        ("in memory", lambda: check_in_memory(device)),
        ("bf16", lambda: check_amp(device, "bf16")),
        ("fp16", lambda: check_amp(device, "fp16")),
        ("channels-last", lambda: check_channels_last(device)),
        ("loader", lambda: check_loader(device)),
    ]
    if cuda:
        checks.append(("out of memory", lambda: check_out_of_memory(device, args.oom_gib)))
        checks.append(("memory plan", lambda: check_memory_plan(device)))
        checks.append(("ddp", check_ddp))
    if args.compile:
        checks.append(("compile", lambda: check_compile(device)))
    failed = 0
    for title, check in checks:
        try:
            print(f"ok    {title:<14} {check()}", flush=True)
        except Exception as exc:  # every check reports, whatever breaks
            failed += 1
            print(f"FAIL  {title:<14} {type(exc).__name__}: {exc}", flush=True)
    print(f"{len(checks) - failed} of {len(checks)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
