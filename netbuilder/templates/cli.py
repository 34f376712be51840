"""``netbuilder templates``, and template names wherever the CLI accepts a project file.

:func:`configure_templates` and :func:`run_templates` implement the subcommand;
:func:`resolve_project` (a project, with the template's training settings and origin) and
:func:`resolve_source` (just the graph) turn a command-line source into a network when it
names a template, so that ``netbuilder summary resnet50 --json`` works like ``netbuilder
summary net.nbproj``. A source may carry template options
after colons::

    resnet18:input_shape=3x96x96:num_classes=10
    alexnet-paper:grouped=false

Nothing here imports torch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.core.serialize import Project
from netbuilder.core.shapes import format_shape, parse_shape
from netbuilder.templates._api import (
    TemplateError,
    TemplateInfo,
    build_project,
    build_template,
    is_template,
    list_templates,
    template_options,
)

_COLUMNS = ("name", "title", "input", "params", "torchvision")


HELP = "list the architecture templates"


def configure_templates(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``netbuilder templates``."""
    parser.add_argument("--family", help="only templates of this family (e.g. ResNet)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run_templates(args: argparse.Namespace) -> int:
    """Print every template with its parameter count at its default input; return 0."""
    rows = [template_row(info) for info in list_templates(getattr(args, "family", None))]
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
    return 0


def template_row(info: TemplateInfo) -> dict[str, Any]:
    """What the list shows about one template (parameters from the analysis, instant)."""
    analysis = analyze(build_template(info.name))
    return {
        "name": info.name, "title": info.title, "family": info.family,
        "input": format_shape(info.input_shape), "classes": info.num_classes,
        "params": analysis.total_params, "torchvision": info.torchvision,
        "paper": info.paper, "description": info.description,
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows as an aligned text table of :data:`_COLUMNS`, parameters with separators."""
    cells = [[_cell(row, column) for column in _COLUMNS] for row in rows]
    header = [c.capitalize() if c != "torchvision" else "torchvision" for c in _COLUMNS]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(_COLUMNS))]
    lines = ["  ".join(_align(text, width, i == 3) for i, (text, width)
                       in enumerate(zip(line, widths))).rstrip() for line in [header, *cells]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(row: dict[str, Any], column: str) -> str:
    value = row[column]
    if column == "params":
        return f"{value:,}"
    return "-" if value is None else str(value)


def _align(text: str, width: int, right: bool) -> str:
    return text.rjust(width) if right else text.ljust(width)


# -- sources -------------------------------------------------------------------------------
def resolve_project(arg: str) -> Project | None:
    """The project of the template ``arg`` names, or ``None`` when it names none.

    An existing file always wins over a template of the same name. ``arg`` may add
    options after colons: ``resnet18:input_shape=3x96x96:num_classes=10``. The project
    carries the template's suggested training settings and its origin in ``meta``.

    Raises:
        TemplateError: when ``arg`` names a template but an option is wrong.
        ParameterValueError: when the input shape or class count is invalid.
    """
    name, *options = arg.split(":")
    if Path(arg).exists() or not is_template(name):
        return None
    return build_project(name, **parse_options(name, options))


def resolve_source(arg: str) -> Graph | None:
    """The graph of the template ``arg`` names, or ``None`` (see :func:`resolve_project`)."""
    project = resolve_project(arg)
    return None if project is None else project.graph


def parse_options(name: str, options: list[str]) -> dict[str, Any]:
    """``["input_shape=3x96x96", "num_classes=10"]`` → keyword arguments of the template.

    Raises:
        TemplateError: for a malformed option.
    """
    known = {"input_shape", "num_classes", *template_options(name)}
    out: dict[str, Any] = {}
    for option in options:
        key, sep, text = option.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not text:
            raise TemplateError(f"template option {option!r} must look like key=value")
        if key not in known:
            raise TemplateError(f"template {name!r} has no option {key!r} "
                                f"(it has: {', '.join(sorted(known))})")
        out[key] = _parse_value(key, text.strip())
    return out


def _parse_value(key: str, text: str) -> Any:
    if key == "input_shape":
        try:
            return parse_shape(text)
        except ValueError as error:
            raise TemplateError(f"input_shape={text!r}: use C×H×W, e.g. 3x224x224 "
                                f"({error})") from None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
