"""What of a cell's outputs is a result, as text two runs of the same code can be compared by.

A replayed session and a reproduced run both ask "did this cell give what was recorded?".
Timings, memory addresses, clock times, execution counts, per-kernel file names and temp paths
are not results, and neither are stderr (warnings, progress bars) or the bytes of an image (PNG
encoders and SVG ids vary): they are masked or left out, so a difference is one a reader would
call a different result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from deepthinker_nb.kernel.results import strip_ansi

_VOLATILE = (
    (re.compile(r"0x[0-9a-fA-F]{4,}"), "0x?"),  # memory addresses
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)?\s*(?:ns|us|µs|ms|s|sec|secs|seconds|min)"
                r"(?![\w])"), "<time>"),  # timings
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:?\d{2}|Z)?"),
     "<timestamp>"),
    (re.compile(r"\b\d\d:\d\d:\d\d(?:\.\d+)?"), "<clock>"),  # wall-clock stamps
    (re.compile(r"\b(?:In|Out|Cell In)\s*\[\d*\]"), "[#]"),  # execution counts
    (re.compile(r"ipykernel_\d+/\d+\.py"), "ipykernel.py"),  # per-kernel source files
    (re.compile(r"/tmp/[\w.-]+"), "/tmp/?"),  # temp dirs
)


def normalize_output(text: str) -> str:
    """Text without what changes from run to run of the same code."""
    text = strip_ansi(text)
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text.strip()


def comparable_output(outputs: Sequence[Any]) -> tuple[str | None, str]:
    """(the error's name or None, the normalised text a reader compares: stdout, plain-text
    results and displays, and the kinds of rich displays)."""
    error, parts = None, []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "error":
            error = str(output.get("ename", "Error"))
        elif kind == "stream" and output.get("name") == "stdout":
            parts.append(_text(output.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            rich = sorted(m for m in data if m != "text/plain")
            if "text/plain" in data:
                parts.append(_text(data["text/plain"]))
            elif rich:
                parts.append(f"<{', '.join(rich)}>")
    return error, normalize_output("\n".join(parts))


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


__all__ = ["comparable_output", "normalize_output"]
