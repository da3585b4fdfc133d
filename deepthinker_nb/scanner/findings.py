"""Findings and the scan report, with dict / SARIF / text / HTML / Markdown renderings."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import DeepThinkerError
from .rules import RULES
from .severity import Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "deepthinker-nb-scanner"
BLOCKED_MESSAGE = "cell blocked by the security scanner"
SYNTAX_RULE = "syntax-error"
"""The rule of a cell that does not parse: a mistake to fix, not a danger (it still blocks)."""


@dataclass(frozen=True, order=False)
class Finding:
    """One policy violation: which rule, how bad, where (1-based line, 0-based col) and why."""

    rule_id: str
    severity: Severity
    message: str
    line: int = 1
    col: int = 0
    snippet: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": str(self.severity),
            "message": self.message,
            "line": self.line,
            "col": self.col,
            "snippet": self.snippet,
        }


def snippet_of(lines: list[str], line: int) -> str:
    """The snippet shown with a finding: its source line (1-based), stripped and capped."""
    return lines[line - 1].strip()[:160] if 0 < line <= len(lines) else ""


def _sort_key(f: Finding) -> tuple[int, int, int, str]:
    return (f.line, f.col, -f.severity.value, f.rule_id)


@dataclass
class ScanReport:
    """The findings for one cell; ``blocked`` says whether the policy stops it."""

    findings: list[Finding] = field(default_factory=list)
    block_at: Severity = Severity.HIGH
    source: str = ""
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        self.findings = sorted(self.findings, key=_sort_key)

    # -- verdicts ---------------------------------------------------------------------------
    @property
    def max_severity(self) -> Severity | None:
        """The worst severity found, or None for a clean cell."""
        return max((f.severity for f in self.findings), default=None)

    @property
    def blocked(self) -> bool:
        """True when any finding is at or above the policy's ``block_at``."""
        return any(f.severity >= self.block_at for f in self.findings)

    def has_critical(self) -> bool:
        """Seed API: True when any finding is critical."""
        return any(f.severity is Severity.CRITICAL for f in self.findings)

    def at_or_above(self, severity: Severity | str) -> list[Finding]:
        """Findings at or above ``severity``."""
        threshold = Severity.parse(severity)
        return [f for f in self.findings if f.severity >= threshold]

    @property
    def syntax_error(self) -> Finding | None:
        """The syntax error, when not parsing is all that blocks the cell: a mistake to
        report as such (line and column), not as a security block."""
        blocking = self.at_or_above(self.block_at)
        if blocking and all(f.rule_id == SYNTAX_RULE for f in blocking):
            return blocking[0]
        return None

    @property
    def rule_ids(self) -> set[str]:
        return {f.rule_id for f in self.findings}

    def __bool__(self) -> bool:
        # A report is truthy when it found something, so ``if scanner.scan(code):`` reads well.
        return bool(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __iter__(self):
        return iter(self.findings)

    # -- renderings -------------------------------------------------------------------------
    def summary(self, limit: int = 5) -> str:
        """One line naming why the cell was blocked: the blocking findings first. Every road
        (sessions, notebooks, ``SecurityError``) shows a blocked cell with this line."""
        syntax = self.syntax_error
        if syntax is not None:
            return f"syntax error at line {syntax.line}, column {syntax.col + 1}: {syntax.message}"
        worst = self.at_or_above(self.block_at) or self.findings
        if not worst:
            return BLOCKED_MESSAGE
        parts = "; ".join(f"line {f.line}: {f.rule_id} ({f.severity}): {f.message}"
                          for f in worst[:limit])
        more = f" (+{len(worst) - limit} more)" if len(worst) > limit else ""
        return f"{BLOCKED_MESSAGE}: {parts}{more}"

    def to_dict(self) -> dict[str, Any]:
        worst = self.max_severity
        return {
            "blocked": self.blocked,
            "block_at": str(self.block_at),
            "max_severity": str(worst) if worst else None,
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def to_sarif(self, uri: str = "cell.py") -> dict[str, Any]:
        """A SARIF 2.1.0 log with one run; ``uri`` names the artifact the lines refer to."""
        return sarif_log([(uri, self)])

    def to_text(self, location: str = "cell") -> str:
        """One line per finding: ``location:line:col: severity rule-id message``."""
        if not self.findings:
            return f"{location}: clean"
        lines = [
            f"{location}:{f.line}:{f.col + 1}: {f.severity} {f.rule_id}: {f.message}"
            for f in self.findings
        ]
        verdict = "BLOCKED" if self.blocked else "allowed"
        lines.append(f"{location}: {verdict} ({len(self.findings)} finding(s), "
                     f"max {self.max_severity}, block at {self.block_at})")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        if not self.findings:
            return "**Security scan: clean** ✅"
        verdict = "**Security scan: BLOCKED** ⛔" if self.blocked else "**Security scan: allowed**"
        rows = ["| line | severity | rule | message |", "|---|---|---|---|"]
        for f in self.findings:
            msg = f.message.replace("|", "\\|")
            rows.append(f"| {f.line} | {f.severity} | `{f.rule_id}` | {msg} |")
        return verdict + "\n\n" + "\n".join(rows)

    def _repr_html_(self) -> str:
        esc = html.escape
        if not self.findings:
            return "<div><b>Security scan: clean</b></div>"
        title = "BLOCKED" if self.blocked else "allowed"
        rows = "".join(
            f"<tr><td>{f.line}</td><td>{esc(str(f.severity))}</td><td><code>{esc(f.rule_id)}"
            f"</code></td><td>{esc(f.message)}</td><td><code>{esc(f.snippet)}</code></td></tr>"
            for f in self.findings
        )
        return (
            f"<div><b>Security scan: {title}</b> (block at {esc(str(self.block_at))})"
            "<table><thead><tr><th>line</th><th>severity</th><th>rule</th><th>message</th>"
            f"<th>code</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        worst = self.max_severity
        return (f"ScanReport(blocked={self.blocked}, findings={len(self.findings)}, "
                f"max_severity={worst})")


def sarif_log(reports: Iterable[tuple[str, ScanReport]]) -> dict[str, Any]:
    """One SARIF log for several artifacts (e.g. the cells of a notebook)."""
    rules = [
        {
            "id": rule.id,
            "name": rule.title,
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.why},
            "defaultConfiguration": {"level": rule.severity.sarif_level},
            "properties": {"severity": str(rule.severity)},
        }
        for rule in RULES.values()
    ]
    index = {rule_id: i for i, rule_id in enumerate(RULES)}
    results = []
    for uri, report in reports:
        for f in report.findings:
            result: dict[str, Any] = {
                "ruleId": f.rule_id,
                "level": f.severity.sarif_level,
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": max(1, f.line), "startColumn": f.col + 1,
                                   "snippet": {"text": f.snippet}},
                    }
                }],
                "properties": {"severity": str(f.severity)},
            }
            if f.rule_id in index:
                result["ruleIndex"] = index[f.rule_id]
            results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL_NAME, "informationUri":
                                "https://github.com/deepthinker-nb/deepthinker-nb",
                                "rules": rules}},
            "results": results,
        }],
    }


class SecurityError(DeepThinkerError):
    """A cell was blocked by the scanner; ``.report`` carries the findings.

    Accepts a ScanReport or, for the seed API, a plain message.
    """

    def __init__(self, report: ScanReport | str | None = None) -> None:
        if isinstance(report, ScanReport):
            self.report: ScanReport | None = report
            message = report.summary(limit=3)
        else:
            self.report = None
            message = report or BLOCKED_MESSAGE
        super().__init__(message)
