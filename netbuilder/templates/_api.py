"""The template registry: name → builder of a :class:`~netbuilder.core.graph.Graph`.

Modelled on ``torchvision.models._api``: a :func:`register_template` decorator that
refuses duplicate names, :func:`list_templates` to enumerate and :func:`build_template`
to build by name. Builders are keyword-only and typed::

    @register_template(name="lenet5", title="LeNet-5", family="LeNet", ...)
    def lenet5(*, input_shape: Shape, num_classes: int) -> Graph: ...

Names are looked up case- and separator-insensitively (``AlexNet_Paper`` finds
``alexnet-paper``), as block keys are. Nothing here imports torch.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from netbuilder.core.errors import NetBuilderError
from netbuilder.core.graph import Graph
from netbuilder.core.serialize import Project

Shape = tuple[int, ...]


class TemplateError(NetBuilderError):
    """An unknown template name, a duplicate registration or an unsupported option."""


#: A template builder: ``builder(*, input_shape, num_classes, **options) -> Graph``, every
#: argument keyword-only; options have defaults.
TemplateBuilder = Callable[..., Graph]


@dataclass(frozen=True)
class TemplateInfo:
    """What the template list shows about one template.

    Attributes:
        name: Registry name (``resnet50``, ``alexnet-paper``).
        title: Display name (``ResNet-50``).
        description: One or two sentences for the template dialog.
        family: Architecture family, for grouping in lists (``ResNet``).
        input_shape: Default input shape, C×H×W without the batch.
        num_classes: Default number of classes.
        paper: Reference of the paper the architecture comes from.
        torchvision: Name of the equal ``torchvision.models`` builder, or ``None``.
        training: Suggested training settings (``optimizer``, ``lr``, ``momentum``,
            ``weight_decay``, ``batch_size``, ``epochs``, and ``init``: a scheme of
            :mod:`netbuilder.compiler.init`): the paper's recipe, or for the small
            networks one that works on the built-in data sets.
    """

    name: str
    title: str
    description: str
    family: str
    input_shape: Shape
    num_classes: int
    paper: str
    torchvision: str | None = None
    training: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class _Entry:
    info: TemplateInfo
    builder: TemplateBuilder


_TEMPLATES: dict[str, _Entry] = {}


def normalize_name(name: str) -> str:
    """Template names are case- and separator-insensitive: ``AlexNet_Paper`` → ``alexnet_paper``."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def register_template(*, name: str, title: str, family: str, input_shape: Shape,
                      num_classes: int, paper: str, torchvision: str | None = None,
                      description: str | None = None,
                      training: Mapping[str, Any] | None = None,
                      ) -> Callable[[TemplateBuilder], TemplateBuilder]:
    """Register the decorated builder under ``name``.

    Args:
        name: Registry name.
        title: Display name.
        family: Architecture family.
        input_shape: Default input shape (C×H×W).
        num_classes: Default number of classes.
        paper: Paper reference.
        torchvision: Name of the equal torchvision builder, if any.
        description: Shown in lists; defaults to the first paragraph of the docstring.
        training: Suggested training settings.

    Raises:
        TemplateError: when a template with the same (normalised) name exists.
    """
    def decorate(builder: TemplateBuilder) -> TemplateBuilder:
        key = normalize_name(name)
        if key in _TEMPLATES:
            raise TemplateError(f"template {name!r} is already registered")
        text = description if description is not None else _first_paragraph(builder)
        info = TemplateInfo(name, title, text, family, tuple(input_shape), num_classes, paper,
                            torchvision, MappingProxyType(dict(training or {})))
        _TEMPLATES[key] = _Entry(info, builder)
        return builder

    return decorate


def _first_paragraph(builder: Callable[..., Any]) -> str:
    doc = inspect.getdoc(builder) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def unregister_template(name: str) -> None:
    """Remove a template (for plug-ins and tests)."""
    _TEMPLATES.pop(normalize_name(name), None)


def list_templates(family: str | None = None) -> list[TemplateInfo]:
    """Every registered template (of ``family`` if given), in registration order."""
    return [e.info for e in _TEMPLATES.values() if family is None or e.info.family == family]


def template_names() -> list[str]:
    """Every registered template name, in registration order."""
    return [e.info.name for e in _TEMPLATES.values()]


def _entry(name: str) -> _Entry:
    try:
        return _TEMPLATES[normalize_name(name)]
    except KeyError:
        names = template_names()
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f" (known: {', '.join(names)})"
        raise TemplateError(f"unknown template {name!r}{hint}") from None


def get_template_info(name: str) -> TemplateInfo:
    """The :class:`TemplateInfo` of ``name``.

    Raises:
        TemplateError: when no template has that name.
    """
    return _entry(name).info


def is_template(name: str) -> bool:
    """Whether ``name`` names a registered template."""
    return normalize_name(name) in _TEMPLATES


def template_options(name: str) -> dict[str, Any]:
    """The extra keyword options of a template's builder and their defaults."""
    signature = inspect.signature(_entry(name).builder)
    return {p.name: p.default for p in signature.parameters.values()
            if p.kind is p.KEYWORD_ONLY and p.name not in ("input_shape", "num_classes")}


def build_template(name: str, *, input_shape: Shape | None = None,
                   num_classes: int | None = None, **options: Any) -> Graph:
    """Build the graph of template ``name``.

    Args:
        name: Template name (case- and separator-insensitive).
        input_shape: Input shape C×H×W; defaults to the template's.
        num_classes: Number of classes; defaults to the template's.
        **options: Template-specific options (see :func:`template_options`).

    Returns:
        A new graph, analysable at once. An input too small for the architecture still
        builds: the analysis reports the node where the size collapses.

    Raises:
        TemplateError: for an unknown name or option.
        ParameterValueError: for an invalid input shape or class count.
    """
    entry = _entry(name)
    known = template_options(entry.info.name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        has = ", ".join(known) or "none"
        raise TemplateError(f"template {entry.info.name!r} has no option {unknown[0]!r} "
                            f"(it has: {has})")
    shape = tuple(input_shape) if input_shape is not None else entry.info.input_shape
    classes = num_classes if num_classes is not None else entry.info.num_classes
    return entry.builder(input_shape=shape, num_classes=classes, **options)


def build_project(name: str, *, input_shape: Shape | None = None,
                  num_classes: int | None = None, **options: Any) -> Project:
    """A project holding template ``name``: what "Open Template" and the CLI load.

    Its training settings are the template's suggested ones; its ``meta`` says where the
    graph comes from (``template``, ``template_options``, ``title``, ``description``,
    ``paper``, ``torchvision``), so that pretrained weights can be found for it later.

    Raises:
        TemplateError, ParameterValueError: as :func:`build_template`.
    """
    info = get_template_info(name)
    graph = build_template(info.name, input_shape=input_shape, num_classes=num_classes,
                           **options)
    chosen = {"input_shape": list(input_shape or info.input_shape),
              "num_classes": num_classes or info.num_classes, **options}
    meta = {"template": info.name, "template_options": chosen, "title": info.title,
            "description": info.description, "paper": info.paper,
            "torchvision": info.torchvision}
    return Project(graph, training=_plain(info.training), meta=meta)


def _plain(value: Any) -> Any:
    """``value`` with mappings turned into dicts (JSON-ready)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value
