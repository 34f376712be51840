"""``netbuilder import PACKAGE.MODULE:FACTORY -o FILE.nbproj``: a model as a project.

:func:`configure_import` declares the subcommand's arguments and :func:`run_import` runs
it (``netbuilder.cli`` lists it)::

    netbuilder import torchvision.models:resnet18 --input-shape 3,224,224 \\
        --num-classes 10 -o resnet18.nbproj [--weights-out resnet18.pt]
    netbuilder import torchvision.models:googlenet --arg aux_logits=False \\
        --arg init_weights=False -o googlenet.nbproj

The project goes to ``-o``; the weights (a ``state_dict`` of the compiled graph, saved
with ``torch.save``) to ``--weights-out``, by default beside the project with the suffix
``.pt``. Every layer of the project loads its weights from that file when compiled (the
same project the editor's import makes:
:meth:`~netbuilder.compiler.importer.ImportResult.write_weights`).

Exit status: 0 imported, 1 the model has parts no block reproduces (every one is printed,
or the import does not analyse or reproduce the model), 2 wrong usage or a factory that
cannot be loaded or called.

The factory is trusted code: the module is imported and the factory called, so it runs
whatever it does (``subprocess:run`` would run a command), as ``python -c`` would. Nothing
in a project file can reach this command.

torch is imported only when the command runs, so ``netbuilder --help`` stays fast.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Any

from netbuilder.core.messages import one_line, printable
from netbuilder.core.outputs import check_output_path, is_torch_write_error, reason
from netbuilder.core.shapes import parse_shape

EXIT_OK, EXIT_UNMAPPED, EXIT_USAGE = 0, 1, 2
DEFAULT_INPUT_SHAPE = (3, 224, 224)


def configure_import(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``netbuilder import`` on ``parser``."""
    parser.add_argument("factory", metavar="PACKAGE.MODULE:FACTORY",
                        help="the function or class making the model, e.g. "
                             "torchvision.models:resnet18. The module is imported and the "
                             "factory called: it runs whatever code that is (as python -c "
                             "would), so give only code you trust")
    parser.add_argument("--input-shape", type=shape_argument, default=DEFAULT_INPUT_SHAPE,
                        metavar="C,H,W", help="one sample's shape without the batch "
                                              "(default: 3,224,224)")
    parser.add_argument("--num-classes", type=int, metavar="N",
                        help="passed to the factory as num_classes=N")
    parser.add_argument("--arg", action="append", default=[], type=parse_keyword,
                        metavar="KEY=VALUE", help="another factory argument (a Python "
                                                  "literal, else text); repeatable")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.nbproj",
                        help="the project file to write")
    parser.add_argument("--weights-out", metavar="FILE.pt",
                        help="the weights file to write (default: beside the project, .pt)")
    parser.add_argument("--plain-groups", action="store_true",
                        help="keep torchvision building blocks as plain groups instead of "
                             "composite blocks")


def shape_argument(text: str) -> tuple[int, ...]:
    """``--input-shape``: a shape in :func:`~netbuilder.core.shapes.parse_shape`'s grammar."""
    try:
        return parse_shape(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_keyword(text: str) -> tuple[str, Any]:
    """``"aux_logits=False"`` → ``("aux_logits", False)``; a non-literal value stays text."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    try:
        parsed: Any = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    return key.strip(), parsed


def run_import(args: argparse.Namespace) -> int:
    """Import the model, write the project and the weights; return the exit status."""
    from netbuilder.compiler.importer import FactoryError, ModelImportError, import_factory

    kwargs = dict(args.arg)
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    for target in (args.output, args.weights_out or Path(args.output).with_suffix(".pt")):
        check_output_path(target)  # before the model is built: OutputError, one line
    try:
        result = import_factory(args.factory, args.input_shape,
                                composites=not args.plain_groups, **kwargs)
    except ModelImportError as error:
        text = one_line(str(error)) if isinstance(error, FactoryError) else \
            printable(str(error), keep_newlines=True)  # exit 1: every unmapped part a line
        print(f"netbuilder: error: {text}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, FactoryError) else EXIT_UNMAPPED
    try:
        project, weights = result.save(args.output, args.weights_out)
    except Exception as error:
        if not (isinstance(error, OSError) or is_torch_write_error(error)):
            raise
        print(f"netbuilder: error: cannot write {one_line(str(args.output))}: "
              f"{one_line(reason(error))}", file=sys.stderr)
        return EXIT_USAGE
    count = sum(1 for _ in result.graph.walk())
    print(f"wrote {project} ({count} nodes) and {weights} ({len(result.weights)} tensors)")
    return EXIT_OK
