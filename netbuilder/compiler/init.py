"""Weight initialisation schemes, graph-wide or per node.

A scheme is named by a string or given as a dict (``node.init`` in the graph model):

=========== =================================================================================
``default`` PyTorch's own initialisation, as each module's constructor leaves it.
``kaiming`` ``kaiming_normal_(mode="fan_out", nonlinearity="relu")`` on convolution and
            linear weights, as torchvision's ResNet and VGG convolutions (keys ``mode``,
            ``nonlinearity``).
``xavier``  ``xavier_uniform_`` on convolution and linear weights (key ``gain``, default 1).
``normal``  ``normal_(mean, std)`` on convolution and linear weights, as AlexNet's N(0, 0.01)
            (keys ``std``, default 0.01, and ``mean``, default 0).
=========== =================================================================================

The ``checkpoint`` scheme loads the weights themselves: the entries under ``key`` of the
``state_dict`` in ``file`` (see :mod:`netbuilder.core.inits`). The file is read with
``torch.load(weights_only=True)`` (tensors and plain data: nothing that could run code is
unpickled), memory-mapped when it can be, and only when it is a regular file (a pipe or a
device could block). A relative ``file`` resolves against the working folder here; the
command line and the editor first make a project's paths absolute against the project's
folder, and confirm those outside it (:mod:`netbuilder.core.project_paths`).

Every other scheme but ``default`` also sets biases to ``bias`` (key ``bias``, default 0; AlexNet
used 1 in some layers) and normalisation layers to weight 1, bias 0. Parameters of other
modules (e.g. PReLU's slope) keep PyTorch's initialisation.

A node's ``init`` overrides the scheme of the graph; a group's ``init`` is the scheme of
its whole body, except for body nodes that set their own.
"""

from __future__ import annotations

import functools
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from netbuilder.compiler.errors import InitError
from netbuilder.core.inits import CHECKPOINT

SCHEMES = ("default", "kaiming", "xavier", "normal", CHECKPOINT)
#: Optional keys of each scheme and their defaults.
SCHEME_KEYS: dict[str, dict[str, Any]] = {
    "default": {},
    "kaiming": {"mode": "fan_out", "nonlinearity": "relu", "bias": 0.0},
    "xavier": {"gain": 1.0, "bias": 0.0},
    "normal": {"std": 0.01, "mean": 0.0, "bias": 0.0},
    CHECKPOINT: {"file": "", "key": ""},
}
MODES = ("fan_in", "fan_out")
NONLINEARITIES = ("relu", "leaky_relu", "linear", "tanh", "sigmoid", "selu")

#: Modules whose ``weight`` a scheme draws (and whose bias it fills).
WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)
#: Normalisation modules, set to weight 1 and bias 0 by every scheme but ``default``.
NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)

InitSetting = str | Mapping[str, Any] | None


@dataclass(frozen=True)
class InitScheme:
    """A validated initialisation scheme with every option filled in.

    Attributes:
        scheme: One of :data:`SCHEMES`.
        options: The scheme's options (see :data:`SCHEME_KEYS`), defaults included.
    """

    scheme: str = "default"
    options: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str) -> Any:
        """The value of option ``key``."""
        return dict(self.options)[key]

    def as_dict(self) -> dict[str, Any]:
        """The scheme as a ``node.init`` dict, e.g. ``{"scheme": "normal", "std": 0.01}``."""
        return {"scheme": self.scheme, **dict(self.options)}


DEFAULT = InitScheme()


def parse_init(setting: InitSetting | InitScheme, where: str = "the graph") -> InitScheme:
    """Validate an init setting (``None``, a scheme name or a dict) into an :class:`InitScheme`.

    Args:
        setting: ``None`` (PyTorch's default), ``"kaiming"``, or a dict such as
            ``{"scheme": "normal", "std": 0.01}``.
        where: What the setting belongs to (a node name), for the error message.

    Raises:
        InitError: naming ``where`` and the offending key or value.
    """
    if isinstance(setting, InitScheme):
        return setting
    if setting is None:
        return DEFAULT
    if isinstance(setting, str):
        setting = {"scheme": setting}
    if not isinstance(setting, Mapping):
        raise InitError(f"{where}: init must be a scheme name or a dict, got {setting!r}")
    values = dict(setting)
    scheme = values.pop("scheme", None)
    if scheme not in SCHEMES:
        raise InitError(f"{where}: unknown init scheme {scheme!r} "
                        f"(use one of {', '.join(SCHEMES)})")
    allowed = SCHEME_KEYS[scheme]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        keys = ", ".join(allowed) or "none"
        raise InitError(f"{where}: init scheme {scheme!r} has no option {unknown[0]!r} "
                        f"(it has: {keys})")
    options = {key: _check(where, scheme, key, values.get(key, default))
               for key, default in allowed.items()}
    return InitScheme(scheme, tuple(options.items()))


def _check(where: str, scheme: str, key: str, value: Any) -> Any:
    if scheme == CHECKPOINT:
        if not isinstance(value, str) or (key == "file" and not value):
            raise InitError(f"{where}: init checkpoint {key}={value!r} must be text")
        return value
    if key == "mode":
        return _choice(where, key, value, MODES)
    if key == "nonlinearity":
        return _choice(where, key, value, NONLINEARITIES)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise InitError(f"{where}: init {scheme} {key}={value!r} must be a finite number")
    if key in ("std", "gain") and value <= 0:
        raise InitError(f"{where}: init {scheme} {key}={value!r} must be positive")
    return float(value)


def _choice(where: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InitError(f"{where}: init {key}={value!r} must be one of {', '.join(choices)}")
    return value


def node_scheme(node_init: InitSetting, inherited: InitScheme, name: str) -> InitScheme:
    """The scheme of a node: its own ``init`` if set, else the one it inherits.

    Raises:
        InitError: when the node's ``init`` is invalid, naming the node.
    """
    return inherited if node_init is None else parse_init(node_init, name)


def apply_init(module: nn.Module, scheme: InitScheme, where: str = "a node") -> None:
    """Initialise the parameters of ``module`` (and its children) by ``scheme``."""
    if scheme.scheme == "default":
        return
    if scheme.scheme == CHECKPOINT:
        load_checkpoint(module, scheme.get("file"), scheme.get("key"), where)
        return
    for sub in module.modules():
        if isinstance(sub, WEIGHTED):
            _draw(sub.weight, scheme)
            if sub.bias is not None:
                nn.init.constant_(sub.bias, scheme.get("bias"))
        elif isinstance(sub, NORMS):
            if getattr(sub, "weight", None) is not None:
                nn.init.ones_(sub.weight)
            if getattr(sub, "bias", None) is not None:
                nn.init.zeros_(sub.bias)


def _draw(weight: nn.Parameter, scheme: InitScheme) -> None:
    if scheme.scheme == "kaiming":
        nn.init.kaiming_normal_(weight, mode=scheme.get("mode"),
                                nonlinearity=scheme.get("nonlinearity"))
    elif scheme.scheme == "xavier":
        nn.init.xavier_uniform_(weight, gain=scheme.get("gain"))
    else:
        nn.init.normal_(weight, mean=scheme.get("mean"), std=scheme.get("std"))


def _gist(error: BaseException) -> str:
    """A reading error in one line (torch's weights-only refusals run to a page)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if any("weights_only" in line or "Weights only" in line for line in lines):
        return "not a torch.save file of tensors and plain data"
    return lines[0] if lines else type(error).__name__


@functools.lru_cache(maxsize=2)
def _read_checkpoint(path: str, mtime: float) -> Mapping[str, torch.Tensor]:
    """The state_dict in ``path`` (memory-mapped when the file allows), unwrapped from a
    ``{"state_dict": ...}`` or ``{"model": ...}`` checkpoint."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # files in torch's legacy (non-zip) format cannot be mapped
        state = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping):
        raise ValueError("the file does not hold a state_dict")
    return state


def load_checkpoint(module: nn.Module, file: str, key: str, where: str) -> None:
    """Load ``key + "." + name`` of the state_dict in ``file`` into each entry of ``module``.

    A module holding a single entry also takes the bare ``key``: torchvision's ConvNeXt
    keeps its layer scale as a parameter of the block (``features.1.0.layer_scale``),
    where a ``layer_scale`` node has a module holding it.

    Raises:
        InitError: when ``file`` is not a regular file, cannot be read as weights, or
            lacks an entry of the right shape.
    """
    try:
        info = os.stat(file)
    except OSError as error:
        raise InitError(f"{where}: cannot read the weights in {file}: "
                        f"{error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InitError(f"{where}: the weights file {file} is not a regular file")
    try:
        state = _read_checkpoint(file, info.st_mtime)
    except Exception as error:
        raise InitError(f"{where}: cannot read the weights in {file}: "
                        f"{_gist(error)}") from error
    prefix = f"{key}." if key else ""
    wanted = module.state_dict()
    found = {}
    for name, tensor in wanted.items():
        value = state.get(prefix + name)
        if value is None and len(wanted) == 1 and key:
            value = state.get(key)
        if value is None and name.endswith("num_batches_tracked"):
            value = torch.zeros_like(tensor)
        if value is None or value.shape != tensor.shape:
            raise InitError(f"{where}: {file} has no {prefix + name} of shape "
                            f"{tuple(tensor.shape)}")
        found[name] = value
    module.load_state_dict(found)
