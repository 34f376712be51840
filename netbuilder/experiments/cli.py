"""``netbuilder sweep``: search training settings and architecture variants with Optuna.

::

    netbuilder sweep net.nbproj --space space.json --trials 12 --jobs 2
    netbuilder sweep net.nbproj --space space.json --storage postgresql://host/db --study s1
    netbuilder sweep worker --storage postgresql://host/db --study s1   # on other machines

The study lives in ``NAME.sweeps.db`` beside the project unless ``--storage`` names any
Optuna storage URL. Trials run in worker processes (``--jobs`` at once); a table of the
trials, best first, and the best trial are printed at the end. A space that does not fit
the project is refused before any trial starts, naming the entry.

Exit status: 0 the sweep ran its budget; 1 no trial completed, or the sweep ended short —
interrupted, a worker process died, or trials were left waiting (the table is printed all
the same, and running the command again resumes the study); 2 wrong usage, a space or
project that cannot be used, an unreachable storage, or a study that exists with another
space (pass ``--resume`` to go on with it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from netbuilder.core.errors import NetBuilderError, ProjectFileError
from netbuilder.core.messages import one_line
from netbuilder.core.project_paths import file_problem, safe_folder_name
from netbuilder.core.serialize import Project, load

EXIT_OK, EXIT_NO_RESULT, EXIT_USAGE = 0, 1, 2
HELP = "search training settings and node parameters over many trials (Optuna)"


def configure_sweep(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``netbuilder sweep`` on ``parser``."""
    parser.add_argument("source", metavar="FILE|worker",
                        help="the project to sweep, or `worker` to take trials of an "
                             "existing study (with --storage and --study)")
    parser.add_argument("--space", type=Path, help="the search space (JSON)")
    parser.add_argument("--trials", type=int, help="trial budget (overrides the space's)")
    parser.add_argument("--timeout", type=float,
                        help="time budget in seconds from the launch (with `worker`: "
                             "seconds from its start before it takes no new trial)")
    parser.add_argument("--jobs", type=int, default=1, help="trials at once (processes)")
    parser.add_argument("--storage", help="Optuna storage URL (default: SQLite beside the "
                                          "project)")
    parser.add_argument("--study", help="study name (default: the space file's name)")
    parser.add_argument("--resume", action="store_true",
                        help="go on with an existing study even if its space differs")
    parser.add_argument("--artifacts", type=Path,
                        help="folder for trained weights (default: beside the project)")
    parser.add_argument("--threads", type=int, help="CPU threads per worker")


def run_sweep(args: argparse.Namespace) -> int:
    """Run ``netbuilder sweep``; return the exit status."""
    if args.source == "worker":
        return _run_worker(args)
    try:
        return _sweep(args)
    except NetBuilderError as exc:
        print(f"netbuilder sweep: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE


def _run_worker(args: argparse.Namespace) -> int:
    from netbuilder.experiments.worker import run_worker

    if not args.storage or not args.study:
        print("netbuilder sweep worker: error: give --storage URL and --study NAME",
              file=sys.stderr)
        return EXIT_USAGE
    return run_worker(args.storage, args.study, trials=args.trials, timeout_s=args.timeout,
                      artifacts=args.artifacts, threads=args.threads)


def _sweep(args: argparse.Namespace) -> int:
    from optuna.trial import TrialState

    from netbuilder.experiments.runner import SweepRunner, plan_launch
    from netbuilder.experiments.study import create_or_open, default_storage

    project_file = Path(args.source)
    project = _load_project(project_file)
    space = _load_space(args)
    storage = args.storage or default_storage(project_file)
    name = args.study or safe_folder_name(args.space.stem, "sweep")
    artifacts = args.artifacts or project_file.absolute().with_name(
        f"{project_file.stem}.sweeps")
    sweep = create_or_open(storage, name, project, space, artifacts, resume=args.resume)
    plan = plan_launch(sweep, storage, args.jobs)
    runner = SweepRunner(plan, log_dir=artifacts / name / "logs")
    started = time.perf_counter()
    gpus = f" on GPU {', '.join(plan.devices)}" if plan.devices else ""
    print(f"sweep {name!r} in {storage}: {args.jobs} worker(s){gpus}", file=sys.stderr)
    runner.start()
    short = []
    try:
        runner.wait()
    except KeyboardInterrupt:
        short.append("interrupted")
        runner.stop()
        runner.wait()
    print(f"sweep finished in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    code = _print_results(sweep)
    short += runner.failures()
    waiting = len(sweep.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    if waiting:
        short.append(f"{waiting} queued trial(s) never ran")
    if short:
        print(f"netbuilder sweep: the sweep ended short: {'; '.join(short)} (run the same "
              f"command again to resume the study)", file=sys.stderr)
        return EXIT_NO_RESULT
    return code


def _load_project(path: Path) -> Project:
    problem = file_problem(path)
    if problem is not None:
        raise ProjectFileError(problem)
    try:
        return load(path)
    except ProjectFileError as exc:
        raise ProjectFileError(f"{path}: {exc}") from None


def _load_space(args: argparse.Namespace) -> dict[str, Any]:
    if args.space is None:
        raise ProjectFileError("give the search space: --space space.json")
    problem = file_problem(args.space)
    if problem is not None:
        raise ProjectFileError(problem)
    try:
        data = json.loads(args.space.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectFileError(f"{args.space}: not a JSON space ({exc})") from None
    if not isinstance(data, dict):
        raise ProjectFileError(f"{args.space}: the space must be a JSON object")
    search = dict(data.get("search") or {})
    if args.trials is not None:
        search["trials"] = args.trials
    if args.timeout is not None:
        search["timeout_s"] = args.timeout
    if search:
        data["search"] = search
    return data


def _print_results(sweep: Any) -> int:
    from netbuilder.experiments.study import pareto_numbers, ranked, trial_row

    objectives = list(sweep.space.objectives)
    rows = ranked([trial_row(t) for t in sweep.study.get_trials(deepcopy=False)], objectives)
    keys = [d.key for d in sweep.space.dimensions]
    table = [["#", "state", *keys, *objectives, "note"]]
    for row in rows:
        values = [_cell(v) for v in row.values] if row.values else [""] * len(objectives)
        table.append([str(row.number), row.state, *(_cell(row.params.get(k)) for k in keys),
                      *values, row.reason])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    best = sorted(pareto_numbers(sweep.study))
    if not best:
        print("no trial completed")
        return EXIT_NO_RESULT
    label = "best trial" if len(objectives) == 1 else "Pareto front"
    print(f"{label}: {', '.join(f'#{n}' for n in best)}")
    first = next(r for r in rows if r.number in best)
    if first.project_file:
        print(f"open it: netbuilder gui {first.project_file}")
    return EXIT_OK


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
