"""``deepthinker-nb scan PATH...``: statically check cells before they reach a kernel."""

from __future__ import annotations

import argparse
import sys

from deepthinker_nb.scanner import ScanPolicy, SecurityScanner, Severity
from deepthinker_nb.scanner.batch import (
    ScanInputError,
    render_json,
    render_sarif,
    render_text,
    scan_paths,
)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan", help="scan .py / .ipynb files (or - for stdin) with the security scanner",
        description="Scan notebook cells with the static security scanner. Exit status: 0 "
                    "clean, 1 findings at or above --fail-on, 2 bad input.")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help=".py (cells split on '# %%%%'), .ipynb, or - for stdin")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--fail-on", default="high", type=_severity, metavar="SEVERITY",
                        help="lowest severity that makes the exit status 1 (default: high)")
    parser.add_argument("--data-dir", action="append", default=[], metavar="DIR",
                        help="absolute data directory the cells may read (repeatable)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                        help="host the cells may reach, e.g. '*.example.org' (repeatable)")
    parser.set_defaults(func=run)


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc))


def run(args: argparse.Namespace) -> int:
    policy = ScanPolicy(data_dirs=tuple(args.data_dir), allowed_hosts=tuple(args.allow_host),
                        block_at=args.fail_on)
    try:
        result = scan_paths(list(args.paths), SecurityScanner(policy))
    except ScanInputError as exc:
        print(f"deepthinker-nb scan: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.format == "json":
        print(render_json(result, args.fail_on))
    elif args.format == "sarif":
        print(render_sarif(result))
    else:
        print(render_text(result, args.fail_on))
    return EXIT_FINDINGS if result.findings_at_or_above(args.fail_on) else EXIT_CLEAN
