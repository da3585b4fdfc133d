"""Scanning files for the CLI: ``.py`` (cells split on ``# %%``), ``.ipynb`` and stdin.

Kept apart from the scanner so that the command-line module stays a thin shell and other
callers (pre-commit hooks, CI) can reuse the same loading and rendering.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..cells import CellReadError, parse_cells, read_cells
from ..errors import DeepThinkerError
from .findings import Finding, ScanReport, sarif_log
from .scanner import SecurityScanner, cells_to_scan
from .severity import Severity


class ScanInputError(DeepThinkerError):
    """A path to scan is missing, unreadable or not a valid notebook; the message says which."""


@dataclass
class CellResult:
    """One scanned cell: where it came from and its report (lines are file lines)."""

    path: str
    cell: int
    """The cell's number as users count (1-based, among all cells of a notebook), as ``exec``
    shows it."""
    line_offset: int
    report: ScanReport


@dataclass
class BatchResult:
    cells: list[CellResult] = field(default_factory=list)

    def findings_at_or_above(self, severity: Severity) -> list[tuple[CellResult, Finding]]:
        return [(c, f) for c in self.cells for f in c.report.findings if f.severity >= severity]


def load_cells(path: str, stdin: TextIO | None = None) -> list[tuple[int, str, int]]:
    """(0-based cell index, source, line offset) for each cell of ``path`` ("-" is stdin) that can
    run (scanner.cells_to_scan)."""
    if path == "-":
        cells = parse_cells((stdin or sys.stdin).read())
    else:
        try:
            cells = read_cells(path)
        except CellReadError as exc:
            raise ScanInputError(f"{path}: {exc}")
    return [(cell.index, cell.source, cell.line_offset) for cell in cells_to_scan(cells)]


def scan_paths(paths: list[str], scanner: SecurityScanner,
               stdin: TextIO | None = None) -> BatchResult:
    """Scan every cell of every path; raises ScanInputError before scanning on bad input."""
    loaded = [(path, load_cells(path, stdin)) for path in paths]
    result = BatchResult()
    for path, cells in loaded:
        session = scanner.session()  # cells of one file share imports and aliases
        for index, source, offset in cells:
            result.cells.append(CellResult(path, index + 1, offset, session.scan(source)))
    return result


def render_text(result: BatchResult, fail_on: Severity) -> str:
    lines = []
    for c in result.cells:
        for f in c.report.findings:
            mark = "!" if f.severity >= fail_on else " "
            lines.append(f"{mark} {c.path}:{c.line_offset + f.line}:{f.col + 1}: cell {c.cell} "
                         f"[{f.severity}] {f.rule_id}: {f.message}")
    failing = result.findings_at_or_above(fail_on)
    total = sum(len(c.report.findings) for c in result.cells)
    lines.append(f"scanned {len(result.cells)} cell(s): {total} finding(s), {len(failing)} at or "
                 f"above {fail_on}")
    return "\n".join(lines)


def render_json(result: BatchResult, fail_on: Severity) -> str:
    return json.dumps({
        "fail_on": str(fail_on),
        "failed": bool(result.findings_at_or_above(fail_on)),
        "cells": [{"path": c.path, "cell": c.cell, "line_offset": c.line_offset,
                   **c.report.to_dict()} for c in result.cells],
    }, indent=2)


def render_sarif(result: BatchResult) -> str:
    shifted = []
    for c in result.cells:
        findings = [Finding(f.rule_id, f.severity, f"cell {c.cell}: {f.message}",
                            f.line + c.line_offset, f.col, f.snippet)
                    for f in c.report.findings]
        uri = "stdin" if c.path == "-" else Path(c.path).as_posix()
        shifted.append((uri, ScanReport(findings, c.report.block_at)))
    return json.dumps(sarif_log(shifted), indent=2)
