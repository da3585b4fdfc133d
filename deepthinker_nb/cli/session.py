"""``deepthinker-nb session``: a prompt whose every cell is scanned, run and recorded."""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from typing import TextIO

from deepthinker_nb.cli.options import add_backend_option, add_timeout_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "session",
        help="run cells interactively, each appended live to a notebook",
        description="Type cells at the prompt (a cell runs when it is complete, as in IPython; "
        "end a multi-line cell with an empty line). An existing notebook is continued: its "
        "cells are replayed first. Ctrl-D ends the session.",
    )
    parser.add_argument("notebook", help="the .ipynb file to record into (created or continued)")
    add_backend_option(parser)
    parser.add_argument("--workdir", help="kernel working dir (default: a fresh temp dir)")
    add_timeout_option(parser)
    parser.add_argument("--no-replay", action="store_true",
                        help="do not re-run the cells of an existing notebook first")
    parser.add_argument("--no-scan", action="store_true", help="explicit, logged opt-out")
    parser.set_defaults(func=run)


def read_cells(stream: TextIO, prompt: bool) -> Iterator[str]:
    """Cells from a line stream, complete the way IPython's prompt decides it."""
    from IPython.core.inputtransformer2 import TransformerManager

    manager = TransformerManager()
    lines: list[str] = []
    while True:
        if prompt:
            print("...: " if lines else "In: ", end="", file=sys.stderr, flush=True)
        line = stream.readline()
        if not line:
            if "".join(lines).strip():
                yield "".join(lines)
            return
        if not lines and not line.strip():
            continue
        lines.append(line)
        source = "".join(lines)
        status, _indent = manager.check_complete(source)
        block_open = _opens_block(manager, source) and line.strip()
        if status == "invalid" or (status == "complete" and not block_open):
            yield source.rstrip("\n")
            lines = []


_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try,
             ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _opens_block(manager, source: str) -> bool:  # type: ignore[no-untyped-def]
    """A compound statement may go on with more indented lines: it waits for an empty line."""
    try:
        tree = ast.parse(manager.transform_cell(source))
    except SyntaxError:
        return False
    return any(isinstance(node, _COMPOUND) for node in tree.body)


def run(args: argparse.Namespace) -> int:
    from deepthinker_nb.notebook.live import Session

    interactive = sys.stdin.isatty()
    with Session(args.notebook, args.backend, workdir=args.workdir, timeout=args.timeout,
                 replay=not args.no_replay, scan=not args.no_scan) as session:
        if session.replayed:
            failed = sum(not r.success for r in session.replayed)
            print(f"replayed {len(session.replayed)} cell(s) of {args.notebook}"
                  + (f" ({failed} did not succeed, as recorded)" if failed else ""),
                  file=sys.stderr)
        for code in read_cells(sys.stdin, prompt=interactive):
            result = session.run(code, on_stdout=lambda t: (sys.stdout.write(t),
                                                            sys.stdout.flush()),
                                 on_stderr=lambda t: (sys.stderr.write(t), sys.stderr.flush()))
            if result.result is not None:
                print(result.result.text)
            if not result.success:
                print(result.summary(), file=sys.stderr)
                for finding in result.findings:
                    print(f"  {finding.rule_id} line {finding.line}: {finding.message}",
                          file=sys.stderr)
    print(f"recorded in {args.notebook}", file=sys.stderr)
    return 0
