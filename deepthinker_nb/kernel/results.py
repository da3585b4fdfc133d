"""Typed results of one executed cell, displayable in a notebook."""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "error", "timeout", "died", "blocked"]
TimeoutAction = Literal["interrupted", "restarted"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str) -> str:
    """Tracebacks come coloured from IPython; results hold plain text."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class ErrorInfo:
    """An exception raised by the cell (or the reason the cell could not finish)."""

    ename: str
    evalue: str
    traceback: list[str] = field(default_factory=list)

    @property
    def traceback_text(self) -> str:
        return "\n".join(self.traceback)

    def __str__(self) -> str:
        return f"{self.ename}: {self.evalue}"


@dataclass(frozen=True)
class RichOutput:
    """One ``execute_result`` or ``display_data`` message: a mime bundle and its metadata.

    ``stdout_offset`` / ``stderr_offset`` remember how much stream text had arrived before this
    output, so a notebook can interleave streams and displays exactly as they happened.
    """

    output_type: Literal["execute_result", "display_data"]
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    execution_count: int | None = None
    stdout_offset: int = 0
    stderr_offset: int = 0
    display_id: str | None = None
    """The id a later ``update_display_data`` names to redraw this output in place."""

    @property
    def text(self) -> str:
        return str(self.data.get("text/plain", ""))

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.data, self.metadata


@dataclass
class CellResult:
    """What happened when one cell ran: status, streams, rich outputs, error, timing."""

    status: Status
    code: str = ""
    execution_count: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: list[RichOutput] = field(default_factory=list)
    error: ErrorInfo | None = None
    duration: float = 0.0
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    outputs_truncated: bool = False
    dropped_bytes: dict[str, int] = field(default_factory=dict)
    """Bytes dropped per stream (``stdout``, ``stderr``, ``outputs``) by the output caps."""
    timeout_action: TimeoutAction | None = None
    """After a timeout: ``interrupted`` (state kept) or ``restarted`` (state lost)."""
    death_reason: str | None = None
    restarted: bool = False
    """The session restarted its kernel after this cell (death or hard timeout)."""
    scan_report: Any = None
    """The scanner's ScanReport for this cell (None when scanning was off)."""

    @property
    def success(self) -> bool:
        return self.status == "ok"

    @property
    def truncated(self) -> bool:
        return self.stdout_truncated or self.stderr_truncated or self.outputs_truncated

    @property
    def findings(self) -> list[Any]:
        return list(getattr(self.scan_report, "findings", []) or [])

    @property
    def result(self) -> RichOutput | None:
        """The cell's ``execute_result`` (the value of its last expression), if any."""
        for output in self.outputs:
            if output.output_type == "execute_result":
                return output
        return None

    def summary(self) -> str:
        """One line: status, duration and the reason where it did not succeed."""
        line = f"{self.status} in {self.duration:.3f}s"
        if self.error is not None:
            line += f": {self.error}"
        if self.death_reason and (self.error is None or self.death_reason not in str(self.error)):
            line += f" ({self.death_reason})"
        if self.timeout_action:
            line += f" [{self.timeout_action}]"
        return line

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        report = self.scan_report
        data["scan_report"] = report.to_dict() if hasattr(report, "to_dict") else None
        return data

    # -- notebook display -------------------------------------------------------------------
    _COLOURS = {"ok": "#1a7f37", "error": "#cf222e", "timeout": "#9a6700", "died": "#8250df",
                "blocked": "#cf222e"}

    def _repr_markdown_(self) -> str:
        parts = [f"**{self.status}** · {self.duration * 1000:.1f} ms"
                 + (f" · `[{self.execution_count}]`" if self.execution_count else "")]
        if self.death_reason:
            parts.append(f"kernel died: {self.death_reason}")
        if self.timeout_action:
            parts.append(f"timeout: kernel {self.timeout_action}")
        if self.stdout:
            parts.append("stdout:\n```\n" + _clip(self.stdout) + "\n```")
        if self.stderr:
            parts.append("stderr:\n```\n" + _clip(self.stderr) + "\n```")
        if self.error is not None:
            parts.append(f"```\n{_clip(self.error.traceback_text or str(self.error))}\n```")
        for finding in self.findings:
            rule, message = getattr(finding, "rule_id", "?"), getattr(finding, "message", "")
            parts.append(f"- `{rule}` {message}")
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        colour = self._COLOURS.get(self.status, "#57606a")
        rows = [
            f'<div style="font-family:monospace"><span style="color:{colour};font-weight:bold">'
            f"{html.escape(self.status)}</span> · {self.duration * 1000:.1f} ms"
            + (f" · [{self.execution_count}]" if self.execution_count else "")
            + "</div>"
        ]
        for label, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text:
                rows.append(f"<details open><summary>{label}</summary><pre>"
                            f"{html.escape(_clip(text))}</pre></details>")
        for output in self.outputs:
            if "image/png" in output.data:
                rows.append(f'<img src="data:image/png;base64,{output.data["image/png"]}"/>')
            elif "text/html" in output.data:
                rows.append(str(output.data["text/html"]))
            else:
                rows.append(f"<pre>{html.escape(_clip(output.text))}</pre>")
        if self.error is not None:
            rows.append(f'<pre style="color:{colour}">'
                        f"{html.escape(_clip(self.error.traceback_text or str(self.error)))}</pre>")
        if self.death_reason:
            rows.append(f"<div>kernel died: {html.escape(self.death_reason)}</div>")
        if self.findings:
            items = "".join(
                f"<li><code>{html.escape(str(getattr(f, 'rule_id', '?')))}</code> "
                f"{html.escape(str(getattr(f, 'message', '')))}</li>"
                for f in self.findings
            )
            rows.append(f"<ul>{items}</ul>")
        return "\n".join(rows)


def _clip(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more chars)"
