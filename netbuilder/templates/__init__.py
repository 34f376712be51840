"""The classic architectures as editable templates: graphs of blocks and groups.

Build one by name::

    from netbuilder.templates import build_template, list_templates

    graph = build_template("resnet50", input_shape=(3, 96, 96), num_classes=10)

Every template is parameterised by its input shape (C×H×W) and number of classes, and
keeps residual, inception, dense, VGG and NiN blocks as collapsible groups; it opens at
the level the lecture draws (VGG's convolutions, ResNet's stages of blocks: the groups
that stand for a ``nn.Sequential`` are expanded in place, see ``templates._expanded``).
Templates that torchvision also has are equal to it: same parameter count, ``state_dict``
keys that map onto torchvision's (:mod:`netbuilder.templates.mapping`) and the same outputs with the
same weights (:mod:`netbuilder.templates.weights`).

Importing this package does not import torch.
"""

from __future__ import annotations

from netbuilder.templates._api import (
    Shape,
    TemplateBuilder,
    TemplateError,
    TemplateInfo,
    build_project,
    build_template,
    get_template_info,
    is_template,
    list_templates,
    normalize_name,
    register_template,
    template_names,
    template_options,
    unregister_template,
)

# The family modules register their templates on import, in the order they are listed.
# isort: off
from netbuilder.templates import lenet, alexnet, vgg, nin, googlenet, resnet, densenet
from netbuilder.templates import mobilenet, efficientnet
from netbuilder.templates import convnext
# isort: on

#: Modules registering templates on import, in the order the templates are listed.
FAMILY_MODULES = tuple(module.__name__.rpartition(".")[2] for module in (
    lenet, alexnet, vgg, nin, googlenet, resnet, densenet, mobilenet, efficientnet,
    convnext))

__all__ = [
    "FAMILY_MODULES",
    "Shape",
    "TemplateBuilder",
    "TemplateError",
    "TemplateInfo",
    "build_project",
    "build_template",
    "get_template_info",
    "is_template",
    "list_templates",
    "normalize_name",
    "register_template",
    "template_names",
    "template_options",
    "unregister_template",
]
