"""SecurityScanner: the facade that turns a cell (or a notebook) into a ScanReport.

It never raises on cell input: unparseable cells become a ``syntax-error`` finding and internal
failures a ``scanner-error`` finding, both blocking (fail closed).
"""

from __future__ import annotations

import ast
import json
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cells import Cell, notebook_cells, parse_cells, split_percent
from ..errors import DeepThinkerError
from . import ipython as ipy
from .code_checks import check_lookalikes
from .envindex import EnvIndex, default_index
from .findings import Finding, ScanReport, SecurityError, snippet_of
from .policy import ScanPolicy
from .severity import Severity
from .tables import Danger
from .visitor import CellState, CellVisitor, TooDeep

_CELL_MAGIC_START = "get_ipython().run_cell_magic("


@dataclass(frozen=True)
class CellReport:
    """The report for one cell of a notebook or ``# %%`` file (``index`` counts from 0)."""

    index: int
    source: str
    report: ScanReport
    line_offset: int = 0  # line of the cell's first line in a .py file, minus one


class SecurityScanner:
    """Static checker for generated cells: ``scan(code) -> ScanReport``.

    Construct once and reuse: it caches rule lookups per qualified name, and IPython's input
    transformer is cached per thread.
    """

    def __init__(self, policy: ScanPolicy | None = None,
                 env_index: EnvIndex | Callable[[], EnvIndex] = default_index) -> None:
        self.policy = policy if policy is not None else ScanPolicy()
        if not isinstance(self.policy, ScanPolicy):
            raise TypeError(f"policy must be a ScanPolicy, got {type(self.policy).__name__}")
        self._danger_cache: dict = {}
        # The installed functions that start processes or open sockets (envindex.py): an
        # index, or what provides it on first use (by default the environment's own, loaded
        # from the cache or built).
        self._env_index: EnvIndex | None = env_index if isinstance(env_index, EnvIndex) else None
        self._env_provider = env_index
        self._last_report: ScanReport | None = None

    def _env_lookup(self, qual: str) -> Danger | None:
        index = self._env_index
        if index is None:
            index = self._env_index = self._env_provider()  # type: ignore[operator]
        return index.lookup(qual)

    # -- public API -----------------------------------------------------------------------
    def session(self) -> ScanSession:
        """A scanner for consecutive cells of one notebook or kernel: aliases
        (``import os as o``), constants and files written in earlier cells carry over."""
        return ScanSession(self)

    def scan(self, code: str) -> ScanReport:
        """Scan one cell on its own. Never raises; failures become blocking findings."""
        report = self._last_report = self._scan(code, None)
        return report

    # The original DeepThinker's names, kept so that ported code runs unchanged.
    def scan_code(self, code: str) -> ScanReport:
        """DeepThinker's name for :meth:`scan`."""
        return self.scan(code)

    def is_safe(self, code: str) -> bool:
        """True when the policy lets ``code`` run: no finding at or above ``block_at``."""
        return not self.scan(code).blocked

    def get_report(self, report: ScanReport | Iterable[Finding] | None = None) -> str:
        """A readable text report (one line per finding, then the verdict) of ``report`` (a
        ScanReport, or DeepThinker's list of issues), else of this scanner's last
        :meth:`scan`. A scanner shared between threads should be given the report."""
        if report is None:
            report = self._last_report
            if report is None:
                raise DeepThinkerError("get_report: nothing scanned yet; call scan(code) first "
                                       "or pass the report")
        elif not isinstance(report, ScanReport):
            report = ScanReport(list(report), self.policy.block_at)
        return report.to_text()

    def _scan(self, code: str, session: ScanSession | None) -> ScanReport:
        start = time.perf_counter()
        source = code
        try:
            if isinstance(code, (bytes, bytearray)):
                source = bytes(code).decode("utf-8", "replace")
            elif not isinstance(code, str):
                raise TypeError(f"cell source must be str, got {type(code).__name__}")
            findings = self._scan_source(source, 0, True, session)
            findings = self._with_snippets(findings, source)
        except Exception as exc:  # fail closed on anything, including RecursionError
            findings = [Finding("scanner-error", Severity.HIGH,
                                f"the scanner failed ({type(exc).__name__}: {str(exc)[:200]}); "
                                "the cell is blocked", 1, 0)]
        return ScanReport(findings, self.policy.block_at, source if isinstance(source, str)
                          else "", time.perf_counter() - start)

    def check(self, code: str) -> ScanReport:
        """Scan and raise SecurityError when the policy blocks the cell."""
        report = self.scan(code)
        if report.blocked:
            raise SecurityError(report)
        return report

    def scan_notebook(self, notebook: Any) -> list[CellReport]:
        """Scan every code cell of a notebook (path, JSON text, dict or nbformat node)."""
        if isinstance(notebook, (str, Path)) and not str(notebook).lstrip().startswith("{"):
            notebook = Path(notebook).read_text(encoding="utf-8")
        if isinstance(notebook, str):
            notebook = json.loads(notebook)
        return self.scan_cells(notebook_cells(notebook))

    def scan_file(self, path: str | Path) -> list[CellReport]:
        """Scan a ``.ipynb`` (code cells) or a ``.py`` file split on ``# %%`` lines."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        return self.scan_cells(parse_cells(text, notebook=path.suffix == ".ipynb"))

    def scan_cells(self, cells: Iterable[Cell]) -> list[CellReport]:
        """Scan, in one session, the cells whose text can run (cells_to_scan)."""
        session = self.session()
        return [CellReport(cell.index, cell.source, session.scan(cell.source), cell.line_offset)
                for cell in cells_to_scan(cells)]

    # -- internals ------------------------------------------------------------------------
    def _scan_source(self, code: str, depth: int, ipython: bool,
                     session: ScanSession | None = None) -> list[Finding]:
        py = code
        transformed = False
        if ipython and ipy.needs_transform(code):
            py, transformed = self._transform(code)
        try:
            tree = _parse(py)
        except SyntaxError as exc:
            if ipython and not transformed:
                py, transformed = self._transform(code)
                try:
                    tree = _parse(py)
                except SyntaxError as exc2:
                    return [_syntax_finding(exc2)]
            else:
                return [_syntax_finding(exc)]
        except ValueError as exc:
            return [Finding("syntax-error", Severity.HIGH, f"cell does not parse: {exc}", 1, 0)]
        except (RecursionError, MemoryError):
            return [Finding("scanner-error", Severity.HIGH,
                            "cell is too deeply nested or too large to parse", 1, 0)]
        line_base = 0
        if transformed and py.startswith(_CELL_MAGIC_START):
            stripped = code.lstrip("\n\r \t")
            line_base = code[: len(code) - len(stripped)].count("\n") + 1
        visitor = CellVisitor(self.policy, self._scan_source, depth, self._danger_cache,
                              line_base, session.state if session is not None else None,
                              self._env_lookup)
        visitor.collect_ids = not code.isascii()
        try:
            findings = visitor.run(tree)
        except (TooDeep, RecursionError):
            return [Finding("scanner-error", Severity.HIGH,
                            f"cell is nested deeper than {self.policy.max_ast_depth} levels; "
                            "too deep to analyse", 1, 0)]
        if session is not None:
            session.state = visitor.state()
        findings += check_lookalikes(code, visitor.identifiers)
        if line_base:
            findings = [f if f.line != 1 or f.rule_id == "unicode-lookalike" else
                        Finding(f.rule_id, f.severity, f.message, line_base, f.col)
                        for f in findings]
        return findings

    @staticmethod
    def _transform(code: str) -> tuple[str, bool]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ipy.transform(code), True
        except Exception:  # IPython may choke on odd input: parse it raw then
            return code, False

    @staticmethod
    def _with_snippets(findings: list[Finding], source: str) -> list[Finding]:
        """Each finding with its source line, added here once for every kind of finding."""
        if not findings:
            return findings
        lines = source.splitlines()
        return [Finding(f.rule_id, f.severity, f.message, f.line, f.col, snippet_of(lines, f.line))
                for f in findings]


class ScanSession:
    """Scans the cells of one notebook or kernel in order, remembering earlier cells.

    A cell that calls ``run("id")`` after an earlier cell bound ``run = os.system`` is caught,
    and ``joblib.load("model.joblib")`` passes when an earlier cell dumped that file. Blocked
    cells still contribute their bindings: the kernel never ran them, but keeping them is the
    cautious choice.
    """

    def __init__(self, scanner: SecurityScanner) -> None:
        self.scanner = scanner
        self.state: CellState | None = None

    def scan(self, code: str) -> ScanReport:
        return self.scanner._scan(code, self)


def _parse(code: str) -> ast.Module:
    if "\\" not in code:
        # Without a backslash there is no invalid-escape warning to silence, and
        # catch_warnings() would cost a third of the parse time.
        return compile(code, "<cell>", "exec", ast.PyCF_ONLY_AST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile(code, "<cell>", "exec", ast.PyCF_ONLY_AST)


def _syntax_finding(exc: SyntaxError) -> Finding:
    """Python's own words for the mistake, where it is (``offset`` is 1-based, ``col`` not)."""
    return Finding("syntax-error", Severity.HIGH,
                   f"{exc.msg} (fix the cell: code that does not parse cannot be checked)",
                   exc.lineno or 1, max(0, (exc.offset or 1) - 1))


def cells_to_scan(cells: Iterable[Cell]) -> list[Cell]:
    """The cells whose text can run: a notebook's code cells, and every cell of a ``# %%``
    script, markdown ones included, since the script can also run as plain Python."""
    return [cell for cell in cells if cell.kind == "code" or cell.in_script]


def split_py_cells(text: str) -> list[tuple[str, int]]:
    """Split a ``# %%`` percent-format file into (cell source, line offset) pairs."""
    return [(cell.source, cell.line_offset) for cell in split_percent(text)]
