"""``deepthinker-nb exec``: run the cells of a .py or .ipynb file in one managed kernel."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from deepthinker_nb.cli.options import add_backend_option, add_timeout_option
from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.kernel.backend import get_backend
from deepthinker_nb.kernel.results import CellResult, RichOutput
from deepthinker_nb.kernel.session import KernelSession


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "exec",
        help="run a .py (cells split on '# %%%%') or .ipynb file in one kernel",
        description="Run each code cell in one kernel, streaming outputs; stop at the first "
        "failing cell (exit 1). Bad input exits 2.",
    )
    parser.add_argument("file", help="a .py or .ipynb file, or - for stdin")
    parser.add_argument("-o", "--output", help="write the executed notebook here (.ipynb)")
    add_backend_option(parser)
    add_timeout_option(parser)
    parser.add_argument("--workdir", metavar="DIR",
                        help="kernel working dir, an existing directory (default: a fresh "
                             "temp dir)")
    parser.add_argument("--no-scan", action="store_true",
                        help="do not run the security scanner (explicit opt-out, logged)")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not echo cell outputs")
    parser.set_defaults(func=run)


def _read_cells(source: str):
    from deepthinker_nb.notebook.builder import read_cells

    if source != "-":
        if not Path(source).exists():
            raise DeepThinkerError(f"no such file: {source}")
        if Path(source).suffix not in (".py", ".ipynb"):
            raise DeepThinkerError(f"{source}: expected a .py or .ipynb file")
        return read_cells(source)
    text = sys.stdin.read()
    suffix = ".ipynb" if text.lstrip().startswith("{") else ".py"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"stdin{suffix}"
        path.write_text(text, encoding="utf-8")
        return read_cells(path)


def _echo_output(output: RichOutput) -> None:
    if output.text:
        print(output.text, flush=True)
    elif output.data:
        print(f"<{', '.join(sorted(output.data))}>", flush=True)


def run(args: argparse.Namespace) -> int:
    if args.workdir is not None and not Path(args.workdir).is_dir():
        raise DeepThinkerError(f"--workdir {args.workdir}: no such directory; create it first "
                               "or leave --workdir out for a fresh temp dir")
    cells = _read_cells(args.file)
    recorder = None
    if args.output:
        from deepthinker_nb.notebook.recorder import NotebookRecorder
        from deepthinker_nb.notebook.verdict import METADATA_KEY

        if Path(args.output).suffix != ".ipynb":
            raise DeepThinkerError(f"--output {args.output}: must end in .ipynb")
        backend = get_backend(args.backend)
        recorder = NotebookRecorder(args.output, backend.kernel_name, resume=False)
        # What runs the cells, as the backend describes its kernels (Docker: the image).
        recorder.notebook.metadata[METADATA_KEY].update(
            backend=backend.name, kernel_name=backend.kernel_name,
            kernel=backend.describe(None))
    callbacks = {} if args.quiet else {
        "on_stdout": lambda text: (sys.stdout.write(text), sys.stdout.flush()),
        "on_stderr": lambda text: (sys.stderr.write(text), sys.stderr.flush()),
        "on_output": _echo_output,
    }
    failed: CellResult | None = None
    with KernelSession(args.backend, workdir=args.workdir, scan=not args.no_scan) as session:
        for index, cell in enumerate(cells, start=1):
            if cell.kind != "code":
                if recorder is not None:
                    recorder.record_markdown(cell.source)
                continue
            if not cell.source.strip():
                continue
            result = session.execute(cell.source, args.timeout, **callbacks)
            if recorder is not None:
                recorder.record(cell.source, result)
            if not result.success:
                failed = result
                _report_failure(index, result, args.quiet)
                break
    return 1 if failed else 0


def _report_failure(index: int, result: CellResult, quiet: bool) -> None:
    """Why cell ``index`` (1-based) failed, on stderr. A cell that does not parse is a
    mistake to fix, so it reads as a syntax error with its line and column, not as a block."""
    syntax = getattr(result.scan_report, "syntax_error", None)
    if syntax is not None:
        print(f"deepthinker-nb: cell {index}: syntax error at line {syntax.line}, column "
              f"{syntax.col + 1}: {syntax.message}", file=sys.stderr)
        if syntax.snippet:
            print(f"  {syntax.snippet}", file=sys.stderr)
        return
    print(f"deepthinker-nb: cell {index} failed: {result.summary()}", file=sys.stderr)
    if result.error is not None and result.error.traceback and not quiet:
        print(result.error.traceback_text, file=sys.stderr)
    for finding in result.findings:
        print(f"  {finding.rule_id} line {finding.line}: {finding.message}", file=sys.stderr)
