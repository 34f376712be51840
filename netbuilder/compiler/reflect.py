"""Constructor expressions for built modules, and what a standalone file needs to run them.

:class:`ModuleWriter` turns a module built by a block (``nn.Conv2d(3, 64, ...)``) back into
the Python expression that constructs it, reading the constructor's arguments from the
module's attributes (``torch.nn`` modules keep them under the argument names). Classes of
``torch.nn`` are written as ``nn.Name``; classes of other packages are imported from their
shortest public module (``from torchvision.ops import StochasticDepth``); classes of
NetBuilder itself are copied into the file with every top-level helper and import they
use (:class:`Inliner`), so the file needs nothing from NetBuilder.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from netbuilder.compiler.errors import SourceExportError

WIDTH = 100
INDENT = "    "
_SKIPPED_ARGS = frozenset(("self", "device", "dtype"))


# -- expressions -------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """A call expression, rendered on one line or broken one argument per line."""

    func: str
    args: tuple[str | Call, ...] = ()

    def render(self, indent: str, lead: str = "", width: int = WIDTH) -> list[str]:
        """Lines of ``{indent}{lead}{call}``, each at most ``width`` characters if possible."""
        flat = f"{indent}{lead}{self.flat()}"
        if len(flat) <= width or not self.args:
            return [flat]
        inner = indent + INDENT
        joined = f"{inner}{', '.join(_flat(a) for a in self.args)}"
        if len(joined) <= width:
            return [f"{indent}{lead}{self.func}(", joined, f"{indent})"]
        lines = [f"{indent}{lead}{self.func}("]
        for arg in self.args:
            if isinstance(arg, Call):
                rendered = arg.render(inner)
                lines.extend(rendered[:-1])
                lines.append(rendered[-1] + ",")
            else:
                lines.append(f"{inner}{arg},")
        lines.append(f"{indent})")
        return lines

    def flat(self) -> str:
        """The call on one line."""
        return f"{self.func}({', '.join(_flat(a) for a in self.args)})"


def _flat(arg: str | Call) -> str:
    return arg.flat() if isinstance(arg, Call) else arg


def literal(value: Any, where: str) -> str:
    """``repr(value)`` when it is a plain literal (numbers, strings, tuples of them...).

    Raises:
        SourceExportError: for values that are not literals (tensors, objects, inf, nan).
    """
    if isinstance(value, str):
        text = repr(value)
        return f'"{text[1:-1]}"' if text[0] == "'" and '"' not in value else text
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SourceExportError(f"{where}: {value!r} cannot be written as a literal")
        return repr(value)
    if isinstance(value, (tuple, list)):
        items = [literal(v, where) for v in value]
        if isinstance(value, list):
            return f"[{', '.join(items)}]"
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise SourceExportError(f"{where}: a {type(value).__name__} cannot be written as a literal")


# -- imports -------------------------------------------------------------------------------
@dataclass
class Imports:
    """Import statements of a generated file, rendered sorted as ruff's isort wants."""

    plain: set[tuple[str, str | None]] = field(default_factory=set)
    named: dict[str, set[tuple[str, str | None]]] = field(default_factory=dict)

    def add_module(self, module: str, alias: str | None = None) -> None:
        """``import module [as alias]``."""
        self.plain.add((module, alias))

    def add_name(self, module: str, name: str, alias: str | None = None) -> None:
        """``from module import name [as alias]``."""
        self.named.setdefault(module, set()).add((name, alias))

    def bound(self) -> set[str]:
        """Names the imports bind."""
        names = {alias or module.split(".")[0] for module, alias in self.plain}
        names |= {alias or name for pairs in self.named.values() for name, alias in pairs}
        return names

    def render(self) -> list[str]:
        """Sections (future, standard library, third party), blank lines between."""
        sections: list[list[str]] = [[], [], []]
        for module, alias in sorted(self.plain, key=lambda p: (p[0].lower(), p[1] or "")):
            sections[_section(module)].append(
                f"import {module}" + (f" as {alias}" if alias else ""))
        for module in sorted(self.named, key=str.lower):
            names = sorted(self.named[module], key=_member_key)
            text = ", ".join(n + (f" as {a}" if a else "") for n, a in names)
            sections[_section(module)].append(f"from {module} import {text}")
        lines: list[str] = []
        for section in sections:
            if section:
                lines.extend([*([""] if lines else []), *section])
        return lines


def _section(module: str) -> int:
    top = module.split(".")[0]
    if top == "__future__":
        return 0
    return 1 if top in sys.stdlib_module_names else 2


def _member_key(pair: tuple[str, str | None]) -> tuple[int, str]:
    name = pair[0]
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1, name) if name[:1].isupper() else (2, name.lower())


# -- inlining NetBuilder's own module classes ---------------------------------------------
@dataclass
class _SourceFile:
    lines: list[str]
    defs: dict[str, ast.stmt]
    imports: dict[str, ast.Import | ast.ImportFrom]


class Inliner:
    """Collects classes defined in NetBuilder, with the helpers and imports they use."""

    def __init__(self, imports: Imports) -> None:
        self.imports = imports
        self._files: dict[str, _SourceFile] = {}
        self._wanted: dict[tuple[str, str], ast.stmt] = {}

    def add(self, cls: type) -> str:
        """Copy ``cls`` (and what it needs) into the file; return the name to call."""
        self._need(cls.__module__, cls.__name__)
        return cls.__name__

    def names(self) -> set[str]:
        """Top-level names the inlined code defines."""
        return {name for _, name in self._wanted}

    def render(self) -> list[list[str]]:
        """The inlined definitions, each a list of lines, in their files' order."""
        order = sorted(self._wanted.items(), key=lambda kv: (kv[0][0], kv[1].lineno))
        return [self._segment(module, stmt) for (module, _), stmt in order]

    def _segment(self, module: str, stmt: ast.stmt) -> list[str]:
        start = min([d.lineno for d in getattr(stmt, "decorator_list", [])] + [stmt.lineno])
        assert stmt.end_lineno is not None
        return self._files[module].lines[start - 1:stmt.end_lineno]

    def _need(self, module: str, name: str) -> None:
        if (module, name) in self._wanted:
            return
        source = self._file(module)
        stmt = source.defs.get(name)
        if stmt is None:
            raise SourceExportError(f"cannot find {name} in {module} to copy it")
        self._wanted[(module, name)] = stmt
        for used in _used_names(stmt):
            if used in source.defs and used != name:
                self._need(module, used)
            elif used in source.imports:
                self._import(source.imports[used], used, module)

    def _import(self, stmt: ast.Import | ast.ImportFrom, name: str, module: str) -> None:
        if isinstance(stmt, ast.ImportFrom):
            origin = stmt.module or ""
            if stmt.level or origin.split(".")[0] == "netbuilder":
                raise SourceExportError(
                    f"{module} uses {name} from {origin or 'a relative import'}; "
                    f"the exported file cannot depend on NetBuilder")
            alias = next(a for a in stmt.names if (a.asname or a.name) == name)
            self.imports.add_name(origin, alias.name, alias.asname)
            return
        alias = next(a for a in stmt.names if (a.asname or a.name.split(".")[0]) == name)
        self.imports.add_module(alias.name, alias.asname)

    def _file(self, module: str) -> _SourceFile:
        if module not in self._files:
            try:
                text = inspect.getsource(importlib.import_module(module))
            except (OSError, TypeError) as error:
                raise SourceExportError(
                    f"the source of {module} is not available to copy into the file") from error
            tree = ast.parse(text)
            defs: dict[str, ast.stmt] = {}
            imports: dict[str, ast.Import | ast.ImportFrom] = {}
            for stmt in _top_level(tree.body):
                if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    if getattr(stmt, "module", None) != "__future__":
                        imports.update({(a.asname or a.name.split(".")[0]): stmt
                                        for a in stmt.names})
                else:
                    defs.update({n: stmt for n in _bound_names(stmt)})
            self._files[module] = _SourceFile(text.splitlines(), defs, imports)
        return self._files[module]


def _top_level(body: Iterable[ast.stmt]) -> Iterable[ast.stmt]:
    """Top-level statements, with those of ``if TYPE_CHECKING:`` blocks flattened in."""
    for stmt in body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            yield from stmt.body
        else:
            yield stmt


def _bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


def _used_names(stmt: ast.stmt) -> list[str]:
    return list(dict.fromkeys(n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)))


# -- modules → expressions -----------------------------------------------------------------
class ModuleWriter:
    """Writes constructor calls for modules and collects the imports and copies they need."""

    def __init__(self) -> None:
        self.imports = Imports()
        self.inliner = Inliner(self.imports)

    def call(self, module: nn.Module, where: str) -> Call:
        """The expression constructing a module equal to ``module`` (but for weights).

        Args:
            module: A module built by a block.
            where: The node's dotted path, for error messages.

        Raises:
            SourceExportError: when the module's constructor arguments cannot be recovered.
        """
        cls = type(module)
        if cls is nn.Sequential:
            names = list(module._modules)
            if names != [str(i) for i in range(len(names))]:
                raise SourceExportError(f"{where}: a Sequential with named children")
            return Call("nn.Sequential", tuple(
                self.call(child, f"{where}.{i}") for i, child in enumerate(module)))
        return Call(self.class_ref(cls), tuple(constructor_args(module, where)))

    def class_ref(self, cls: type) -> str:
        """How the generated file names ``cls``, registering the import or copy it needs."""
        if getattr(nn, cls.__name__, None) is cls:
            return f"nn.{cls.__name__}"
        if cls.__module__.split(".")[0] == "netbuilder":
            return self.inliner.add(cls)
        self.imports.add_name(_public_module(cls), cls.__name__)
        return cls.__name__

    def module_names(self) -> set[str]:
        """Every module-level name the file's imports and copies define."""
        return self.imports.bound() | self.inliner.names()


def _public_module(cls: type) -> str:
    """The shortest dotted module path from which ``cls`` can be imported."""
    parts = cls.__module__.split(".")
    for end in range(1, len(parts) + 1):
        path = ".".join(parts[:end])
        try:
            if getattr(importlib.import_module(path), cls.__name__, None) is cls:
                return path
        except ImportError:
            continue
    return cls.__module__


def constructor_args(module: nn.Module, where: str) -> list[str]:
    """Constructor arguments of ``module`` read back from its attributes, as source.

    Required arguments come first (the first two positionally, as torch's own reprs do),
    optional ones as keywords written only when they differ from their default. An
    argument stored as a parameter or ``None`` whose default is a bool (``bias``) is
    written as whether the parameter exists. Where a module built with tuples of equal
    values collapsed to one value (``kernel_size=(3, 3)`` → ``3``) and defaults left out
    is the same module, that shorter form is used.

    Raises:
        SourceExportError: when a required argument has no attribute of its name, or a
            value is not a literal.
    """
    exact = _read_arguments(module, where)
    short = _shorten(exact)
    chosen = short if short != exact and _rebuilds(module, short) else exact
    positional = [a for a in chosen if a.required][:2]
    texts = [literal(a.value, f"{where}.{a.name}") for a in positional]
    return texts + [f"{a.name}={literal(a.value, f'{where}.{a.name}')}"
                    for a in chosen if a not in positional]


@dataclass(frozen=True)
class _Argument:
    name: str
    value: Any
    required: bool
    default: Any


def _read_arguments(module: nn.Module, where: str) -> list[_Argument]:
    signature = inspect.signature(type(module).__init__)
    arguments = []
    for param in signature.parameters.values():
        if param.name in _SKIPPED_ARGS or param.kind in (param.VAR_POSITIONAL,
                                                         param.VAR_KEYWORD):
            continue
        required = param.default is inspect.Parameter.empty
        if not hasattr(module, param.name):
            if required:
                raise SourceExportError(
                    f"{where}: {type(module).__name__} does not keep its argument "
                    f"{param.name!r}, so it cannot be written as source")
            continue
        value = _argument_value(getattr(module, param.name), param.default)
        if required or not _same(value, param.default):
            arguments.append(_Argument(param.name, value, required, param.default))
    return arguments


def _shorten(arguments: list[_Argument]) -> list[_Argument]:
    out = []
    for arg in arguments:
        value = arg.value
        if isinstance(value, tuple) and value and len(set(value)) == 1 \
                and isinstance(value[0], int) and not isinstance(value[0], bool):
            value = value[0]
        if arg.required or not _same(value, arg.default):
            out.append(_Argument(arg.name, value, arg.required, arg.default))
    return out


def _rebuilds(module: nn.Module, arguments: list[_Argument]) -> bool:
    """Whether ``type(module)(**arguments)`` is the same module as ``module`` (by repr)."""
    try:
        with torch.device("meta"):
            rebuilt = type(module)(**{a.name: a.value for a in arguments})
    except Exception:  # an argument form the constructor refuses: keep the exact one
        return False
    return repr(rebuilt) == repr(module)


def _argument_value(value: Any, default: Any) -> Any:
    if isinstance(default, bool) and (value is None or isinstance(value, Tensor)):
        return value is not None
    return value


def _same(value: Any, default: Any) -> bool:
    return type(value) is type(default) and value == default
