"""``netbuilder export --format onnx|pt2|job``: the deployment formats and the job folder.

The command line's thin front end over :mod:`netbuilder.compiler.export_onnx`,
:mod:`netbuilder.compiler.export_program` and :mod:`netbuilder.compiler.job` (the editor's
File › Export calls the same functions). It sits above the training layer because a job's
``config.json`` is the app's :class:`~netbuilder.training.config.TrainConfig`.

Exit status: 0 written and checked; 1 the network cannot be exported (an op ONNX cannot
express, outputs that differ); 2 an output that cannot be written (raised as
:class:`~netbuilder.core.outputs.OutputError` for the caller to report).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from netbuilder.core.document import Document
from netbuilder.core.messages import one_line
from netbuilder.core.outputs import check_output_path

EXIT_OK, EXIT_FAILED = 0, 1


def export_document(document: Document, title: str, args: argparse.Namespace,
                    export_format: str) -> int:
    """Write ``document``'s network to ``args.output`` in ``export_format``; the exit status."""
    from netbuilder.compiler.export_common import ExportError

    if export_format != "job":
        check_output_path(args.output)  # before the (long) export
    try:
        written, difference = write_format(document, title, args.output, export_format,
                                           opset=args.opset, force=args.force)
    except ExportError as error:
        print(f"netbuilder: error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_FAILED
    print(written)
    if difference is not None:
        print(f"max abs difference: {difference:.3g}", file=sys.stderr)
    return EXIT_OK


def write_format(document: Document, title: str, output: Path, export_format: str, *,
                 opset: int | None = None, force: bool = False,
                 module: Any = None) -> tuple[Path, float | None]:
    """Write one export; the path written and, for ONNX and ``.pt2``, the largest difference
    between its outputs and the network's.

    Raises:
        CompileError: when the graph cannot be compiled (ExportError: cannot be exported).
        OutputError: when ``output`` cannot be written (or is a job folder that exists,
            without ``force``).
    """
    graph = document.graph
    if export_format == "onnx":
        from netbuilder.compiler.export_onnx import export_onnx

        report = export_onnx(graph, output, opset=opset, module=module)
        return report.path, report.max_abs_diff
    if export_format == "pt2":
        from netbuilder.compiler.export_program import export_program

        report = export_program(graph, output, module=module)
        return report.path, report.max_abs_diff
    from netbuilder.compiler.job import write_job

    return write_job(graph, output, job_config(document.training), title=title,
                     module=module, force=force), None


def job_config(training: Any) -> dict[str, Any]:
    """The training settings a job's ``config.json`` holds (the app's, complete)."""
    from netbuilder.training.config import TrainConfig

    return TrainConfig.from_dict(dict(training or {})).to_dict()
