"""``deepthinker-nb reproduce``: re-execute a run's run.ipynb and say whether it gives the same."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from deepthinker_nb.cli.options import add_backend_option, add_run_argument
from deepthinker_nb.runs import resolve_run

EXIT_NOT_REPRODUCED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="re-execute a run's run.ipynb and compare its metrics and outputs",
        description="Re-execute RUN's run.ipynb in a fresh kernel, recompute its metrics on the "
        "host (the held-out labels are re-derived from the original dataset, checked by its "
        "SHA-256) and compare them and every cell's output with the record, ignoring what is "
        "volatile (timings, addresses). Exit 0 when everything is the same, 1 when not (with "
        "a diff). RUN is a run id, a run directory (also a copied or moved one) or a zip "
        "written by `deepthinker-nb export`.",
    )
    add_run_argument(parser, help="run id, run directory, or exported .zip")
    add_backend_option(parser, default=None, help="where the re-run's kernel runs "
                       "(default: the run's own backend)")
    parser.add_argument("--data", metavar="PATH",
                        help="the run's original dataset, when it is no longer where the run "
                        "read it (checked by its SHA-256)")
    parser.add_argument("--output", metavar="FILE.ipynb",
                        help="write the re-executed notebook here (default: run.reproduced.ipynb "
                        "or run.reproduce-failed.ipynb in the run dir)")
    parser.add_argument("--into", metavar="DIR",
                        help="for a .zip: unpack the run here and keep it (default: a temp dir, "
                        "removed afterwards)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-cell progress")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepthinker_nb.report import reproduce
    from deepthinker_nb.report.export import bundled_dataset, unpack_run

    scratch = None
    source = Path(args.run)
    if source.suffix.lower() == ".zip" and source.is_file():
        if args.into:
            run_dir = unpack_run(source, args.into)
        else:
            scratch = Path(tempfile.mkdtemp(prefix="dtnb-reproduce-"))
            run_dir = unpack_run(source, scratch)
        print(f"unpacked {source} into {run_dir}", file=sys.stderr)
    else:
        run_dir = resolve_run(args.run, args.dir)
    dataset = args.data or bundled_dataset(run_dir)
    started = time.perf_counter()

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {line}", file=sys.stderr, flush=True)

    try:
        result = reproduce(run_dir, backend=args.backend, dataset=dataset, progress=progress,
                           output_path=args.output)
        print(result.table())
        kept = "" if scratch is None else " (in a temp dir, removed; keep it with --into DIR)"
        print(f"{result.summary()}{kept}")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0 if result.reproduced else EXIT_NOT_REPRODUCED
