"""``netbuilder train``: train a project or a template from the terminal.

::

    netbuilder train lenet5 --dataset digits --epochs 10 --json-log
    netbuilder train net.nbproj --checkpoint-dir runs/net
    netbuilder train --resume runs/net/last.pt --epochs 20

Settings come from the project's ``training`` section (a template's suggested settings),
then the command-line options. A progress bar goes to standard error; ``--json-log``
prints one JSON object per epoch on standard output. ``last.pt`` and ``best.pt`` are
written to the checkpoint folder. Ctrl-C stops after the current batch and writes the
checkpoint; a second Ctrl-C aborts.

Exit status: 0 the run finished (all epochs, or early stopping); 1 the graph does not
compile, or the run ended early (stopped, non-finite loss, out of memory); 2 wrong
usage, or a file, data set or checkpoint that cannot be read.

Importing this module does not import torch.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netbuilder.core.errors import NetBuilderError, ProjectFileError
from netbuilder.training.config import DATASETS, DEVICES, OPTIMIZERS

if TYPE_CHECKING:
    from netbuilder.core.graph import Graph
    from netbuilder.training.trainer import Trainer

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Command-line option → training setting it overrides.
OVERRIDES = {
    "dataset": "dataset", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
    "optimizer": "optimizer", "device": "device", "seed": "seed", "data_dir": "data_dir",
    "amp": "amp", "val_split": "val_split", "workers": "num_workers",
}


def configure_train_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``netbuilder train`` on ``parser``."""
    parser.add_argument("source", metavar="FILE|TEMPLATE", nargs="?",
                        help="a .nbproj project or a template name (optional with --resume)")
    parser.add_argument("--dataset", help=f"{', '.join(DATASETS)} or imagefolder:PATH")
    parser.add_argument("--data-dir", help="folder holding the torchvision data sets")
    parser.add_argument("--download", action="store_true",
                        help="download a torchvision data set missing from the folder")
    parser.add_argument("--epochs", type=int, help="number of epochs")
    parser.add_argument("--batch-size", type=int, help="images per step")
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--device", help=f"{', '.join(DEVICES)} or cuda:N")
    parser.add_argument("--amp", choices=("none", "bf16", "fp16"), help="mixed precision")
    parser.add_argument("--val-split", type=float, help="fraction held out for validation")
    parser.add_argument("--workers", type=int, help="data loader processes")
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument("--json-log", action="store_true",
                        help="print one JSON object per epoch on standard output")
    parser.add_argument("--checkpoint-dir", type=Path,
                        help="where to write last.pt and best.pt (default: checkpoints/NAME)")
    parser.add_argument("--no-checkpoint", action="store_true", help="write no checkpoints")
    parser.add_argument("--resume", type=Path, metavar="CKPT",
                        help="go on from a checkpoint (settings default to the checkpoint's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_train(args: argparse.Namespace) -> int:
    """Run ``netbuilder train``; return the exit status."""
    from netbuilder.training.errors import TrainingError

    try:
        trainer, name, state = _make_trainer(args)
        return _fit(trainer, args, name, state)
    except TrainingError as exc:
        print(f"netbuilder train: error: {exc}", file=sys.stderr)
        return EXIT_FAILED if _is_compile_error(exc) else EXIT_USAGE
    except NetBuilderError as exc:
        print(f"netbuilder train: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """``python -m netbuilder.training.cli``: the ``train`` subcommand on its own."""
    parser = argparse.ArgumentParser(prog="netbuilder train")
    configure_train_parser(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return run_train(args)


def _is_compile_error(error: BaseException) -> bool:
    from netbuilder.compiler import CompileError

    return isinstance(error.__cause__, CompileError)


# -- building the run ----------------------------------------------------------------------
def _make_trainer(args: argparse.Namespace) -> tuple[Trainer, str, dict[str, Any] | None]:
    from netbuilder.training.checkpoint import load_checkpoint
    from netbuilder.training.config import TrainConfig
    from netbuilder.training.trainer import Trainer

    overrides = _overrides(args)
    if args.resume is not None:
        state = load_checkpoint(args.resume)
        if args.source is not None:
            graph, _, name = load_source(args.source)
            config = TrainConfig.from_dict(state.get("config", {})).updated(**overrides)
            return Trainer(graph, config, pause_on_fault=False), name, state
        trainer = Trainer.from_checkpoint(state, pause_on_fault=False, **overrides)
        return trainer, args.resume.parent.name or "run", None
    if args.source is None:
        raise ProjectFileError("give a project file or template name (or --resume CKPT)")
    graph, training, name = load_source(args.source)
    config = TrainConfig.from_dict(training).updated(**overrides)
    return Trainer(graph, config, pause_on_fault=False), name, None


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out = {key: getattr(args, option) for option, key in OVERRIDES.items()
           if getattr(args, option, None) is not None}
    if getattr(args, "download", False):
        out["download"] = True
    return out


def load_source(source: str) -> tuple[Graph, dict[str, Any], str]:
    """The graph, training settings and a name for a project file or template name.

    Raises:
        ProjectFileError: when the file cannot be read or nothing has that name.
    """
    from netbuilder.core import serialize

    path = Path(source)
    if path.exists():
        try:
            project = serialize.load(path)
        except ProjectFileError as exc:
            raise ProjectFileError(f"{source}: {exc}") from None
        return project.graph, dict(project.training), path.stem
    template = _template(source)
    if template is not None:
        return template
    raise ProjectFileError(f"{source}: no such file or template")


def _template(source: str) -> tuple[Graph, dict[str, Any], str] | None:
    try:
        from netbuilder.templates import get_template_info
        from netbuilder.templates.cli import resolve_source
    except ImportError:
        return None
    graph = resolve_source(source)
    if graph is None:
        return None
    name = source.split(":")[0]
    return graph, dict(get_template_info(name).training), name


# -- running ---------------------------------------------------------------------------------
def _fit(trainer: Trainer, args: argparse.Namespace, name: str,
         state: dict[str, Any] | None) -> int:
    from netbuilder.training.callbacks import JsonLogger, ProgressBar
    from netbuilder.training.checkpoint import ModelCheckpoint

    if not args.quiet:
        trainer.callbacks.append(ProgressBar(sys.stderr))
    if args.json_log:
        trainer.callbacks.append(JsonLogger(sys.stdout))
    if not args.no_checkpoint:
        folder = args.checkpoint_dir or Path("checkpoints") / name
        trainer.callbacks.append(ModelCheckpoint(folder))
    with _StopOnInterrupt(trainer):
        result = trainer.fit(resume_from=state)
    return EXIT_OK if result.status in ("completed", "early_stopped") else EXIT_FAILED


class _StopOnInterrupt:
    """While inside: the first Ctrl-C stops the run gracefully, the second aborts."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.previous: Any = None
        self.installed = False

    def __enter__(self) -> None:
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
            self.installed = True
        except ValueError:  # not the main thread: leave Ctrl-C alone
            pass

    def __exit__(self, *exc: object) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("\nstopping after this batch (Ctrl-C again to abort)", file=sys.stderr)
        self.trainer.stop()


if __name__ == "__main__":
    sys.exit(main())
