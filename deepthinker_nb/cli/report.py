"""``deepthinker-nb report RUN [--output FILE] [--dir DIR]``: rebuild a run's one-file HTML
report from its run directory alone (no dataset, no kernel), as the workflow writes it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from deepthinker_nb.cli.options import add_run_argument
from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.runs.resolve import resolve_run


class ReportError(DeepThinkerError):
    """The run's manifest cannot be read, or the report cannot be written."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="rebuild a run's HTML report (summary, plots, notebook) from its run dir",
        description="Write the run's one-file HTML report: summary with a baseline, score per "
                    "iteration, curves, confusion matrix, feature importance, scanner verdicts, "
                    "timings, packages, the reproduce command and the executed run.ipynb. "
                    "Needs only the run directory.")
    add_run_argument(parser)
    parser.add_argument("--output", "-o", default=None, metavar="FILE",
                        help="where to write the report (default: RUN/report.html)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepthinker_nb.report.run_report import write_run_report  # matplotlib: only now

    run_dir = resolve_run(args.run, args.dir)
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {run_dir / 'manifest.json'}: "
                          f"{str(exc).splitlines()[0]}; is RUN a complete run directory?")
    if not isinstance(manifest, dict):
        raise ReportError(f"{run_dir / 'manifest.json'} is not a JSON object; is RUN a run "
                          "directory?")
    output = Path(args.output) if args.output else None
    if output is not None and output.is_dir():
        raise ReportError(f"--output {output} is a directory; give a file name such as "
                          f"{output / 'report.html'}")
    try:
        report = write_run_report(run_dir, output, manifest=manifest)
    except OSError as exc:
        raise ReportError(f"cannot write the report: {exc}; choose another --output FILE")
    print(report.path)
    return 0
