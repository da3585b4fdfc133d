"""Compare the outputs of two executions of a notebook, cell by cell, ignoring what is volatile.

A re-run proves a record when every code cell printed the same thing. Timings, memory addresses,
execution counts, temp-dir names and the bytes of images (PNG encoders and SVG ids vary) are
not results; they are masked before comparing, so what differs is what a reader would call a
different result.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode

_VOLATILE = (
    (re.compile(r"0x[0-9a-fA-F]{6,}"), "0x…"),  # object addresses
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ns|µs|us|ms|s|sec|secs|seconds|min)\b"), "<time>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:?\d{2}|Z)?"),
     "<timestamp>"),
    (re.compile(r"/tmp/[\w.-]+"), "/tmp/…"),
)
_TEXT_TYPES = ("text/plain",)


def normalise(text: str) -> str:
    """``text`` with its volatile parts masked."""
    for pattern, mask in _VOLATILE:
        text = pattern.sub(mask, text)
    return text


def cell_output_text(cell: NotebookNode) -> str:
    """What a code cell showed, as comparable text: streams, plain-text results, error name
    and message (not the traceback's frames), and the kinds of rich outputs."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            parts.append(_text(output.get("text", "")))
        elif kind == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}")
        elif kind in ("execute_result", "display_data"):
            data: dict[str, Any] = output.get("data", {})
            plain = [_text(data[m]) for m in _TEXT_TYPES if m in data]
            rich = sorted(m for m in data if m not in _TEXT_TYPES)
            if rich:
                parts.append(f"<{', '.join(rich)}>")
            elif plain:
                parts.append(plain[0])
    return normalise("".join(p if p.endswith("\n") else p + "\n" for p in parts))


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


@dataclass(frozen=True)
class CellDiff:
    """A code cell whose output differs: its 1-based number among code cells and a diff."""

    cell: int
    diff: str

    def summary(self) -> str:
        return f"cell {self.cell} output differs:\n{self.diff}"


def diff_outputs(recorded: NotebookNode, rerun: NotebookNode) -> list[CellDiff]:
    """Code cells (paired in order) whose outputs differ after masking volatile parts; a cell
    present in one notebook only counts as a difference."""
    old = [c for c in recorded.cells if c.get("cell_type") == "code"]
    new = [c for c in rerun.cells if c.get("cell_type") == "code"]
    diffs = []
    for number in range(1, max(len(old), len(new)) + 1):
        before = cell_output_text(old[number - 1]) if number <= len(old) else "<no cell>\n"
        after = cell_output_text(new[number - 1]) if number <= len(new) else "<no cell>\n"
        if before != after:
            lines = difflib.unified_diff(before.splitlines(), after.splitlines(),
                                         "recorded", "re-run", lineterm="", n=1)
            diffs.append(CellDiff(number, "\n".join(list(lines)[:40])))
    return diffs


__all__ = ["CellDiff", "cell_output_text", "diff_outputs", "normalise"]
