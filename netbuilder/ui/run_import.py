"""File › Open Run: a run trained elsewhere (an exported job under torchrun) comes back.

A job folder's rank 0 writes ``checkpoints/last.pt``, a NetBuilder checkpoint holding the
graph, the training settings, the weights and the curves. Opening it

* loads its weights into the graph — into the open network when the weights fit it (one
  undo step), else into the run's own graph, opened as a new document: every layer's
  ``init`` points at the checkpoint's entries, as pretrained weights do;
* adds its curves to the project's earlier runs, drawn beside the app's own runs;
* judges the weights on the run's validation set (confusion matrix and worst errors in
  the Results tab), as after a run trained in the app.

:func:`read_run` does the heavy part off the GUI thread and touches no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netbuilder.core.commands import Command, Macro, SetAttribute
from netbuilder.core.document import Document
from netbuilder.core.errors import NetBuilderError
from netbuilder.core.graph import Graph
from netbuilder.core.inits import checkpoint_init

if TYPE_CHECKING:
    from netbuilder.training.trainer import Trainer
    from netbuilder.ui.main_window import MainWindow
    from netbuilder.ui.training.records import Results, RunInfo

#: Where a run's checkpoint is looked for, relative to the folder the user picks.
CHECKPOINT_PLACES = ("checkpoints/last.pt", "last.pt")
#: Points of an opened run's loss curve kept in the project (as for the app's runs).
RECORD_POINTS = 400


class RunFolderError(NetBuilderError):
    """A folder that holds no run NetBuilder can open."""


@dataclass
class OpenedRun:
    """A run read from a job folder, ready to show.

    Attributes:
        checkpoint: The checkpoint file read.
        graph: The graph the weights go into (the open one when they fit it).
        fits_open_graph: Whether ``graph`` is the open document's graph.
        command: The undoable command pointing every layer at the checkpoint's weights.
        record: The run's curves, as the curves panel keeps earlier runs.
        results: The weights judged on the validation set (``None`` without one).
        training: The run's training settings.
        trainer: A trainer set up with the run's weights and data (never fitted), for the
            feature-map and statistics panels to probe.
        info: What those panels need to know about the run.
    """

    checkpoint: Path
    graph: Graph
    fits_open_graph: bool
    command: Macro
    record: dict[str, Any]
    results: Results | None
    training: dict[str, Any]
    trainer: Trainer
    info: RunInfo


def find_checkpoint(folder: Path) -> Path:
    """The checkpoint of the run in ``folder`` (a job folder, its checkpoints, or a file).

    Raises:
        RunFolderError: when there is none.
    """
    if folder.is_file():
        return folder
    for place in CHECKPOINT_PLACES:
        if (folder / place).is_file():
            return folder / place
    raise RunFolderError(f"{folder} holds no run: no checkpoints/last.pt (a job writes it "
                         f"after its first epoch)")


def run_record(state: dict[str, Any], label: str) -> dict[str, Any]:
    """A checkpoint's curves as a record of the curves panel (x in epochs)."""
    history = state.get("history") or {}
    steps, loss = list(history.get("steps", [])), list(history.get("loss", []))
    epochs = list(history.get("epochs", []))
    per_epoch = max(len(steps) / max(len(epochs), 1), 1.0)
    stride = max(len(steps) // RECORD_POINTS, 1)
    return {
        "label": label,
        "x": [round(s / per_epoch, 5) for s in steps[::stride]],
        "loss": [None if v is None else round(float(v), 6) for v in loss[::stride]],
        "epochs": [int(r.get("epoch", k + 1)) for k, r in enumerate(epochs)],
        "val_loss": [r.get("val_loss") for r in epochs],
        "val_acc": [r.get("val_acc") for r in epochs],
    }


def weights_command(graph: Graph, checkpoint: Path, weights: dict[str, Any]) -> Macro | None:
    """The command pointing every layer of ``graph`` at the checkpoint's weights, or
    ``None`` when the weights do not fit the graph (other names or shapes)."""
    import torch

    from netbuilder.compiler import compile_graph

    with torch.device("meta"):
        module = compile_graph(graph)
    wanted = module.state_dict()
    if set(wanted) != set(weights) or any(tuple(wanted[k].shape) != tuple(weights[k].shape)
                                          for k in wanted):
        return None
    children: list[Command] = []
    for node_id, qualified in module.node_modules().items():
        level, node = graph.find(node_id)
        if node.body is None and list(module.get_submodule(qualified).state_dict()):
            init = checkpoint_init(checkpoint.resolve(), qualified)
            if node.init != init:
                children.append(SetAttribute(level, node_id, "init", init))
    return Macro(f"Load weights of {checkpoint.parent.parent.name or checkpoint.name}",
                 children)


def read_run(folder: Path, open_graph: Graph) -> OpenedRun:
    """Read the run in ``folder`` and judge its weights (runs torch: off the GUI thread).

    Raises:
        RunFolderError: when the folder holds no run or its weights fit no graph.
        CheckpointError: when the checkpoint cannot be read.
    """
    from netbuilder.core.serialize import graph_from_dict
    from netbuilder.training.checkpoint import load_checkpoint

    checkpoint = find_checkpoint(folder)
    state = load_checkpoint(checkpoint)
    weights = state.get("model") or {}
    command = weights_command(open_graph, checkpoint, weights)
    graph, fits = open_graph, command is not None
    if command is None:
        if state.get("graph") is None:
            raise RunFolderError(f"{checkpoint} holds no graph, and its weights do not fit "
                                 f"the open network")
        graph = graph_from_dict(state["graph"])
        command = weights_command(graph, checkpoint, weights)
        if command is None:
            raise RunFolderError(f"{checkpoint}: its weights do not fit its own graph")
    training = dict(state.get("config") or {})
    label = f"{_run_name(checkpoint)} · {len(state.get('history', {}).get('epochs', []))} " \
            f"epochs · {training.get('optimizer', '?')} lr {training.get('lr', '?')}"
    with_weights = graph.copy()
    trainer = judged_trainer(with_weights, command, training)
    from netbuilder.ui.training.records import collect_results, run_info

    return OpenedRun(checkpoint, graph, fits, command, run_record(state, label),
                     collect_results(trainer), training, trainer, run_info(trainer))


def _run_name(checkpoint: Path) -> str:
    folder = checkpoint.parent
    return folder.parent.name if folder.name == "checkpoints" else folder.name


def judged_trainer(graph: Graph, command: Macro, training: dict[str, Any]) -> Trainer:
    """A trainer set up (model and data, on the CPU) with the run's weights, never fitted.

    ``graph`` is a copy: the weights' inits are set on it here, not on the document.
    """
    from netbuilder.training.config import TrainConfig
    from netbuilder.training.trainer import Trainer

    inits = {child.node_id: child.new for child in command.children
             if isinstance(child, SetAttribute)}
    for _level, node in graph.walk():
        if node.id in inits:
            node.init = inits[node.id]
    config = TrainConfig.from_dict({**training, "device": "cpu", "amp": "none",
                                    "compile": False, "num_workers": 0})
    trainer = Trainer(graph, config)
    trainer.setup()
    trainer.model.eval()
    return trainer


def open_run(window: MainWindow, folder: Path) -> OpenedRun | None:
    """Open the run in ``folder`` in ``window`` (see the module's description)."""
    from netbuilder.ui.busy import JobCancelled, run_busy
    from netbuilder.ui.training.panel import RUNS_KEPT, RUNS_KEY

    open_graph = window.document.graph
    try:
        run = run_busy(window, f"Reading the run in {folder.name}…",
                       lambda: read_run(folder, open_graph))
    except JobCancelled:
        return None
    except Exception as error:  # user files fail in many ways: show, don't crash
        window.files.report_error("Cannot open the run", error)
        return None
    if not run.fits_open_graph:
        window.set_document(Document(run.graph, training=run.training,
                                     meta={"title": _run_name(run.checkpoint)}))
    document = window.document
    document.push(run.command)
    runs = [r for r in document.meta.get(RUNS_KEY, []) if isinstance(r, dict)]
    document.meta[RUNS_KEY] = [run.record, *runs][:RUNS_KEPT]
    document.history.mark_modified()
    panel = window.training.ensure_panel()
    panel.curves.set_past_runs(list(document.meta[RUNS_KEY]))
    if run.results is not None:
        panel.results.show_results(run.results)
    if not panel.session.alive:  # the app's own run, if one goes on, keeps the panels
        _show_in_panels(panel, run)
    window.show_message(f"Opened the run {run.checkpoint} with its weights and curves", 12000)
    return run


def _show_in_panels(panel: Any, run: OpenedRun) -> None:
    """Let the feature-map and statistics panels look into the run's network.

    They probe the session's trainer once a run is over; the opened run's trainer was set
    up and never fitted, so it is marked as started for them (it trains nothing).
    """
    run.trainer.started = True
    panel.session.trainer = run.trainer
    for view in (panel.features, panel.stats):
        view.set_run(run.info)
        view.set_live(False)
