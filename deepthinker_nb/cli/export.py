"""``deepthinker-nb export``: a run and its environment as one zip another machine reproduces."""

from __future__ import annotations

import argparse

from deepthinker_nb.cli.options import add_run_argument
from deepthinker_nb.runs import resolve_run


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run, its package list and kernel image recipe into a zip",
        description="Write RUN's directory, the exact installed packages (versions and the "
        "hash of each one's installed files) and the Docker kernel image's recipe into one "
        "zip; `deepthinker-nb reproduce FILE.zip` re-runs it on another machine.",
    )
    add_run_argument(parser)
    parser.add_argument("--to", required=True, metavar="FILE.zip", help="the zip to write")
    parser.add_argument("--with-data", action="store_true",
                        help="also carry the original dataset (checked by its SHA-256), for a "
                        "receiver who does not have it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepthinker_nb.report import export_run

    result = export_run(resolve_run(args.run, args.dir), args.to, with_data=args.with_data)
    print(result.summary())
    return 0
