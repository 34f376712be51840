"""``netbuilder train``: train a project or a template from the terminal.

::

    netbuilder train lenet5 --dataset digits --epochs 10 --json-log
    netbuilder train net.nbproj --checkpoint-dir runs/net
    netbuilder train --resume runs/net/last.pt --epochs 20

Settings come from the project's ``training`` section (a template's suggested settings),
then the command-line options. A progress bar goes to standard error; ``--json-log``
prints one JSON object per epoch on standard output. ``last.pt`` and ``best.pt`` are
written to the checkpoint folder, which is checked before anything trains. Ctrl-C stops
after the current batch and writes the checkpoint; a second Ctrl-C aborts.

Paths in a project (weights files of ``checkpoint`` inits, ``data_dir``,
``imagefolder:PATH``) resolve against the project's folder; one outside it is read only
with ``--allow-outside-paths``, and a project's ``download: true`` is honoured only with
``--download`` (see :mod:`netbuilder.core.project_paths`). Paths typed on the command
line are the user's own and need no confirmation.

Exit status: 0 the run finished (all epochs, or early stopping); 1 the graph does not
compile, or the run ended early (stopped, non-finite loss, out of memory); 2 wrong
usage, or a file, data set or checkpoint that cannot be read.

Importing this module does not import torch.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netbuilder.core.errors import NetBuilderError, ProjectFileError
from netbuilder.core.graph import Graph
from netbuilder.core.messages import one_line
from netbuilder.core.outputs import prepare_output_folder
from netbuilder.core.project_paths import (
    anchor_graph,
    anchor_training,
    external_paths,
    file_problem,
    require_confirmation,
    safe_folder_name,
)
from netbuilder.training.config import DATASETS, DEVICES, OPTIMIZERS

if TYPE_CHECKING:
    from netbuilder.training.trainer import Trainer

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Command-line option → training setting it overrides.
OVERRIDES = {
    "dataset": "dataset", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
    "optimizer": "optimizer", "device": "device", "seed": "seed", "data_dir": "data_dir",
    "amp": "amp", "val_split": "val_split", "workers": "num_workers",
}
OUTSIDE_HINT = "pass --allow-outside-paths to allow it"
DOWNLOAD_HINT = "pass --download to allow it"


def configure_train_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``netbuilder train`` on ``parser``."""
    parser.add_argument("source", metavar="FILE|TEMPLATE", nargs="?",
                        help="a .nbproj project or a template name (optional with --resume)")
    parser.add_argument("--dataset", help=f"{', '.join(DATASETS)} or imagefolder:PATH")
    parser.add_argument("--data-dir", help="folder holding the torchvision data sets")
    parser.add_argument("--download", action="store_true",
                        help="download a torchvision data set missing from the folder (a "
                             "project's own download setting needs this too)")
    parser.add_argument("--allow-outside-paths", action="store_true",
                        help="let the project read files it names outside its own folder "
                             "(weights, images, data sets)")
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
    parser.add_argument("--tensorboard", type=Path, metavar="DIR",
                        help="write TensorBoard scalars, histograms and the graph into DIR")


def run_train(args: argparse.Namespace) -> int:
    """Run ``netbuilder train``; return the exit status."""
    from netbuilder.training.errors import TrainingError

    try:
        trainer, name, state = _make_trainer(args)
        return _fit(trainer, args, name, state)
    except TrainingError as exc:
        print(f"netbuilder train: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_FAILED if _is_compile_error(exc) else EXIT_USAGE
    except NetBuilderError as exc:
        print(f"netbuilder train: error: {one_line(str(exc))}", file=sys.stderr)
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
@dataclass
class RunSource:
    """What a run trains, from a project file or a template.

    Attributes:
        graph: The network.
        training: The training settings (plain JSON data).
        name: A name for the run (the checkpoint folder's, made safe).
        folder: The folder the project's paths resolve against (``None`` for a template,
            which names no paths of its own).
    """

    graph: Graph
    training: dict[str, Any]
    name: str
    folder: Path | None


def _make_trainer(args: argparse.Namespace) -> tuple[Trainer, str, dict[str, Any] | None]:
    from netbuilder.training.checkpoint import load_checkpoint
    from netbuilder.training.config import TrainConfig
    from netbuilder.training.trainer import Trainer

    if args.source is None and args.resume is None:
        raise ProjectFileError("give a project file or template name (or --resume CKPT)")
    state = load_checkpoint(args.resume) if args.resume is not None else None
    source = load_source(args.source) if args.source is not None else \
        _checkpoint_source(state or {}, args.resume)
    training = source.training
    if state is not None:  # settings default to the checkpoint's, its paths to its folder
        _confirmed(args, source.graph, {}, source.folder)
        training = _confirmed(args, None, _checkpoint_config(state, args.resume),
                              args.resume.absolute().parent)
    else:
        training = _confirmed(args, source.graph, training, source.folder)
    config = TrainConfig.from_dict(training).updated(**_overrides(args))
    return Trainer(source.graph, config, pause_on_fault=False), source.name, state


def _checkpoint_source(state: Mapping[str, Any], path: Path) -> RunSource:
    """The graph a checkpoint holds, as a run's source (its paths: the checkpoint's folder).

    Raises:
        TrainingError: when the checkpoint holds no graph.
    """
    from netbuilder.core.serialize import graph_from_dict
    from netbuilder.training.errors import TrainingError

    if state.get("graph") is None:
        raise TrainingError(f"{path} holds no graph: give the project too "
                            f"(netbuilder train FILE --resume {path})")
    name = safe_folder_name(path.parent.name, "run")
    return RunSource(graph_from_dict(state["graph"]), {}, name, path.absolute().parent)


def _checkpoint_config(state: Mapping[str, Any], path: Path) -> dict[str, Any]:
    from netbuilder.training.errors import CheckpointError

    config = state.get("config") or {}
    if not isinstance(config, Mapping):
        raise CheckpointError(f"{path} is damaged: its training settings are not an object")
    return dict(config)


def _confirmed(args: argparse.Namespace, graph: Graph | None, training: dict[str, Any],
               folder: Path | None) -> dict[str, Any]:
    """``training`` with its paths resolved against ``folder``, once every path the
    document names outside it (and any download it asks for) was allowed on the command
    line; ``graph``'s weights files are resolved in place.

    Raises:
        UnconfirmedPathError: naming the first path or download not allowed.
    """
    if folder is None:
        return training
    overridden = {key for option, key in OVERRIDES.items()
                  if getattr(args, option, None) is not None}
    named = {k: v for k, v in training.items() if k not in overridden}
    if args.download:
        named.pop("download", None)
    uses = external_paths(graph if graph is not None else Graph(), named, folder)
    require_confirmation(uses, outside_allowed=args.allow_outside_paths,
                         download_allowed=args.download, outside_hint=OUTSIDE_HINT,
                         download_hint=DOWNLOAD_HINT)
    if graph is not None:
        anchor_graph(graph, folder)
    return anchor_training(training, folder)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out = {key: getattr(args, option) for option, key in OVERRIDES.items()
           if getattr(args, option, None) is not None}
    if getattr(args, "download", False):
        out["download"] = True
    return out


def load_source(source: str) -> RunSource:
    """The graph, training settings, name and folder of a project file or template name.

    Raises:
        ProjectFileError: when the file cannot be read (a folder or a pipe: without
            reading it) or nothing has that name.
    """
    from netbuilder.core import serialize

    path = Path(source)
    if path.exists() or path.is_symlink():
        problem = file_problem(path)
        if problem is not None:
            raise ProjectFileError(problem)
        try:
            project = serialize.load(path)
        except ProjectFileError as exc:
            raise ProjectFileError(f"{source}: {exc}") from None
        return RunSource(project.graph, dict(project.training), safe_folder_name(path.stem),
                         path.absolute().parent)
    template = _template(source)
    if template is not None:
        return template
    raise ProjectFileError(f"{source}: no such file or template")


def _template(source: str) -> RunSource | None:
    try:
        from netbuilder.templates import get_template_info
        from netbuilder.templates.cli import resolve_source
    except ImportError:
        return None
    graph = resolve_source(source)
    if graph is None:
        return None
    name = source.split(":")[0]
    return RunSource(graph, dict(get_template_info(name).training), safe_folder_name(name), None)


# -- running ---------------------------------------------------------------------------------
def _fit(trainer: Trainer, args: argparse.Namespace, name: str,
         state: dict[str, Any] | None) -> int:
    from netbuilder.training.callbacks import JsonLogger, ProgressBar
    from netbuilder.training.checkpoint import ModelCheckpoint

    if not args.quiet:
        trainer.callbacks.append(ProgressBar(sys.stderr))
    if args.json_log:
        trainer.callbacks.append(JsonLogger(sys.stdout))
    if getattr(args, "tensorboard", None) is not None:
        from netbuilder.training.tensorboard import TensorBoardLogger

        trainer.callbacks.append(TensorBoardLogger(prepare_output_folder(args.tensorboard)))
    if not args.no_checkpoint:
        folder = args.checkpoint_dir or Path("checkpoints") / name
        trainer.callbacks.append(ModelCheckpoint(prepare_output_folder(folder)))
    with _StopOnInterrupt(trainer):
        result = trainer.fit(resume_from=state)
    finished = result.status in ("completed", "early_stopped")
    if args.quiet and not finished:  # the progress bar would have said why
        print(f"netbuilder train: {result.status}: {one_line(result.message)}",
              file=sys.stderr)
    return EXIT_OK if finished else EXIT_FAILED


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
