"""Train the network of this job folder, on one process or many (torchrun + DDP).

    python train.py                                   # one process
    torchrun --standalone --nproc-per-node=N train.py # N processes on this machine

Written by NetBuilder's ``export --format job``; it needs only torch, torchvision and
(for the digits set) scikit-learn. Settings come from ``config.json``; the network from
``model.py`` (class and input shape in ``job.json``), its first weights from
``initial.pt``. Under torchrun every process trains a DistributedDataParallel replica
on its share of each batch (DistributedSampler); the backend is NCCL on GPUs, gloo on
CPUs. Rank 0 writes ``checkpoints/last.pt`` after each epoch (a NetBuilder checkpoint:
File > Open Run shows it in the app) and ``checkpoints/metrics.jsonl``, one JSON object
per epoch with the fields of ``netbuilder train --json-log``. ``--resume`` goes on from
``last.pt`` along the same curve.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

HERE = Path(__file__).resolve().parent
JSON_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
               "samples_per_s", "seconds")
TORCHVISION_SETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST",
                    "cifar10": "CIFAR10", "cifar100": "CIFAR100"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (every option overrides ``config.json``)."""
    parser = argparse.ArgumentParser(description="Train this job's network.")
    parser.add_argument("--epochs", type=int, help="epochs (default: config.json's)")
    parser.add_argument("--batch-size", type=int, help="images per process and step")
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--data-dir", help="folder holding the torchvision data sets")
    parser.add_argument("--out", type=Path, default=HERE / "checkpoints",
                        help="where last.pt and metrics.jsonl go (default: checkpoints/)")
    parser.add_argument("--resume", action="store_true", help="go on from OUT/last.pt")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps in all")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds a process waits for the others before failing")
    parser.add_argument("--device", help="cpu, cuda (default: cuda when there is one)")
    parser.add_argument("--tensorboard", type=Path, help="write TensorBoard events here")
    parser.add_argument("--trace", type=Path,
                        help="(testing) write each rank's pid and parameters after each step")
    return parser.parse_args(argv)


# -- processes ---------------------------------------------------------------------------
class Processes:
    """This process's place among the training processes (one when not under torchrun)."""

    def __init__(self, device_choice: str | None, timeout: float) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() and device_choice != "cpu"
        self.device = torch.device(f"cuda:{local}" if cuda else "cpu")
        if cuda:
            torch.cuda.set_device(self.device)
        self.distributed = "RANK" in os.environ and "MASTER_ADDR" in os.environ
        self.backend = ("nccl" if cuda else "gloo") if self.distributed else "none"
        if self.distributed:
            dist.init_process_group(self.backend,
                                    timeout=datetime.timedelta(seconds=timeout))
        if self.main:
            print(f"train.py: {self.world} process(es), rank 0 on {self.device}, "
                  f"backend {self.backend}", file=sys.stderr, flush=True)

    @property
    def main(self) -> bool:
        """Whether this is rank 0 (the one that writes files)."""
        return self.rank == 0

    def total(self, values: list[float]) -> list[float]:
        """``values`` summed over every process."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.distributed:
            dist.all_reduce(tensor)
        return tensor.tolist()

    def close(self) -> None:
        """Leave the process group."""
        if self.distributed:
            dist.destroy_process_group()


# -- data --------------------------------------------------------------------------------
def load_pixels(config: dict[str, Any], data_dir: str | None) -> tuple[Tensor, Tensor]:
    """Every image of the data set as pixels 0..1 ``(N, C, H, W)``, and its labels."""
    name = config["dataset"]
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        pixels = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        return pixels, torch.tensor(digits.target, dtype=torch.long)
    if name in TORCHVISION_SETS:
        import torchvision

        folder = data_dir or config.get("data_dir") or str(HERE / "data")
        dataset = getattr(torchvision.datasets, TORCHVISION_SETS[name])(
            folder, train=True, download=bool(config.get("download")))
        data = torch.as_tensor(dataset.data)
        data = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)
        return data.float() / 255.0, torch.as_tensor(dataset.targets, dtype=torch.long)
    sys.exit(f"train.py: the data set {name!r} is not available to a job: "
             f"use digits or {', '.join(TORCHVISION_SETS)} in config.json")


def fit_pixels(pixels: Tensor, shape: list[int]) -> Tensor:
    """Images with the model's channels and size (grey ↔ colour, bilinear resize)."""
    channels, height, width = shape
    if pixels.shape[1] != channels:
        pixels = pixels.mean(1, keepdim=True) if channels == 1 else \
            pixels[:, :1].expand(-1, channels, -1, -1)
    if tuple(pixels.shape[2:]) != (height, width):
        pixels = F.interpolate(pixels, size=(height, width), mode="bilinear",
                               align_corners=False)
    return pixels.contiguous()


def split(config: dict[str, Any], count: int) -> tuple[Tensor, Tensor]:
    """Training and validation indices (a seeded permutation, ``val_split`` held out)."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(config["seed"]))
    held = round(count * float(config.get("val_split") or 0.0))
    return order[held:], order[:held]


class Data:
    """The data set fitted to the model, normalised with the training set's statistics."""

    def __init__(self, config: dict[str, Any], shape: list[int], data_dir: str | None) -> None:
        pixels, labels = load_pixels(config, data_dir)
        pixels = fit_pixels(pixels, shape)
        train, val = split(config, len(labels))
        self.mean = pixels[train].mean(dim=(0, 2, 3))
        self.std = pixels[train].std(dim=(0, 2, 3)).clamp_min(1e-6)
        inputs = (pixels - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)
        self.train = TensorDataset(inputs[train], labels[train])
        self.val = TensorDataset(inputs[val], labels[val])
        self.name = config["dataset"]
        self.classes = [str(c) for c in range(int(labels.max()) + 1)]


def augment(x: Tensor, settings: dict[str, Any], generator: torch.Generator) -> Tensor:
    """Random crops (with padding) and horizontal flips, as ``config.json`` asks."""
    if settings.get("random_crop"):
        pad = int(settings.get("crop_padding", 4))
        padded = F.pad(x, (pad, pad, pad, pad))
        dy, dx = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=generator))
        x = padded[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]
    if settings.get("horizontal_flip"):
        flip = torch.rand(x.shape[0], generator=generator) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    return x


# -- optimiser and schedule --------------------------------------------------------------
def make_optimizer(config: dict[str, Any], params: Any) -> torch.optim.Optimizer:
    """The optimiser ``config.json`` names."""
    kind, lr, decay = config["optimizer"], config["lr"], config.get("weight_decay", 0.0)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.get("momentum", 0.0),
                               nesterov=bool(config.get("nesterov")), weight_decay=decay)
    betas = tuple(config.get("betas", (0.9, 0.999)))
    if kind in ("adam", "adamw"):
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=betas, weight_decay=decay)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=config.get("momentum", 0.0),
                                   weight_decay=decay)
    return torch.optim.Adagrad(params, lr=lr, weight_decay=decay)


def one_cycle(step: int, total: int) -> float:
    """The one-cycle factor (cosine up from 1/25 to 1, then down to 1/250000)."""
    up = max(int(0.3 * total), 1)
    if step < up:
        start, end, t = 1 / 25, 1.0, step / up
    else:
        start, end, t = 1.0, 1 / 25e4, min((step - up) / max(total - up, 1), 1)
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * t))


def lr_at(config: dict[str, Any], step: int, steps_per_epoch: int, scale: float) -> float:
    """The learning rate of global step ``step`` (as the app's schedule computes it)."""
    lr, kind = config["lr"], config.get("schedule", "none")
    epoch, total = step // steps_per_epoch, config["epochs"] * steps_per_epoch
    if kind == "step":
        lr *= config["gamma"] ** (epoch // config["step_size"])
    elif kind == "multistep":
        lr *= config["gamma"] ** sum(1 for m in config["milestones"] if epoch >= m)
    elif kind == "cosine":
        t = min(step / max(total, 1), 1.0)
        lr = config["min_lr"] + (lr - config["min_lr"]) * 0.5 * (1 + math.cos(math.pi * t))
    elif kind == "onecycle":
        lr *= one_cycle(step, total)
    warmup = round(float(config.get("warmup_epochs", 0.0)) * steps_per_epoch)
    if step < warmup:
        lr *= (step + 1) / (warmup + 1)
    return max(lr * scale, 0.0)


def loss_function(config: dict[str, Any]) -> nn.Module:
    """The loss: cross-entropy (with label smoothing), or NLL for log-probabilities."""
    if config.get("loss") == "nll":
        return nn.NLLLoss()
    return nn.CrossEntropyLoss(label_smoothing=float(config.get("label_smoothing", 0.0)))


# -- the run -----------------------------------------------------------------------------
def read_json(name: str) -> Any:
    """A JSON file of the job folder."""
    return json.loads((HERE / name).read_text(encoding="utf-8"))


def build_model(job: dict[str, Any]) -> nn.Module:
    """The network of ``model.py`` with the weights of ``initial.pt``."""
    sys.path.insert(0, str(HERE))
    import model as model_source  # the job's model.py

    net = getattr(model_source, job["class_name"])()
    net.load_state_dict(torch.load(HERE / "initial.pt", map_location="cpu",
                                   weights_only=True))
    return net


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, temp)
    os.replace(temp, path)


class Run:
    """One training run of this process: model, data, optimiser, curves."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.job = read_json("job.json")
        self.config = read_json("config.json")
        for key in ("epochs", "batch_size", "lr"):
            if getattr(args, key) is not None:
                self.config[key] = getattr(args, key)
        self.procs = Processes(args.device, args.timeout)
        torch.manual_seed(self.config["seed"])
        self.data = Data(self.config, self.job["input_shape"], args.data_dir)
        self._make_model()
        self.history: dict[str, list[Any]] = {"steps": [], "loss": [], "acc": [], "lr": [],
                                              "epochs": []}
        self.epoch, self.global_step = 0, 0
        self.traced: list[Tensor] = []
        self.writer = self._tensorboard()

    def _make_model(self) -> None:
        device, config = self.procs.device, self.config
        self.net = build_model(self.job).to(device)
        self.channels_last = bool(config.get("channels_last"))
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.model: nn.Module = self.net
        if self.procs.distributed:
            ids = [device.index] if device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        self.optimizer = make_optimizer(config, self.model.parameters())
        amp = config.get("amp", "none")
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        self.scaler = torch.amp.GradScaler(device.type) \
            if amp == "fp16" and device.type == "cuda" else None
        self.loss_fn = loss_function(config)
        self.sampler: DistributedSampler[Any] = DistributedSampler(
            self.data.train, num_replicas=self.procs.world, rank=self.procs.rank,
            shuffle=True, seed=config["seed"], drop_last=True)
        self.loader = DataLoader(self.data.train, batch_size=config["batch_size"],
                                 sampler=self.sampler, drop_last=True)
        self.steps_per_epoch = max(len(self.loader), 1)

    def _tensorboard(self) -> Any:
        if self.args.tensorboard is None or not self.procs.main:
            return None
        import warnings

        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(self.args.tensorboard))
        with warnings.catch_warnings():  # add_graph traces with torch.jit (deprecated)
            warnings.simplefilter("ignore", FutureWarning)
            self.net.eval()
            writer.add_graph(self.net, self._inputs(self.data.train[:1][0]))
            self.net.train()
        return writer

    # -- resuming --------------------------------------------------------------------------
    def resume(self) -> None:
        """Go on from ``OUT/last.pt``: weights, optimiser, curves and position."""
        path = self.args.out / "last.pt"
        if not path.is_file():
            sys.exit(f"train.py: --resume: no checkpoint at {path} (train without --resume "
                     f"first, or give --out)")
        state = torch.load(path, map_location=self.procs.device, weights_only=True)
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.history = state["history"]
        self.epoch = int(state["progress"]["epoch"])
        self.global_step = int(state["progress"]["global_step"])

    # -- training --------------------------------------------------------------------------
    def fit(self) -> None:
        """Train the remaining epochs (or until ``--max-steps``)."""
        if self.procs.main:
            self.args.out.mkdir(parents=True, exist_ok=True)
        self._trace_pid()
        while self.epoch < self.config["epochs"] and not self._steps_done():
            record = self.train_epoch(self.epoch)
            self.epoch += 1
            if self.procs.main:
                self._write_epoch(record)
        self._trace_params()
        if self.writer is not None:
            self.writer.close()

    def _steps_done(self) -> bool:
        return self.args.max_steps is not None and self.global_step >= self.args.max_steps

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """One epoch of training, then validation; the epoch's JSON record."""
        self.model.train()
        self.sampler.set_epoch(epoch)
        generator = torch.Generator().manual_seed(self.config["seed"] * 1000 + epoch)
        start, sums = time.perf_counter(), [0.0, 0.0, 0.0]
        lr = lr_at(self.config, self.global_step, self.steps_per_epoch, 1.0)
        for x, y in self.loader:
            if self._steps_done():
                break
            lr = lr_at(self.config, self.global_step, self.steps_per_epoch, 1.0)
            loss, correct = self.step(augment(x, self.config.get("augment", {}), generator),
                                      y, lr)
            total = self.procs.total([loss * len(y), correct, float(len(y))])
            self._record_step(total, lr)
            sums = [a + b for a, b in zip(sums, total)]
        seconds = time.perf_counter() - start
        val_loss, val_acc = self.validate()
        samples = max(sums[2], 1.0)
        return {"epoch": epoch + 1, "epochs": self.config["epochs"],
                "train_loss": sums[0] / samples, "train_acc": sums[1] / samples,
                "val_loss": val_loss, "val_acc": val_acc, "lr": lr,
                "samples_per_s": sums[2] / max(seconds, 1e-9),
                "seconds": time.perf_counter() - start}

    def _inputs(self, x: Tensor) -> Tensor:
        x = x.to(self.procs.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def step(self, x: Tensor, y: Tensor, lr: float) -> tuple[float, float]:
        """One optimiser step; this process's mean loss and correct count."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = self._inputs(x), y.to(self.procs.device)
        device = self.procs.device.type
        with torch.autocast(device, dtype=self.amp_dtype or torch.float32,
                            enabled=self.amp_dtype is not None):
            out = self.model(x)
            loss = self.loss_fn(out.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self._trace_step()
        return float(loss.detach()), float((out.argmax(1) == y).sum())

    def _record_step(self, total: list[float], lr: float) -> None:
        self.global_step += 1
        samples = max(total[2], 1.0)
        for key, value in (("steps", self.global_step), ("loss", total[0] / samples),
                           ("acc", total[1] / samples), ("lr", lr)):
            self.history[key].append(value)
        if self.writer is not None:
            self.writer.add_scalar("train/loss", total[0] / samples, self.global_step)
            self.writer.add_scalar("train/acc", total[1] / samples, self.global_step)
            self.writer.add_scalar("train/lr", lr, self.global_step)

    @torch.no_grad()
    def validate(self) -> tuple[float | None, float | None]:
        """Validation loss and accuracy (every process checks its share of the set)."""
        if len(self.data.val) == 0:
            return None, None
        self.net.eval()
        sampler: DistributedSampler[Any] = DistributedSampler(
            self.data.val, num_replicas=self.procs.world, rank=self.procs.rank, shuffle=False)
        sums = [0.0, 0.0, 0.0]
        for x, y in DataLoader(self.data.val, batch_size=256, sampler=sampler):
            out = self.net(self._inputs(x)).float()
            y = y.to(self.procs.device)
            batch = [float(self.loss_fn(out, y)) * len(y), float((out.argmax(1) == y).sum()),
                     float(len(y))]
            sums = [a + b for a, b in zip(sums, batch)]
        total = self.procs.total(sums)
        return total[0] / max(total[2], 1.0), total[1] / max(total[2], 1.0)

    # -- output (rank 0) -------------------------------------------------------------------
    def _write_epoch(self, record: dict[str, Any]) -> None:
        self.history["epochs"].append(record)
        save_atomically(self.checkpoint(), self.args.out / "last.pt")
        lines = [json.dumps({key: r[key] for key in JSON_FIELDS})
                 for r in self.history["epochs"]]
        metrics = self.args.out / "metrics.jsonl"
        temp = metrics.with_name(".metrics.jsonl.tmp")
        temp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(temp, metrics)
        print(lines[-1], flush=True)
        if self.writer is not None:
            for key in ("val_loss", "val_acc"):
                if record[key] is not None:
                    self.writer.add_scalar(key.replace("_", "/"), record[key], record["epoch"])
            for name, param in self.net.named_parameters():
                self.writer.add_histogram(f"weights/{name}", param.detach().cpu(),
                                          record["epoch"])
                if param.grad is not None:
                    self.writer.add_histogram(f"grads/{name}", param.grad.detach().cpu(),
                                              record["epoch"])

    def checkpoint(self) -> dict[str, Any]:
        """The state rank 0 saves: a NetBuilder checkpoint (File > Open Run reads it)."""
        return {
            "format": "netbuilder-checkpoint", "version": 1,
            "graph": read_json("graph.json"), "config": self.config,
            "model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
            "schedule": {}, "scaler": self.scaler.state_dict() if self.scaler else None,
            "history": self.history,
            "progress": {"epoch": self.epoch, "step": 0, "global_step": self.global_step,
                         "sums": [], "best_metric": None, "bad_epochs": 0, "monitor": None},
            "rng": {"torch": torch.get_rng_state()},
            "data": {"name": self.data.name, "classes": self.data.classes,
                     "mean": self.data.mean.tolist(), "std": self.data.std.tolist()},
            "job": {"world_size": self.procs.world},
        }

    # -- tracing (tests) -------------------------------------------------------------------
    def _trace_pid(self) -> None:
        if self.args.trace is not None:
            self.args.trace.mkdir(parents=True, exist_ok=True)
            (self.args.trace / f"rank{self.procs.rank}.pid").write_text(str(os.getpid()))

    def _trace_step(self) -> None:
        if self.args.trace is not None:
            flat = torch.cat([p.detach().cpu().flatten() for p in self.net.parameters()])
            self.traced.append(flat.clone())

    def _trace_params(self) -> None:
        if self.args.trace is not None:
            torch.save(self.traced, self.args.trace / f"rank{self.procs.rank}.params.pt")


def main(argv: list[str] | None = None) -> int:
    """Train; the exit status."""
    args = parse_args(argv)
    run = Run(args)
    try:
        if args.resume:
            run.resume()
        run.fit()
    finally:
        run.procs.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
