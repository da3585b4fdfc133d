"""``deepthinker-nb batch SPEC``: a spec's workflow runs on Dask distributed.

Progress (runs done / failed / running, best score) goes to stderr as it happens; the results
table goes to stdout. A bad spec is a one-line error with its file and line (exit 2), before
any cluster starts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any


def register(subparsers: Any) -> None:
    batch = subparsers.add_parser(
        "batch", help="run a spec's grid of workflow runs on Dask (a LocalCluster or a cluster)",
        description="Run every workflow run of SPEC (YAML or TOML: datasets x targets x tasks "
                    "x seeds x iteration configs x backends x councils, or an explicit runs: "
                    "list) as Dask tasks, skipping runs an earlier batch finished, and write "
                    "results.csv, results.parquet and report.html into OUT.",
    )
    batch.add_argument("spec", metavar="SPEC", help="the batch spec (.yaml, .yml or .toml)")
    where = batch.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler (tcp://host:8786)")
    where.add_argument("--workers", type=_positive, metavar="N",
                       help="a LocalCluster of N worker processes (default: one per CPU)")
    batch.add_argument("--out", metavar="DIR",
                       help="the batch's dir (default: the spec's output.dir, else "
                            "runs/<spec name>)")
    shared = batch.add_mutually_exclusive_group()
    shared.add_argument("--shared-out", dest="shared", action="store_true", default=None,
                        help="workers see this machine's files at the same paths: run dirs "
                             "are written in place (default for --workers)")
    shared.add_argument("--no-shared-out", dest="shared", action="store_false",
                        help="workers share no storage with us: datasets are shipped and run "
                             "dirs come back (default with --scheduler: found out by a probe)")
    batch.add_argument("--retries", type=_non_negative, metavar="N",
                       help="Dask retries per run after an infrastructure error (default: the "
                            "spec's, 2)")
    batch.add_argument("--quiet", action="store_true", help="no live progress on stderr")
    batch.set_defaults(func=_batch)


def _batch(args: argparse.Namespace) -> int:
    from deepthinker_nb.batch.runner import require_distributed, run_batch
    from deepthinker_nb.batch.spec import load_spec

    spec = load_spec(args.spec)  # a bad spec stops here, before Dask is even imported
    require_distributed()
    if not getattr(args, "verbose", False):
        # Dask logs at INFO by default (its own config); our progress lines say what matters.
        logging.getLogger("distributed").setLevel(logging.WARNING)
    result = run_batch(spec, scheduler=args.scheduler, workers=args.workers, out=args.out,
                       shared=args.shared, retries=args.retries, progress=not args.quiet)
    print(result.summary())
    sys.stdout.flush()
    return 0 if result.ok else 1


def _positive(value: str) -> int:
    number = _non_negative(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 1")
    return number


def _non_negative(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 0")
    return number
