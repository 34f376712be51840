"""Write the README's table of every torchvision classifier: import status, parameters, GMACs.

Each classifier is built without weights (no network), imported, checked to compute what
the model computes, and counted at its default weights' input size
(:func:`netbuilder.compiler.torchvision_zoo.survey`). The table replaces the lines between
``<!-- torchvision-table:start -->`` and ``<!-- torchvision-table:end -->`` in README.md
(or is printed with ``--print``)::

    python bench/torchvision_table.py            # every classifier, README.md rewritten
    python bench/torchvision_table.py --print resnet18 vit_b_16
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from netbuilder.compiler.torchvision_zoo import Survey, classifiers, survey

START, END = "<!-- torchvision-table:start -->", "<!-- torchvision-table:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"


def row_text(row: Survey) -> str:
    """One Markdown table row."""
    if row.error:
        return f"| `{row.name}` | refused: {row.error} | | | | |"
    same = "=" if row.params == row.expected_params else \
        f"{row.params - row.expected_params:+,}"
    status = "imported, same outputs"
    return (f"| `{row.name}` | {status} | {row.params:,} ({same}) | {row.gmacs:.3f} "
            f"({row.macs_ratio - 1:+.2%}) | {row.side} | {row.nodes:,} ({row.opaque}) |")


def table(rows: Iterable[Survey]) -> str:
    """The Markdown table, with its header."""
    lines = ["| model | import | parameters (vs. weights' `num_params`) | GMACs (vs. `_ops`) "
             "| input | nodes (opaque) |", "|---|---|---|---|---|---|"]
    lines += [row_text(row) for row in rows]
    return "\n".join(lines)


def replace_between_markers(text: str, content: str) -> str:
    """``text`` with the lines between the markers replaced by ``content``."""
    head, start, rest = text.partition(START)
    _old, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"README.md lacks the {START} … {END} markers")
    return f"{head}{START}\n{content}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    """Survey the classifiers and write (or print) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="builders to survey (default: all)")
    parser.add_argument("--print", action="store_true", help="print instead of writing")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    rows = []
    for name in args.models or classifiers():
        rows.append(survey(name))
        print(row_text(rows[-1]), f"{rows[-1].seconds:.1f} s", file=sys.stderr, flush=True)
    text = table(rows)
    if args.print:
        print(text)
    else:
        README.write_text(replace_between_markers(README.read_text(), text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
