"""``deepthinker-nb session``: a prompt whose every cell is scanned, run and recorded.

At a terminal it behaves like IPython's: Ctrl-C while a cell runs interrupts that cell (the
kernel keeps its state, the notebook records the output so far and the KeyboardInterrupt);
Ctrl-C at the prompt drops what was typed, and a second one at the empty prompt, or Ctrl-D,
ends the session (notebook saved, kernel shut down).
"""

from __future__ import annotations

import argparse
import ast
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from deepthinker_nb.cli.options import add_backend_option, add_timeout_option
from deepthinker_nb.kernel.results import CellResult, strip_ansi

if TYPE_CHECKING:
    from deepthinker_nb.notebook.live import Session

QUIT_HINT = "(Ctrl-C again at the empty prompt, or Ctrl-D, ends the session)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "session",
        help="run cells interactively, each appended live to a notebook",
        description="Type cells at the prompt (a cell runs when it is complete, as in IPython; "
        "end a multi-line cell with an empty line). An existing notebook is continued: its "
        "cells are replayed first, and cells whose results differ from the recording are "
        "listed. Images are saved to <notebook stem>_files/. Ctrl-C interrupts the running "
        "cell or clears the prompt; Ctrl-C twice at an empty prompt, or Ctrl-D, ends the "
        "session.",
    )
    parser.add_argument("notebook", help="the .ipynb file to record into (created or continued)")
    add_backend_option(parser)
    parser.add_argument("--workdir", metavar="DIR",
                        help="kernel working dir, which must exist (default: the current dir)")
    add_timeout_option(parser)
    parser.add_argument("--no-replay", action="store_true",
                        help="do not re-run the cells of an existing notebook first")
    parser.add_argument("--no-scan", action="store_true", help="explicit, logged opt-out")
    parser.set_defaults(func=run)


# -- input: lines to complete cells --------------------------------------------------------------
LineReader = Callable[[str], str]
"""``read_line(prompt)``: one line with its newline; EOFError at the end, KeyboardInterrupt on
Ctrl-C."""


class CellReader:
    """Complete cells from lines, the way IPython's prompt decides; a compound statement waits
    for an empty line. After a KeyboardInterrupt, ``typed`` says whether anything was being
    typed (then the Ctrl-C only cleared it)."""

    def __init__(self, read_line: LineReader, prompts: bool = True) -> None:
        from IPython.core.inputtransformer2 import TransformerManager

        self._read_line = read_line
        self._manager = TransformerManager()
        self.prompts = prompts
        self.typed = False

    def read(self, number: int = 1) -> str | None:
        """The next cell (``number`` goes in the prompt), or None when the input ended."""
        lines: list[str] = []
        while True:
            prompt = ""
            if self.prompts:
                prompt = f"In [{number}]: " if not lines else f"{'...:':>{len(str(number)) + 6}} "
            try:
                line = self._read_line(prompt)
            except EOFError:
                pending = "".join(lines)
                return pending.rstrip("\n") if pending.strip() else None
            except KeyboardInterrupt:
                self.typed = bool(lines) or bool(_line_buffer())
                raise
            if not lines and not line.strip():
                continue
            lines.append(line)
            source = "".join(lines)
            status, _indent = self._manager.check_complete(source)
            block_open = _opens_block(self._manager, source) and line.strip()
            if status == "invalid" or (status == "complete" and not block_open):
                return source.rstrip("\n")


def read_cells(stream: TextIO, prompt: bool) -> Iterator[str]:
    """Cells from a line stream (prompts, if any, on stderr)."""
    reader = CellReader(_stream_reader(stream), prompts=prompt)
    while (cell := reader.read()) is not None:
        yield cell


def _stream_reader(stream: TextIO) -> LineReader:
    def read_line(prompt: str) -> str:
        if prompt:
            print(prompt, end="", file=sys.stderr, flush=True)
        line = stream.readline()
        if not line:
            raise EOFError
        return line
    return read_line


def _terminal_reader(prompt: str) -> str:
    return input(prompt) + "\n"  # readline: line editing and history


def _line_buffer() -> str:
    """What was typed on the current line, where readline knows it."""
    readline = sys.modules.get("readline")
    try:
        return readline.get_line_buffer() if readline is not None else ""
    except Exception:
        return ""


_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try,
             ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _opens_block(manager, source: str) -> bool:  # type: ignore[no-untyped-def]
    """A compound statement may go on with more indented lines: it waits for an empty line."""
    try:
        tree = ast.parse(manager.transform_cell(source))
    except SyntaxError:
        return False
    return any(isinstance(node, _COMPOUND) for node in tree.body)


# -- Ctrl-C while the kernel works ---------------------------------------------------------------
@contextmanager
def cell_interrupts(session: Session) -> Iterator[None]:
    """While a cell runs, Ctrl-C interrupts it in the kernel instead of ending the session.
    Before the kernel is up it still ends the session (the kernel start is undone)."""
    def on_sigint(signum: int, frame: object) -> None:
        if not session.kernel.started:
            raise KeyboardInterrupt
        print("\n^C interrupting the cell", file=sys.stderr, flush=True)
        session.interrupt_soon()

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: nothing to catch
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- the command ---------------------------------------------------------------------------------
def workdir_arg(value: str | None) -> Path:
    """``--workdir`` as given (it must exist: a typo must not become a new dir), else cwd."""
    from deepthinker_nb.notebook.live import SessionInputError

    if value is None:
        return Path.cwd()
    path = Path(value)
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise SessionInputError(f"--workdir {value}: {what}; create it first, or leave "
                                "--workdir out to work in the current directory")
    return path


def run(args: argparse.Namespace) -> int:
    from deepthinker_nb.notebook.live import Session, names_relative_files

    workdir = workdir_arg(args.workdir)
    notebook = Path(args.notebook)
    if args.workdir is None and names_relative_files(notebook):
        # A run's notebook names its files relative to its folder: work there, as Jupyter does.
        workdir = notebook.resolve().parent
        print(f"note: the kernel works in {workdir}, the notebook's folder (its parameters "
              "name files relative to it); --workdir DIR chooses another", file=sys.stderr)
    if workdir.resolve() in (Path.home().resolve(), Path(workdir.anchor)):
        print(f"note: the kernel can read and write everything under {workdir}; a project "
              "dir (cd there, or --workdir DIR) keeps it to that", file=sys.stderr)
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    if terminal:
        import readline  # noqa: F401  (input() edits lines with it once imported)
    reader = CellReader(_terminal_reader if terminal else _stream_reader(sys.stdin),
                        prompts=sys.stdin.isatty())
    session = Session(args.notebook, args.backend, workdir=workdir, timeout=args.timeout,
                      replay=not args.no_replay, scan=not args.no_scan)

    def announce(cells: int) -> None:
        print(f"replaying {cells} cell(s) of {args.notebook} (Ctrl-C stops the replay)",
              file=sys.stderr, flush=True)

    try:
        with cell_interrupts(session):
            session.start(on_replay=announce)
        _report_replay(session, args.notebook)
        _prompt_loop(session, reader, terminal)
    finally:
        session.close()
    print(f"recorded in {args.notebook}", file=sys.stderr)
    return 0


def _prompt_loop(session: Session, reader: CellReader, terminal: bool) -> None:
    armed = False  # the last key at the prompt was Ctrl-C
    while True:
        number = session.next_cell
        try:
            code = reader.read(number)
        except KeyboardInterrupt:
            if armed and not reader.typed:
                print(file=sys.stderr)
                return
            armed = True
            print("\nKeyboardInterrupt " + QUIT_HINT, file=sys.stderr, flush=True)
            continue
        if code is None:
            if terminal:
                print(file=sys.stderr)
            return
        armed = False
        with cell_interrupts(session):
            result = session.run(code, on_stdout=_echo(sys.stdout), on_stderr=_echo(sys.stderr))
        _show(result, session, number if terminal else None)


def _echo(stream: TextIO) -> Callable[[str], None]:
    def write(text: str) -> None:
        stream.write(text)
        stream.flush()
    return write


def _report_replay(session: Session, notebook: str) -> None:
    if not session.replayed and not session.replay_differences:
        return
    differences = session.replay_differences
    line = f"replayed {len(session.replayed)} cell(s) of {notebook}"
    if session.replay_stopped_at is not None:
        line += f"; stopped at cell {session.replay_stopped_at} by Ctrl-C (later cells not run)"
    differ = sum(d.replayed for d in differences)
    skipped = len(differences) - differ
    notes = ([f"{differ} differ{'s' if differ == 1 else ''} from the recording"] if differ
             else []) + ([f"{skipped} not replayed"] if skipped else [])
    line += "; " + (", ".join(notes) + ":" if notes else "results as recorded")
    print(line, file=sys.stderr)
    for difference in differences:
        print(f"  {difference}", file=sys.stderr)


def _show(result: CellResult, session: Session, number: int | None) -> None:
    """What a terminal can show of a cell after its streams: results (``Out[number]``, the
    cell's number in the notebook, at a terminal), texts of displays, the paths of images,
    the error."""
    for output in result.outputs:
        if "image/png" in output.data:
            continue
        if output.output_type == "execute_result":
            prefix = f"Out[{number}]: " if number is not None else ""
            print(prefix + output.text, flush=True)
        elif output.text:
            print(output.text, flush=True)
    for path in session.images:
        print(f"[image saved to {path}]", flush=True)
    if session.images_problem:
        print(f"[images not saved: {session.images_problem}; they are in the notebook]",
              file=sys.stderr, flush=True)
    if result.success:
        return
    if result.status == "error" and result.error is not None:
        text = result.error.traceback_text or str(result.error)
        print(text if sys.stderr.isatty() else strip_ansi(text), file=sys.stderr, flush=True)
        return
    summary = result.summary()
    print(summary, file=sys.stderr)
    for finding in result.findings:
        if finding.message not in summary:
            print(f"  {finding.rule_id} line {finding.line}: {finding.message}", file=sys.stderr)


