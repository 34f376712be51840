"""The training job folder: a network and its settings, ready for ``torchrun``.

:func:`write_job` writes a folder holding

* ``model.py`` — the network as standalone PyTorch source (:func:`~netbuilder.compiler.
  source.to_source`);
* ``train.py`` — the training script (this package's ``train.py``, copied as it is): one
  process, or many under ``torchrun`` with DistributedDataParallel;
* ``config.json`` — the training settings (the app's ``TrainConfig.to_dict()``);
* ``job.json`` — the class name and input shape ``train.py`` builds;
* ``graph.json`` — the graph, so that a checkpoint of the job opens back in the app;
* ``initial.pt`` — the first weights (the compiled network's ``state_dict``);
* ``README.md`` — how to run it on one machine and with SLURM.

The folder is written in a hidden staging folder beside the target and renamed into
place, so it is never seen half written. An existing folder is replaced only with
``force``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from string import Template
from typing import Any

import torch

from netbuilder import __version__
from netbuilder.compiler.build import compile_graph
from netbuilder.compiler.module import GraphModule
from netbuilder.compiler.source import class_name_for, quiet_meta_checkpoints, to_source
from netbuilder.core.fileio import make_staging_folder
from netbuilder.core.graph import Graph
from netbuilder.core.outputs import OutputError, check_output_path, reason
from netbuilder.core.serialize import graph_to_dict

HERE = Path(__file__).resolve().parent
#: The files of a job folder.
FILES = ("model.py", "train.py", "config.json", "job.json", "graph.json", "initial.pt",
         "README.md")


def write_job(graph: Graph, path: str | os.PathLike[str], config: Mapping[str, Any], *,
              title: str = "Net", module: GraphModule | None = None,
              force: bool = False) -> Path:
    """Write the job folder of ``graph`` at ``path``; return its path.

    Args:
        graph: The network (without errors).
        path: The folder to create.
        config: The training settings (``TrainConfig.to_dict()``).
        title: The project's title (the class name and README come from it).
        module: The compiled network whose weights ``initial.pt`` holds (default:
            ``graph`` compiled with fresh weights, seeded with the config's seed).
        force: Replace a folder that exists.

    Raises:
        CompileError: when the graph cannot be compiled or written as source.
        OutputError: when the folder exists (without ``force``) or cannot be written.
    """
    target = Path(path)
    _check_target(target, force)
    seed = config.get("seed")
    compiled = module if module is not None else compile_graph(
        graph, init=config.get("init"), seed=seed if isinstance(seed, int) else None)
    class_name = class_name_for(title)
    with quiet_meta_checkpoints():
        source = to_source(graph, class_name)
    try:
        staging = make_staging_folder(target)
    except OSError as error:
        raise OutputError(f"cannot write {target}: {reason(error)}") from None
    try:
        _fill(staging, graph, compiled, source, dict(config), title, class_name)
        _put_in_place(staging, target)
    except OSError as error:
        raise OutputError(f"cannot write {target}: {reason(error)}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _check_target(target: Path, force: bool) -> None:
    """Refuse a target that exists (unless ``force`` and it is a folder) or cannot be made.

    Raises:
        OutputError: naming the target and why.
    """
    if target.exists() and not force:
        raise OutputError(f"cannot write {target}: it exists (pass --force to replace it)")
    if target.exists() and not target.is_dir():
        raise OutputError(f"cannot write {target}: it is not a folder")
    if not target.exists():
        check_output_path(target)


def _fill(folder: Path, graph: Graph, compiled: GraphModule, source: str,
          config: dict[str, Any], title: str, class_name: str) -> None:
    """Write every file of the job into ``folder``."""
    input_shape = list(compiled.input_shapes[0]) if compiled.input_shapes else []
    job = {"class_name": class_name, "input_shape": input_shape, "title": title,
           "netbuilder": __version__}
    (folder / "model.py").write_text(source, encoding="utf-8")
    shutil.copyfile(HERE / "train.py", folder / "train.py")
    for name, data in (("config.json", config), ("job.json", job),
                       ("graph.json", graph_to_dict(graph))):
        (folder / name).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    torch.save(compiled.state_dict(), folder / "initial.pt")
    params = sum(p.numel() for p in compiled.parameters())
    readme = Template((HERE / "README.md").read_text(encoding="utf-8")).substitute(
        title=title, version=__version__, class_name=class_name, params=f"{params:,}",
        input_shape="×".join(str(d) for d in input_shape),
        job_name=class_name.lower())
    (folder / "README.md").write_text(readme, encoding="utf-8")


def _put_in_place(staging: Path, target: Path) -> None:
    """Rename the finished ``staging`` folder to ``target`` (the old one removed after)."""
    old = None
    if target.exists():
        old = make_staging_folder(target)
        os.replace(target, old / target.name)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
