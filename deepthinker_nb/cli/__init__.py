"""The ``deepthinker-nb`` console script: one parser, one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from deepthinker_nb import __version__
from deepthinker_nb.errors import DeepThinkerError

COMMAND_MODULES: tuple[str, ...] = (
    "exec", "session", "kernels", "scan", "run", "resume", "runs", "reproduce", "report",
    "export", "batch", "image", "gc",
)
"""Each module exposes ``register(subparsers)``; a missing one is skipped, not fatal."""

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepthinker-nb",
        description="Run AI-generated data-science code safely in managed Jupyter kernels.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"deepthinker_nb.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"deepthinker_nb.cli.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args) or 0)
    except DeepThinkerError as exc:
        print(f"deepthinker-nb: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("deepthinker-nb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
