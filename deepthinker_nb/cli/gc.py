"""``deepthinker-nb gc``: remove kernel containers and socket dirs whose owner process died."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gc", help="remove orphaned Docker kernel containers and their socket dirs"
    )
    parser.set_defaults(func=_gc)


def _gc(args: argparse.Namespace) -> int:
    from deepthinker_nb.kernel.docker.engine import get_client
    from deepthinker_nb.kernel.docker.orphans import gc

    report = gc(get_client())
    for name in report.containers:
        print(f"removed container {name}")
    for path in report.dirs:
        print(f"removed {path}")
    print(f"{len(report.containers)} container(s), {len(report.dirs)} dir(s) removed")
    return 0
