"""``deepthinker-nb gc``: remove what crashed processes left behind, on every backend."""

from __future__ import annotations

import argparse

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.kernel.backend import available_backends, get_backend


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gc",
        help="remove kernel containers, socket dirs and temp dirs whose owner process died",
    )
    parser.add_argument("--backend", action="append", choices=available_backends() or None,
                        help="only this backend (repeatable; default: all)")
    parser.set_defaults(func=_gc)


def _gc(args: argparse.Namespace) -> int:
    for name in args.backend or available_backends():
        try:
            removed = get_backend(name).gc()
        except DeepThinkerError as exc:  # e.g. no Docker engine: nothing of it to collect here
            print(f"{name}: skipped ({exc})")
            continue
        print(f"{name}: {removed} orphan(s) removed")
    return 0
