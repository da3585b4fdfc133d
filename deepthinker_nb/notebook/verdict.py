"""How a scan verdict and a cell's fate are written into notebook cells.

One format for every road (papermill engine, live recorder, ``exec --output``), so a reader of
``cell.metadata["deepthinker"]`` never has to know which road produced the notebook.
"""

from __future__ import annotations

from typing import Any

from nbformat import NotebookNode, v4

from deepthinker_nb.scanner.findings import BLOCKED_MESSAGE

METADATA_KEY = "deepthinker"
"""Where a cell's fate and a notebook's run facts live: ``cell.metadata["deepthinker"]``."""
ENGINE_NAME = "deepthinker"
"""The papermill engine's name (entry point ``papermill.engine``)."""
SECURITY_ENAME = "SecurityError"


def _finding_dict(finding: Any) -> dict[str, Any]:
    return {
        "rule_id": str(getattr(finding, "rule_id", "?")),
        "severity": str(getattr(finding, "severity", "")),
        "message": str(getattr(finding, "message", "")),
        "line": getattr(finding, "line", None),
        "col": getattr(finding, "col", None),
        "snippet": str(getattr(finding, "snippet", "") or ""),
    }


def scan_metadata(report: Any) -> dict[str, Any]:
    """A JSON-safe verdict: ``off`` (no scan), ``pass`` or ``blocked``, with the findings."""
    if report is None:
        return {"verdict": "off", "blocked": False, "findings": []}
    blocked = bool(getattr(report, "blocked", False))
    findings = [_finding_dict(f) for f in getattr(report, "findings", []) or []]
    severity = getattr(report, "max_severity", None)
    return {
        "verdict": "blocked" if blocked else "pass",
        "blocked": blocked,
        "max_severity": str(severity) if severity is not None else None,
        "findings": findings,
    }


def findings_summary(report: Any) -> str:
    """One line naming each finding: what a reader sees as the SecurityError's value."""
    summary = getattr(report, "summary", None)
    return summary() if callable(summary) else BLOCKED_MESSAGE


def security_error_output(report: Any) -> NotebookNode:
    """The error output a blocked cell gets instead of running."""
    lines = [f"{SECURITY_ENAME}: {findings_summary(report)}"]
    for finding in getattr(report, "findings", []) or []:
        snippet = getattr(finding, "snippet", "") or ""
        lines.append(
            f"  [{getattr(finding, 'rule_id', '?')}] {getattr(finding, 'severity', '')} at line "
            f"{getattr(finding, 'line', '?')}: {getattr(finding, 'message', '')}"
            + (f"\n      {snippet}" if snippet else "")
        )
    return v4.new_output(
        "error", ename=SECURITY_ENAME, evalue=findings_summary(report), traceback=lines
    )

