"""The ``netbuilder`` command: subcommands for working with projects from a terminal.

Subcommands are rows of :data:`COMMANDS`; each is two small functions, one that declares
its arguments and one that runs it and returns the exit status. Nothing here imports torch
or Qt at start-up, so ``netbuilder summary`` answers in a fraction of a second.

Exit status: 0 success, 1 the graph has errors, 2 unreadable file or wrong usage.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import keyword
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netbuilder import __version__
from netbuilder.core import memory_report
from netbuilder.core.analysis import Analysis, Issue, NodeInfo, analyze, format_shape
from netbuilder.core.arguments import positive_int
from netbuilder.core.document import Document
from netbuilder.core.errors import NetBuilderError, ProjectFileError
from netbuilder.core.graph import Graph, Node
from netbuilder.core.memory import MemoryPlan
from netbuilder.core.messages import one_line
from netbuilder.core.outputs import check_output_path, write_output
from netbuilder.core.project_paths import (
    anchor_graph,
    external_paths,
    file_problem,
    require_confirmation,
)
from netbuilder.core.serialize import Project, load, save

EXIT_OK, EXIT_GRAPH_ERRORS, EXIT_USAGE = 0, 1, 2
#: Pixels per unit ``render --scale`` accepts.
SCALE_RANGE = (0.1, 10.0)
#: How ``--allow-outside-paths`` is explained where a project names a path outside its folder.
OUTSIDE_HINT = "pass --allow-outside-paths to allow it"

#: Resolvers tried, in order, for a source that is not an existing file (the templates
#: module registers one that turns a template name into a project). Each returns None
#: when the name is not one of its own.
SOURCE_RESOLVERS: list[Callable[[str], Project | None]] = []


@dataclass(frozen=True)
class Subcommand:
    """One ``netbuilder NAME ...`` subcommand.

    Attributes:
        name: What the user types.
        help: One line for ``netbuilder --help``.
        configure: Adds the subcommand's arguments to its parser.
        run: Runs it with the parsed arguments and returns the exit status.
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class UsageError(NetBuilderError):
    """A command-line option with a value the command cannot use."""


# -- sources --------------------------------------------------------------------------
def load_source(arg: str) -> Project:
    """The project a command-line argument names: a ``.nbproj`` file (or a template).

    Raises:
        ProjectFileError: when the file cannot be read (a folder, a pipe: without
            reading it), or nothing has that name.
    """
    path = Path(arg)
    if path.exists() or path.is_symlink():
        problem = file_problem(path)
        if problem is not None:
            raise ProjectFileError(problem)
        try:
            loaded = load(path)
        except ProjectFileError as exc:
            raise ProjectFileError(f"{arg}: {exc}") from None
        from netbuilder.blocks.opaque import untrusted_message

        refusal = untrusted_message(loaded.graph)
        if refusal is not None:
            raise ProjectFileError(f"{arg}: {refusal}")
        return loaded
    for resolve in SOURCE_RESOLVERS:
        project = resolve(arg)
        if project is not None:
            return project
    raise ProjectFileError(f"{arg}: no such file or template (`netbuilder templates` lists them)")


def source_folder(arg: str) -> Path | None:
    """The folder of the project file ``arg`` names (``None`` for a template)."""
    path = Path(arg)
    return path.absolute().parent if path.is_file() else None


def check_paths(project: Project, folder: Path | None, *, allow_outside: bool) -> None:
    """Refuse a project whose graph reads files outside its folder unless allowed, then
    make those paths absolute against its folder (they are read from there).

    Raises:
        UnconfirmedPathError: naming the first such path and ``--allow-outside-paths``.
    """
    uses = external_paths(project.graph, {}, folder) if folder is not None else []
    require_confirmation(uses, outside_allowed=allow_outside, download_allowed=False,
                         outside_hint=OUTSIDE_HINT, download_hint="")
    if folder is not None:
        anchor_graph(project.graph, folder)


# -- summary ----------------------------------------------------------------------------
def _configure_summary(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a .nbproj project file or a template")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    memory_report.add_memory_arguments(parser)


def _run_summary(args: argparse.Namespace) -> int:
    graph = load_source(args.file).graph
    analysis = analyze(graph)
    rows = _rows(graph, analysis)
    plan = memory_report.plan_for(graph, analysis, args)
    if args.json:
        out = _summary_json(graph, analysis, rows)
        if plan is not None:
            out["memory"] = memory_report.memory_json(graph, analysis, plan, args)
        print(json.dumps(out, indent=2, ensure_ascii=False))
    elif plan is not None:
        print(_summary_text(graph, analysis, rows, plan))
        print("\n".join(memory_report.memory_totals(graph, analysis, plan, args)))
    else:
        print(_summary_text(graph, analysis, rows))
    return EXIT_OK if analysis.ok else EXIT_GRAPH_ERRORS


@dataclass(frozen=True)
class _Row:
    node: Node
    depth: int
    info: NodeInfo | None


def _rows(graph: Graph, analysis: Analysis, depth: int = 0) -> list[_Row]:
    """Every node in execution order, each group followed by its body."""
    rows = []
    for node_id in graph.topological_order() + graph.cycle_nodes():
        node = graph.nodes[node_id]
        rows.append(_Row(node, depth, analysis.nodes.get(node_id)))
        if node.body is not None:
            rows.extend(_rows(node.body, analysis, depth + 1))
    return rows


def _qualified(graph: Graph, node_id: str) -> str:
    """``group.block.node``: the node's name with the groups holding it."""
    level, node = graph.find(node_id)
    return ".".join((*level.path(), node.name))


def _issue_json(graph: Graph, issue: Issue) -> dict[str, Any]:
    names = [_qualified(graph, n) for n in issue.nodes or ((issue.node,) if issue.node else ())]
    return {"message": issue.message, "nodes": names}


def _summary_json(graph: Graph, analysis: Analysis, rows: Sequence[_Row]) -> dict[str, Any]:
    nodes = [{
        "id": row.node.id,
        "name": _qualified(graph, row.node.id),
        "type": row.node.type,
        "output_shape": list(row.info.shape) if row.info and row.info.shape else None,
        "params": row.info.params if row.info else 0,
        "macs": row.info.macs if row.info else 0,
    } for row in rows]
    return {
        "nodes": nodes,
        "total_params": analysis.total_params,
        "total_macs": analysis.total_macs,
        "errors": [_issue_json(graph, issue) for issue in analysis.errors],
    }


_HEADERS = ("Node", "Type", "Output", "Params", "Mult-adds", "RF")


def _cells(row: _Row) -> tuple[str, ...]:
    info = row.info
    shape = info.shape if info is not None else None
    numbers = (f"{info.params:,}", f"{info.macs:,}", str(info.rf)) if shape else ("", "", "")
    return ("  " * row.depth + row.node.name, row.node.type, format_shape(shape), *numbers)


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = []
    for row in rows:
        left = [cell.ljust(w) for cell, w in zip(row[:3], widths[:3])]
        right = [cell.rjust(w) for cell, w in zip(row[3:], widths[3:])]
        lines.append("  ".join(left + right).rstrip())
    return lines


def _summary_text(graph: Graph, analysis: Analysis, rows: Sequence[_Row],
                  plan: MemoryPlan | None = None) -> str:
    if plan is None:
        lines = _table([_HEADERS, *(_cells(row) for row in rows)])
    else:
        lines = _table([(*_HEADERS, *memory_report.MEMORY_HEADERS),
                        *((*_cells(row), *memory_report.memory_cells(
                            plan.nodes.get(row.node.id))) for row in rows)])
    rule = "─" * max(len(line) for line in lines)
    out = [rule, lines[0], rule, *lines[1:], rule]
    out += _totals(analysis)
    for label, issues in (("error", analysis.errors), ("warning", analysis.warnings)):
        if issues:
            count = f"{len(issues)} {label}{'s' if len(issues) != 1 else ''}"
            out += [rule, f"{count}:"]
            out += [f"  {issue.message}" for issue in issues]
    return "\n".join(out)


def _totals(analysis: Analysis) -> list[str]:
    megabytes = analysis.total_activations * 4 / 1e6
    return [
        f"Total params:       {analysis.total_params:,}",
        f"Total mult-adds:    {analysis.total_macs:,} per sample",
        f"Activation memory:  {megabytes:.2f} MB per sample (float32)",
        f"Model size:         {analysis.model_size_mb:.2f} MB (float32)",
    ]


# -- gui and render ----------------------------------------------------------------------
def _configure_gui(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", nargs="?",
                        help="a .nbproj project file (default: the LeNet-5 example)")


def _run_gui(args: argparse.Namespace) -> int:
    from netbuilder.ui.app import run_gui  # Qt only when a window is wanted

    return run_gui(args.file)


def _configure_render(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a .nbproj project file or a template")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help="the picture to write: .png or .svg")
    parser.add_argument("--scale", type=float, default=2.0,
                        help=f"pixels per unit of a PNG, {SCALE_RANGE[0]:g} to "
                             f"{SCALE_RANGE[1]:g} (default: 2)")
    parser.add_argument("--dark", action="store_true", help="use the dark theme")


def _run_render(args: argparse.Namespace) -> int:
    if args.output.suffix.lower() not in (".png", ".svg"):
        raise ProjectFileError(f"{args.output}: choose a .png or .svg file name")
    low, high = SCALE_RANGE
    if not (math.isfinite(args.scale) and low <= args.scale <= high):
        raise UsageError(f"--scale {args.scale:g}: give {low:g} to {high:g} pixels per unit")
    check_output_path(args.output)
    graph = load_source(args.file).graph
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no window is shown
    from netbuilder.ui.render import render_document

    written = write_output(args.output, lambda path: render_document(
        graph, path, scale=args.scale, dark=args.dark))
    print(written)
    return EXIT_OK


# -- export -----------------------------------------------------------------------------------
EXPORT_SUFFIXES = (".py", ".nbproj")
#: ``--format`` choices; the deployment formats are written by :mod:`netbuilder.export_cli`.
EXPORT_FORMATS = ("onnx", "pt2", "py", "job")
DEPLOY_FORMATS = ("onnx", "pt2", "job")


def _configure_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE",
                        help="a .nbproj project file or a template (e.g. resnet18, or "
                             "resnet18:input_shape=3x96x96)")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUT",
                        help="OUT.py: standalone PyTorch source (weights, if any, beside it "
                             "as OUT.pt); OUT.nbproj: the project file")
    parser.add_argument("--weights", metavar="torchvision|PATH",
                        help="initialise a template's layers from torchvision's weights in "
                             "the torch hub cache, or from a state_dict file")
    parser.add_argument("--transfer", type=positive_int, metavar="N",
                        help="transfer learning: a fresh head for N classes, every other "
                             "layer frozen")
    parser.add_argument("--class-name", metavar="NAME",
                        help="the network class's name in OUT.py (default: from the title)")
    parser.add_argument("--allow-outside-paths", action="store_true",
                        help="let OUT.py's export read weights files the project names "
                             "outside its own folder")
    parser.add_argument("--format", choices=EXPORT_FORMATS,
                        help="onnx (checked with onnxruntime), pt2 (torch.export program), "
                             "py (source), job (a training folder for torchrun); default: "
                             "from OUT's suffix")
    parser.add_argument("--opset", type=positive_int,
                        help="the ONNX opset (default: torch's)")
    parser.add_argument("--force", action="store_true",
                        help="replace a job folder that exists")


def _run_export(args: argparse.Namespace) -> int:
    export_format = _export_format(args)
    if export_format in DEPLOY_FORMATS:
        return _run_deploy_export(args, export_format)
    suffix = args.output.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ProjectFileError(f"{args.output}: choose a .py, .nbproj, .onnx or .pt2 file "
                               f"name, or --format job")
    if args.class_name is not None and not _valid_class_name(args.class_name):
        raise ProjectFileError(f"--class-name {args.class_name!r} is not a Python class name")
    for target in _export_targets(args):
        check_output_path(target)
    project = load_source(args.file)
    analysis = analyze(project.graph)
    if not analysis.ok:
        _print_errors(project.graph, analysis)
        return EXIT_GRAPH_ERRORS
    check_paths(project, source_folder(args.file),
                allow_outside=args.allow_outside_paths or suffix != ".py")
    document = Document(project.graph, training=project.training, meta=project.meta)
    if args.weights:
        _apply_weights(document, args.weights)
    if args.transfer is not None:
        _apply_transfer(document, args.transfer)
    if suffix == ".py":
        written = _write_python(document, args)
    else:
        project = Project(document.graph, document.training, document.meta)
        written = [write_output(args.output, lambda path: save(project, path))]
    for path in written:
        print(path)
    return EXIT_OK


def _export_format(args: argparse.Namespace) -> str | None:
    """``--format``, or the format OUT's suffix names (``None``: the suffix decides later).

    Raises:
        UsageError: when ``--format py`` is given for a file that is not ``.py``.
    """
    suffix = args.output.suffix.lower()
    if args.format is None:
        return {".onnx": "onnx", ".pt2": "pt2"}.get(suffix)
    if args.format == "py" and suffix != ".py":
        raise UsageError(f"--format py writes a .py file, not {args.output}")
    return str(args.format)


def _run_deploy_export(args: argparse.Namespace, export_format: str) -> int:
    """``export --format onnx|pt2|job`` (see :mod:`netbuilder.export_cli`)."""
    from netbuilder import export_cli

    project = load_source(args.file)
    analysis = analyze(project.graph)
    if not analysis.ok:
        _print_errors(project.graph, analysis)
        return EXIT_GRAPH_ERRORS
    check_paths(project, source_folder(args.file), allow_outside=args.allow_outside_paths)
    document = Document(project.graph, training=project.training, meta=project.meta)
    if args.weights:
        _apply_weights(document, args.weights)
    if args.transfer is not None:
        _apply_transfer(document, args.transfer)
    title = str(document.meta.get("title") or Path(args.file).stem.split(":")[0])
    return export_cli.export_document(document, title, args, export_format)


def _export_targets(args: argparse.Namespace) -> list[Path]:
    """The files ``export`` writes: OUT, and OUT.pt beside OUT.py with ``--weights``."""
    if args.weights and args.output.suffix.lower() == ".py":
        return [args.output, args.output.with_suffix(".pt")]
    return [args.output]


def _valid_class_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _class_name(graph: Graph, wanted: str | None, default: str) -> str:
    """``--class-name``, once it is known not to hide a name the exported file uses.

    Raises:
        UsageError: when it is a Python built-in, or a name the file imports or defines
            (``nn``, ``torch``, a copied helper class).
    """
    if wanted is None or wanted == default:
        return default
    from netbuilder.compiler.source import to_source

    if hasattr(builtins, wanted):
        raise UsageError(f"--class-name {wanted!r} would hide Python's built-in {wanted}, "
                         f"which the exported file may use: choose another name")
    if wanted in _module_names(to_source(graph, default)):
        raise UsageError(f"--class-name {wanted!r} is a name the exported file already "
                         f"imports or defines: choose another name")
    return wanted


def _module_names(source: str) -> set[str]:
    """Names bound at the top level of Python ``source`` (imports, classes, functions)."""
    names: set[str] = set()
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            names.update(a.asname or a.name for a in statement.names)
        elif isinstance(statement, (ast.ClassDef, ast.FunctionDef)):
            names.add(statement.name)
        elif isinstance(statement, ast.Assign):
            names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
    return names


def _print_errors(graph: Graph, analysis: Analysis) -> None:
    count = len(analysis.errors)
    print(f"netbuilder: error: the graph has {count} error{'s' * (count != 1)}:",
          file=sys.stderr)
    for issue in analysis.errors:
        print(f"  {issue.message}", file=sys.stderr)


def _template_of(document: Document) -> str:
    """The template the document was made from (``--weights`` needs one)."""
    from netbuilder.templates import get_template_info
    from netbuilder.templates.weights import WeightsError

    name = document.meta.get("template")
    if not isinstance(name, str) or not name:
        raise WeightsError("--weights needs a template (or a project made from one, which "
                           "records it); use `netbuilder import` for other models")
    if get_template_info(name).torchvision is None:
        raise WeightsError(f"--weights needs a template with torchvision weights; {name} "
                           f"has none, so no weights file can be matched to its layers")
    return name


def _apply_weights(document: Document, choice: str) -> None:
    """Point every layer at the weights file (``torchvision``: the hub cache)."""
    from netbuilder.templates.weights import WeightsError, find_cached_weights, init_from_weights

    template = _template_of(document)
    source = None if choice == "torchvision" else Path(choice)
    if source is None and find_cached_weights(template) is None:
        raise WeightsError(_not_cached(template))
    document.push(init_from_weights(document.graph, template, source))


def _not_cached(template: str) -> str:
    """Where to put torchvision's weights file for ``template`` (nothing is downloaded)."""
    from torchvision.models import get_model_weights

    from netbuilder.templates import get_template_info
    from netbuilder.templates.weights import cache_path

    info = get_template_info(template)
    url = get_model_weights(str(info.torchvision)).DEFAULT.url
    return (f"torchvision's {template} weights are not in the torch hub cache; download "
            f"{url} to {cache_path(template)} (nothing is downloaded here), or give a "
            f"state_dict file with --weights PATH")


def _apply_transfer(document: Document, classes: int) -> None:
    from netbuilder.templates.weights import transfer_learning

    document.push(transfer_learning(document.graph, classes))


def _write_python(document: Document, args: argparse.Namespace) -> list[Path]:
    """OUT.py, and OUT.pt when the layers have weights from a file."""
    from netbuilder.compiler.source import class_name_for, quiet_meta_checkpoints, to_source

    title = str(document.meta.get("title") or Path(args.file).stem.split(":")[0])
    with quiet_meta_checkpoints():
        name = _class_name(document.graph, args.class_name, class_name_for(title))
        text = to_source(document.graph, name)
    written = [write_output(args.output, lambda path: path.write_text(text, encoding="utf-8"))]
    if args.weights:
        written.append(_write_state(document.graph, args.output.with_suffix(".pt")))
    frozen = [node.name for _level, node in document.graph.walk() if node.frozen]
    if frozen:
        print(f"note: {args.output.name} does not record frozen layers; keep these fixed when "
              f"training: {', '.join(frozen)}", file=sys.stderr)
    return written


def _write_state(graph: Graph, path: Path) -> Path:
    """The compiled graph's ``state_dict`` (loads into the exported class)."""
    import torch

    from netbuilder.compiler import compile_graph

    state = compile_graph(graph).state_dict()
    return write_output(path, lambda temp: torch.save(state, temp))


# -- the command ------------------------------------------------------------------------------
COMMANDS: list[Subcommand] = [
    Subcommand("summary", "print shapes, parameters and costs of every node",
               _configure_summary, _run_summary),
    Subcommand("gui", "open the editor window", _configure_gui, _run_gui),
    Subcommand("render", "draw the diagram of a project or template to PNG or SVG",
               _configure_render, _run_render),
    Subcommand("export", "write a project or template as PyTorch source (.py) or a project "
                         "file (.nbproj), optionally with pretrained weights",
               _configure_export, _run_export),
]


def _register_extensions() -> None:
    """Subcommands and sources contributed by the other packages (imported lazily)."""
    from netbuilder.templates import cli as templates_cli

    COMMANDS.append(Subcommand("templates", templates_cli.HELP,
                               templates_cli.configure_templates, templates_cli.run_templates))
    SOURCE_RESOLVERS.append(templates_cli.resolve_project)
    from netbuilder.training import cli as train_cli

    COMMANDS.append(Subcommand("train", "train a project or template on a data set",
                               train_cli.configure_train_parser, train_cli.run_train))
    from netbuilder.training import measure_cli

    COMMANDS.append(Subcommand("profile", measure_cli.PROFILE_HELP,
                               measure_cli.configure_profile, measure_cli.run_profile))
    COMMANDS.append(Subcommand("check", measure_cli.CHECK_HELP,
                               measure_cli.configure_check, measure_cli.run_check))
    from netbuilder.compiler import import_cli

    COMMANDS.append(Subcommand("import", "import a PyTorch model as an editable project "
                                         "(runs the factory's code: give only code you trust)",
                               import_cli.configure_import, import_cli.run_import))
    from netbuilder.experiments import cli as sweep_cli

    COMMANDS.append(Subcommand("sweep", sweep_cli.HELP, sweep_cli.configure_sweep,
                               sweep_cli.run_sweep))


_register_extensions()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-parser per row of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="netbuilder", description="Build convolutional networks visually.")
    parser.add_argument("--version", action="version", version=f"netbuilder {__version__}")
    parser.add_argument("--trust-module", action="append", default=[], metavar="PACKAGE",
                        help="let projects import this package for their imported layers")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``netbuilder`` command; return the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # `netbuilder` alone opens the editor
        argv = ["gui"]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "run", None) is None:
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    from netbuilder.blocks.opaque import trust_modules

    trust_modules(args.trust_module)
    try:
        return int(args.run(args))
    except NetBuilderError as exc:
        print(f"netbuilder: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `netbuilder summary big.nbproj | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
