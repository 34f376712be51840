"""The exported training job's throughput: 2 processes (torchrun, DDP over gloo) vs 1.

Exports a template's job folder (LeNet-5 on the digits by default), then trains it
``--epochs`` epochs as ``python train.py`` and as ``torchrun --standalone
--nproc-per-node=2 train.py``, each process with one intra-op thread and the same batch per
process (so the 2-process run takes twice the samples per step). Reported: samples/s of
the last epoch (warm) as ``train.py`` logs it (every process's samples), the wall time of
each command (start-up included), and the ratio 2 processes / 1. On a 2-core machine the
ratio is informational: the two processes share the cores with everything else. Usage::

    python bench/bench_job.py [--template lenet5] [--batch 32] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netbuilder.cli import main as netbuilder


def export_job(template: str, folder: Path, batch: int) -> Path:
    """The template's job folder under ``folder``, with ``batch`` images per process."""
    job = folder / f"{template}-job"
    if netbuilder(["export", template, "--format", "job", "-o", str(job)]) != 0:
        raise SystemExit(f"cannot export {template} as a job")
    config = json.loads((job / "config.json").read_text())
    (job / "config.json").write_text(json.dumps({**config, "batch_size": batch}))
    return job


def run(job: Path, processes: int, epochs: int) -> tuple[float, float]:
    """Train the job; samples/s of its last epoch and the command's wall seconds."""
    out = job / f"out-{processes}"
    launch = [sys.executable] if processes == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc-per-node={processes}"]
    started = time.perf_counter()
    done = subprocess.run([*launch, str(job / "train.py"), "--epochs", str(epochs),
                           "--out", str(out), "--device", "cpu"], cwd=job,
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{processes} process(es) failed:\n{done.stderr[-2000:]}")
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    return float(last["samples_per_s"]), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="lenet5")
    parser.add_argument("--batch", type=int, default=32, help="images per process and step")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temp:
        job = export_job(args.template, Path(temp), args.batch)
        one, one_wall = run(job, 1, args.epochs)
        two, two_wall = run(job, 2, args.epochs)
    print(f"{args.template} job, batch {args.batch} per process, {os.cpu_count()} cores")
    print(f"1 process : {one:8.0f} samples/s (last epoch), {one_wall:6.1f} s wall")
    print(f"2 torchrun: {two:8.0f} samples/s (last epoch), {two_wall:6.1f} s wall")
    print(f"ratio 2/1 : {two / one:.2f} (informational on a machine with few cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
