"""The exported training job: ``train.py`` alone and under ``torchrun`` with DDP on gloo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from netbuilder.cli import main
from netbuilder.compiler import compile_graph
from netbuilder.core.serialize import graph_from_dict
from netbuilder.training.checkpoint import load_checkpoint

#: Seconds a job subprocess may take before the test fails (it never hangs the suite).
RUN_TIMEOUT = 240
BATCH = 8


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exported LeNet-5 job (no batch norm), with a small batch and SGD (Adam's first
    steps are about ``lr · sign(grad)``, which turns rounding noise in near-zero gradients
    into whole steps, so two equal computations in another order are compared with SGD)."""
    folder = tmp_path_factory.mktemp("job") / "lenet5"
    assert main(["export", "lenet5", "--format", "job", "-o", str(folder)]) == 0
    config = json.loads((folder / "config.json").read_text())
    config.update(batch_size=BATCH, epochs=2, optimizer="sgd", lr=0.05)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def run_job(folder: Path, *args: str | Path, processes: int = 0,
            timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``python train.py ARGS``, or under ``torchrun --standalone`` with ``processes``."""
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone",
              f"--nproc-per-node={processes}"] if processes else [sys.executable]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([*launch, str(folder / "train.py"), *map(str, args)], cwd=folder,
                          capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)


def traced(folder: Path, rank: int) -> list[torch.Tensor]:
    return torch.load(folder / f"rank{rank}.params.pt", weights_only=True)


def test_job_folder_holds_what_it_needs(job: Path) -> None:
    assert sorted(p.name for p in job.iterdir()) == sorted(
        ["model.py", "train.py", "config.json", "job.json", "graph.json", "initial.pt",
         "README.md"])
    readme = (job / "README.md").read_text()
    assert "torchrun --standalone --nproc-per-node" in readme
    assert "srun torchrun --nnodes" in readme and "--rdzv-backend c10d" in readme
    imports = {line.split()[1].split(".")[0] for line in (job / "train.py").read_text()
               .splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "argparse", "datetime", "json", "math", "os", "sys",
                       "time", "pathlib", "typing", "torch"}


def test_existing_folder_is_refused_unless_forced(
        job: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (job / "config.json").read_text()
    assert main(["export", "lenet5", "--format", "job", "-o", str(job)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (job / "config.json").read_text() == before
    other = job.parent / "again"
    assert main(["export", "lenet5", "--format", "job", "-o", str(other)]) == 0
    assert main(["export", "lenet5", "--format", "job", "-o", str(other), "--force"]) == 0
    assert not [p for p in job.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_two_ranks_equal_one_process_with_twice_the_batch(job: Path, tmp_path: Path) -> None:
    steps = 3
    ddp = run_job(job, "--max-steps", steps, "--trace", tmp_path / "ddp", "--out",
                  tmp_path / "ddp_out", processes=2)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    rank0, rank1 = traced(tmp_path / "ddp", 0), traced(tmp_path / "ddp", 1)
    assert len(rank0) == len(rank1) == steps
    for a, b in zip(rank0, rank1):  # the replicas agree after every step
        assert torch.equal(a, b)
    single = run_job(job, "--max-steps", steps, "--batch-size", 2 * BATCH, "--trace",
                     tmp_path / "one", "--out", tmp_path / "one_out", "--tensorboard",
                     tmp_path / "tb")
    assert single.returncode == 0, single.stderr[-3000:]
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    for a, b in zip(rank0, traced(tmp_path / "one", 0)):
        assert torch.allclose(a, b, atol=1e-5)
    _opens_in_the_app(tmp_path / "ddp_out" / "last.pt", job)


def _opens_in_the_app(path: Path, job: Path) -> None:
    """The rank-0 checkpoint is a NetBuilder checkpoint: graph, weights, curves."""
    state = load_checkpoint(path)
    module = compile_graph(graph_from_dict(state["graph"]))
    module.load_state_dict(state["model"])
    assert state["history"]["steps"] == [1, 2, 3]
    assert set(state["history"]["epochs"][0]) >= {"epoch", "train_loss", "val_acc", "lr"}
    assert state["data"]["name"] == "digits" and len(state["data"]["classes"]) == 10


@pytest.mark.slow
def test_resume_continues_the_same_curve(job: Path, tmp_path: Path) -> None:
    straight = run_job(job, "--epochs", 2, "--out", tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    first = run_job(job, "--epochs", 1, "--out", tmp_path / "split")
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = run_job(job, "--epochs", 2, "--resume", "--out", tmp_path / "split")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    whole, parts = _metrics(tmp_path / "straight"), _metrics(tmp_path / "split")
    assert [r["epoch"] for r in parts] == [1, 2]
    for a, b in zip(whole, parts):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
            assert a[key] == pytest.approx(b[key], abs=1e-6)


def _metrics(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_killed_rank_fails_the_run_with_a_message(job: Path, tmp_path: Path) -> None:
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone",
              "--nproc-per-node=2", str(job / "train.py"), "--epochs", "50", "--timeout",
              "20", "--trace", str(tmp_path), "--out", str(tmp_path / "out")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with subprocess.Popen(launch, cwd=job, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env) as process:
        try:
            pid_file = tmp_path / "rank1.pid"
            deadline = time.monotonic() + RUN_TIMEOUT
            while not pid_file.exists() or not pid_file.read_text():
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
            _out, err = process.communicate(timeout=RUN_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode != 0
    assert "train.py FAILED" in err or "ChildFailedError" in err
    assert "Signal 9" in err or "SIGKILL" in err
