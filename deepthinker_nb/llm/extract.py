"""Code and JSON out of a model's reply: reasoning and prose are dropped, never executed."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

THINK = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|$)", re.DOTALL | re.IGNORECASE)
FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
CODE_LANGUAGES = {"", "python", "py", "python3", "ipython"}
CELL_MARK = re.compile(r"^# ?%%.*$", re.MULTILINE)


def strip_reasoning(text: str) -> str:
    """``text`` without ``<think>`` blocks (an unclosed one runs to the end)."""
    return THINK.sub("", text or "").strip()


def code_blocks(text: str) -> list[str]:
    """The Python fenced blocks of a reply, reasoning removed."""
    body = strip_reasoning(text)
    return [m.group(2).strip("\n") for m in FENCE.finditer(body)
            if m.group(1).lower() in CODE_LANGUAGES and m.group(2).strip()]


def prose(text: str, limit: int = 600) -> str:
    """What the reply says outside its code, for the notebook's rationale."""
    words = " ".join(FENCE.sub(" ", strip_reasoning(text)).split())
    return words if len(words) <= limit else words[:limit] + "..."


def split_cells(code: str) -> list[str]:
    """Cells at ``# %%`` markers, else one cell."""
    parts = [p.strip("\n") for p in CELL_MARK.split(code)]
    return [p for p in parts if p.strip()] or [code]


def syntax_error(code: str) -> str | None:
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    return None


def json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object of a reply (fenced or bare), or None."""
    body = strip_reasoning(text)
    candidates = [m.group(2) for m in FENCE.finditer(body)] + [body]
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = json.JSONDecoder().raw_decode(candidate[start:])
            except ValueError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = candidate.find("{", start + 1)
    return None


__all__ = ["code_blocks", "json_object", "prose", "split_cells", "strip_reasoning",
           "syntax_error"]
