"""The key mapping between a compiled template's ``state_dict`` and torchvision's.

A compiled graph's ``state_dict`` keys are dotted node-name paths
(``layer1.0.conv1.weight``). Templates name their nodes as torchvision names its
submodules, so for almost every template the mapping is the **identity**:

============================  =======================================================
template                      rule
============================  =======================================================
``alexnet``                   identity (``features`` and ``classifier`` groups hold
                              nodes ``0``, ``1``, … as torchvision's ``nn.Sequential``)
``googlenet``                 identity (``conv1.conv.weight``,
                              ``inception3a.branch2.0.conv.weight`` …)
``resnet*``, ``wide_*``,      identity (``layer1.0.downsample.0.weight`` …)
``resnext*``
``densenet121``               identity (``features.denseblock1.denselayer1.norm1.weight``)
``mobilenet_v2``              identity (``features.2.conv.0.0.weight``: ``mbconv`` groups
                              with ``layout="conv"``)
``mobilenet_v3_large``        identity (``features.4.block.2.fc1.weight``)
``efficientnet_b0``           identity (``features.2.0.block.3.1.running_mean``)
``vgg*``, ``vgg*_bn``         **sequential** rule on ``features``, identity elsewhere
``convnext_tiny``             **renamed** stages (``stem.conv`` ↔ ``features.0.0``,
                              ``stage1`` ↔ ``features.1``, ``norm`` ↔
                              ``classifier.0`` …) and **layer-scale** keys
============================  =======================================================

The **layer-scale rule**: torchvision's ConvNeXt block keeps its layer scale γ as a bare
parameter (``features.1.0.layer_scale``), a ``layer_scale`` node keeps it in a module
(``stage1.0.layer_scale.gamma``), of the same shape; every ``layer_scale`` node's key is
mapped so, whichever template it is in.

The **sequential rule** maps a template group that stands for a flat torchvision
``nn.Sequential`` but holds sub-groups (VGG's ``features`` holds the stage groups
``block1`` … ``block5``, kept so that the editor shows five collapsible VGG blocks): the
k-th module of the group in execution order, counting every layer (convolutions, batch
norms, ReLUs and pools, parameter-free ones included) and descending into sub-groups,
is torchvision's ``features.k``. For VGG-16 this gives::

    features.block1.conv1.*  ↔  features.0.*
    features.block1.conv2.*  ↔  features.2.*      (features.1 is block1.relu1)
    features.block2.conv1.*  ↔  features.5.*      (features.4 is block1.pool)
    features.block5.conv3.*  ↔  features.28.*

and for VGG-16-BN ``features.block1.bn1.*  ↔  features.1.*``. The rule is computed from
the graph, so it follows a template whose stages were edited.

Checkpoints published by torchvision can differ from torchvision's own module keys;
:func:`normalize_checkpoint` applies torchvision's fixes (DenseNet's pre-0.3 keys such as
``denselayer1.norm.1.weight`` → ``denselayer1.norm1.weight``; GoogLeNet's auxiliary heads
``aux1.*``/``aux2.*``, which the template does not have, are dropped).

Nothing here imports torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from netbuilder.blocks.convnext import LAYER_SCALE_PARAM
from netbuilder.core.graph import Graph
from netbuilder.core.spec import GROUP_INPUT, GROUP_OUTPUT, INPUT, OUTPUT
from netbuilder.templates._api import get_template_info, normalize_name
from netbuilder.templates.convnext import TORCHVISION_PATHS as CONVNEXT_PATHS

T = TypeVar("T")

#: Groups (by template) that follow the sequential rule; every other module maps to itself.
SEQUENTIAL_GROUPS: dict[str, tuple[str, ...]] = {
    normalize_name(f"{name}{bn}"): ("features",)
    for name in ("vgg11", "vgg13", "vgg16", "vgg19") for bn in ("", "_bn")
}
#: Module paths renamed (template → torchvision), by template.
RENAMED_MODULES: dict[str, dict[str, str]] = {
    normalize_name(name): paths for name, paths in CONVNEXT_PATHS.items()}
_STRUCTURAL = frozenset((INPUT, OUTPUT, GROUP_INPUT, GROUP_OUTPUT))
_DENSENET_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|"
    r"running_var))$")
#: Prefixes of checkpoint keys a template has no module for, by template.
_DROPPED_PREFIXES: dict[str, tuple[str, ...]] = {"googlenet": ("aux1.", "aux2.")}


@dataclass(frozen=True)
class KeyMapping:
    """A renaming of module paths between template keys and torchvision keys.

    Attributes:
        template: The template's name.
        modules: Template module path → torchvision module path, for the modules whose
            paths differ; every other key maps to itself.
        tensors: Whole template keys → torchvision keys, applied before ``modules``
            (the layer-scale rule: ``….layer_scale.gamma`` → ``….layer_scale``).
    """

    template: str
    modules: Mapping[str, str] = field(default_factory=dict)
    tensors: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_identity(self) -> bool:
        """Whether every key maps to itself."""
        return not self.modules and not self.tensors

    @property
    def _inverse(self) -> dict[str, str]:
        return {tv: nb for nb, tv in self.modules.items()}

    @property
    def _inverse_tensors(self) -> dict[str, str]:
        return {tv: nb for nb, tv in self.tensors.items()}

    def to_torchvision(self, key: str) -> str:
        """The torchvision key of template key ``key``."""
        return self.tensors.get(key) or _rename(key, self.modules)

    def from_torchvision(self, key: str) -> str:
        """The template key of torchvision key ``key``."""
        return self._inverse_tensors.get(key) or _rename(key, self._inverse)

    def to_template_state(self, state: Mapping[str, T]) -> dict[str, T]:
        """A torchvision ``state_dict`` renamed to the template's keys (same values)."""
        inverse, tensors = self._inverse, self._inverse_tensors
        return {tensors.get(key) or _rename(key, inverse): value
                for key, value in state.items()}

    def to_torchvision_state(self, state: Mapping[str, T]) -> dict[str, T]:
        """A template ``state_dict`` renamed to torchvision's keys (same values)."""
        return {self.to_torchvision(key): value for key, value in state.items()}


def _rename(key: str, modules: Mapping[str, str]) -> str:
    """``key`` with its longest module-path prefix found in ``modules`` replaced."""
    if not modules:
        return key
    parts = key.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        target = modules.get(".".join(parts[:cut]))
        if target is not None:
            return ".".join((target, *parts[cut:]))
    return key


def torchvision_mapping(graph: Graph, template: str) -> KeyMapping:
    """The key mapping between ``graph`` (built from ``template``) and torchvision.

    Raises:
        TemplateError: when ``template`` is not a registered template.
        ValueError: when the template has no torchvision equivalent.
    """
    info = get_template_info(template)
    if info.torchvision is None:
        raise ValueError(f"template {info.name!r} has no torchvision equivalent")
    modules: dict[str, str] = dict(RENAMED_MODULES.get(normalize_name(info.name), {}))
    for name in SEQUENTIAL_GROUPS.get(normalize_name(info.name), ()):
        modules.update(sequential_paths(graph, name))
    return KeyMapping(info.name, modules, layer_scale_keys(graph, modules))


def layer_scale_keys(graph: Graph, modules: Mapping[str, str]) -> dict[str, str]:
    """The layer-scale rule: ``path.gamma`` → torchvision's ``path`` (renamed by ``modules``)."""
    keys = {}
    for level, node in graph.walk():
        if node.type == "layer_scale":
            path = ".".join((*level.path(), node.name))
            keys[f"{path}.{LAYER_SCALE_PARAM}"] = _rename(path, modules)
    return keys


def sequential_paths(graph: Graph, group: str) -> dict[str, str]:
    """The sequential rule for the top-level group ``group``: module path → ``group.k``."""
    node = graph.by_name(group)
    assert node.body is not None, f"{group} is not a group"
    mapping = {}
    for index, path in enumerate(_layer_paths(node.body, group)):
        target = f"{group}.{index}"
        if path != target:
            mapping[path] = target
    return mapping


def _layer_paths(graph: Graph, prefix: str) -> Iterator[str]:
    """Module paths of every layer below ``graph`` in execution order (groups entered)."""
    for node_id in graph.topological_order():
        node = graph.nodes[node_id]
        if node.type in _STRUCTURAL:
            continue
        path = f"{prefix}.{node.name}"
        if node.body is not None:
            yield from _layer_paths(node.body, path)
        else:
            yield path


def normalize_checkpoint(template: str, state: Mapping[str, T]) -> dict[str, T]:
    """A torchvision checkpoint with torchvision's own key fixes for ``template`` applied."""
    name = get_template_info(template).name
    dropped = _DROPPED_PREFIXES.get(name, ())
    out: dict[str, T] = {}
    for key, value in state.items():
        if dropped and key.startswith(dropped):
            continue
        match = _DENSENET_OLD_KEY.match(key) if name.startswith("densenet") else None
        out[match.group(1) + match.group(2) if match else key] = value
    return out
