"""Mutated project files open or are refused in one line; nothing else (issue 13).

The bundled examples and the saved forms of a few templates are mutated as a hostile user
(or a damaged disk) would: keys deleted or added, values replaced by other types, huge
numbers, NaN, text with control characters, duplicated ids and names, deep nesting,
truncated text. Each mutant must either load as a :class:`Project` that analyses, saves
and reopens to the same text, or be refused with a :class:`ProjectFileError` whose message
is one line of printable text. Inputs are bounded in size (a few templates, at most a few
mutations each), not timed.

CI runs a bounded number of mutants. A longer run, printing how many were accepted and
refused::

    NETBUILDER_FUZZ_FILES=20000 .venv/bin/python -m pytest -q tests/core/test_project_fuzz.py
    .venv/bin/python -m tests.core.test_project_fuzz 20000
"""

from __future__ import annotations

import copy
import json
import os
import random
import sys
from collections import Counter
from functools import cache
from typing import Any

import pytest

from netbuilder.core import commands, serialize
from netbuilder.core.analysis import analyze
from netbuilder.core.errors import ProjectFileError
from netbuilder.core.graph import Graph
from netbuilder.resources import resource_path

CASES = int(os.environ.get("NETBUILDER_FUZZ_FILES", "400"))
TEMPLATES = ("lenet5", "nin", "vgg11_bn", "resnet18", "googlenet", "densenet121")

#: Values a mutation puts in place of another.
NASTY: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 3, 2**31, 10**29, -(10**29), 1e308, -1e-308, 0.5, "",
    " ", "\n", "\x00", "\x1b[2J", "a\nb", "conv1", "x", "in", "out", "n1", "é", "a" * 300,
    [], [1], [1, 2], [1e29, 0], ["1", "2"], [[[]]], {}, {"a": 1}, {"scheme": "normal"},
)
#: Raw JSON tokens that ``json.dumps`` would not write.
RAW_TOKENS = ("NaN", "Infinity", "-Infinity", "1" + "0" * 399, "1" + "0" * 500, "1e400",
              "-0", "1E-400")


def _user_group_seed() -> str:
    """A project with a user group (two ports) and a composite whose body was edited."""
    graph = Graph()
    x = graph.add("input", shape=(3, 16, 16))
    conv = graph.add("conv2d", after=x, out_channels=8, padding=1)
    block = graph.add("basic_block", after=conv, out_channels=8)
    assert block.body is not None
    block.body.add("identity", "extra")
    add = graph.add("add")
    graph.connect(block, add)
    graph.connect(conv, add)
    relu = graph.add("relu", after=add)
    graph.chain("global_avgpool", "flatten", "linear", "output", after=relu)
    commands.group_nodes(graph, [add.id, relu.id], "mix").redo()
    return serialize.dumps(serialize.Project(graph, meta={"title": "seed"}))


@cache
def seeds() -> tuple[str, ...]:
    """The texts mutated: bundled examples, templates, a hand-made project."""
    from netbuilder.templates import build_template

    folder = resource_path("examples")
    texts = [p.read_text("utf-8") for p in sorted(folder.glob("*.nbproj"))]
    texts += [serialize.dumps(serialize.Project(build_template(name))) for name in TEMPLATES]
    return (*texts, _user_group_seed())


# -- mutations ------------------------------------------------------------------------------
def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every list and object in ``value``."""
    found = []
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            found.append(where)
            stack.extend((v, (*where, k)) for k, v in item.items())
        elif isinstance(item, list):
            found.append(where)
            stack.extend((v, (*where, i)) for i, v in enumerate(item))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _nodes_lists(document: Any) -> list[list[Any]]:
    return [_at(document, p) for p in _containers(document)
            if p and p[-1] == "nodes" and isinstance(_at(document, p), list)]


def mutate_tree(document: Any, rng: random.Random) -> None:
    """One structural mutation of the parsed document, in place."""
    paths = _containers(document)
    target = _at(document, rng.choice(paths))
    kind = rng.choice(("delete", "replace", "replace", "add", "duplicate", "rename",
                       "nest", "node_field", "node_field", "plausible", "plausible"))
    if kind == "plausible" and _nodes_lists(document):
        nodes = [n for n in rng.choice(_nodes_lists(document)) if isinstance(n, dict)]
        if nodes:
            _plausible_edit(rng.choice(nodes), rng)
        return
    if kind == "node_field" and _nodes_lists(document):
        nodes = [n for n in rng.choice(_nodes_lists(document)) if isinstance(n, dict)]
        if nodes:
            target = rng.choice(nodes)
            key = rng.choice(("id", "name", "type", "pos", "params", "body", "init",
                              "frozen", "collapsed"))
            target[key] = rng.choice(NASTY)
        return
    if kind == "rename" and _nodes_lists(document):
        nodes = [n for n in rng.choice(_nodes_lists(document)) if isinstance(n, dict)]
        if len(nodes) > 1:
            a, b = rng.sample(nodes, 2)
            key = rng.choice(("id", "name"))
            if key in a:
                b[key] = a[key]
        return
    keys = list(target) if isinstance(target, dict) else list(range(len(target)))
    if not keys and kind != "add":
        return
    if kind == "delete":
        del target[rng.choice(keys)]
    elif kind == "replace":
        target[rng.choice(keys)] = copy.deepcopy(rng.choice(NASTY))
    elif kind == "add":
        if isinstance(target, dict):
            target[rng.choice(("extra", "id", "body", "nodes", "format"))] = rng.choice(NASTY)
        else:
            target.append(copy.deepcopy(rng.choice(NASTY)))
    elif kind == "duplicate" and isinstance(target, list):
        target.append(copy.deepcopy(target[rng.choice(keys)]))
    elif kind == "nest":
        key = rng.choice(keys)
        for _ in range(rng.choice((3, 80, 400))):
            target[key] = [target[key]]


def _plausible_edit(node: dict[str, Any], rng: random.Random) -> None:
    """An edit a person might make by hand: most still give a valid file."""
    kind = rng.choice(("unname", "unbody", "param", "move", "flags"))
    if kind == "unname":
        node.pop("name", None)
    elif kind == "unbody":
        node.pop("body", None)
    elif kind == "param" and isinstance(node.get("params"), dict) and node["params"]:
        key = rng.choice(list(node["params"]))
        node["params"][key] = rng.choice((1, 2, 3, 8, 16, 0.5, True, "same", [1, 2]))
    elif kind == "move":
        node["pos"] = [rng.uniform(-1e6, 1e6), rng.choice((0, -0.0, 1e-9, 12345))]
    else:
        node["frozen"], node["collapsed"] = rng.random() < 0.5, rng.random() < 0.5


def mutate_text(text: str, rng: random.Random) -> str:
    """One textual mutation: a raw token, a cut, or a control character."""
    kind = rng.choice(("token", "truncate", "control", "duplicate_key"))
    spots = [i for i, c in enumerate(text) if c in ",:[]"]
    spot = rng.choice(spots) if spots else 0
    if kind == "token":
        numbers = [i for i, c in enumerate(text) if c.isdigit() and text[i - 1] in " [:-"]
        if numbers:
            start = rng.choice(numbers)
            end = start
            while end < len(text) and (text[end].isdigit() or text[end] in ".eE"):
                end += 1
            return text[:start] + rng.choice(RAW_TOKENS) + text[end:]
        return text
    if kind == "truncate":
        return text[:spot]
    if kind == "control":
        return text[:spot] + rng.choice(("\x00", "\x1b", "\ufeff", "\x7f", "\u2028")) + text[spot:]
    return text.replace('"type": ', '"type": "relu", "type": ', 1)


def mutant(case: int) -> str:
    """Mutant number ``case``: reproducible from the number alone."""
    rng = random.Random(case)
    text = rng.choice(seeds())
    document = json.loads(text)
    for _ in range(rng.choice((1, 1, 2, 3))):
        mutate_tree(document, rng)
    text = json.dumps(document, ensure_ascii=rng.random() < 0.5, indent=rng.choice((None, 1)))
    if rng.random() < 0.3:
        text = mutate_text(text, rng)
    return text


# -- checks ---------------------------------------------------------------------------------
def outcome(text: str) -> str:
    """``"accepted"`` or ``"refused"``; raises AssertionError for anything else."""
    try:
        project = serialize.loads(text)
    except ProjectFileError as error:
        message = str(error)
        assert message and message.isprintable(), f"not one printable line: {message!r}"
        return "refused"
    analyze(project.graph)
    saved = serialize.dumps(project)
    assert serialize.dumps(serialize.loads(saved)) == saved, "accepted but does not reopen"
    return "accepted"


@pytest.mark.parametrize("seed", range(len(seeds())))
def test_every_seed_opens(seed: int) -> None:
    assert outcome(seeds()[seed]) == "accepted"


def test_mutated_projects_open_or_are_refused_in_one_line() -> None:
    counts: Counter[str] = Counter()
    for case in range(CASES):
        text = mutant(case)
        try:
            counts[outcome(text)] += 1
        except Exception as error:
            raise AssertionError(f"mutant {case}: {type(error).__name__}: {error}") from error
    assert counts["accepted"] and counts["refused"]


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("pos", [10**29, 0], "pos: must be [x, y]"),
    ("pos", [1e29, 0], "pos: must be [x, y]"),
    ("id", "\n", "id: must be"),
    ("id", "c\n", "id: must be"),
    ("name", "act1\n", "name: name"),
])
def test_bad_node_fields_are_refused_naming_the_field(field: str, value: Any,
                                                       expected: str) -> None:
    document = json.loads(seeds()[0])
    document["graph"]["nodes"][1][field] = value
    document["graph"]["edges"] = []
    with pytest.raises(ProjectFileError) as error:
        serialize.loads(json.dumps(document))
    assert str(error.value).startswith("graph.nodes[1].")
    assert expected in str(error.value)
    assert str(error.value).isprintable()


def test_a_position_of_four_hundred_digits_is_refused() -> None:
    text = seeds()[0].replace('"pos": [0, 100]', '"pos": [1' + "0" * 398 + ", 100]", 1)
    with pytest.raises(ProjectFileError, match=r"graph\.nodes\[1\]\.pos"):
        serialize.loads(text)


def test_a_real_parameter_of_four_hundred_digits_is_refused() -> None:
    document = json.loads(seeds()[0])
    document["graph"]["nodes"].append({"id": "drop", "type": "dropout", "params": {"p": 0}})
    text = json.dumps(document).replace('"p": 0', '"p": 1' + "0" * 398)
    with pytest.raises(ProjectFileError, match=r"params\.p: is too large"):
        serialize.loads(text)


def main(count: int) -> None:
    """Run ``count`` mutants and print how many were accepted and refused."""
    counts: Counter[str] = Counter()
    for case in range(count):
        try:
            counts[outcome(mutant(case))] += 1
        except Exception as error:
            counts["failed"] += 1
            print(f"mutant {case}: {type(error).__name__}: {str(error)[:200]!r}")
    print(dict(counts))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else CASES)
