"""IPython syntax: turn a cell into the Python the kernel will really run.

IPython rewrites ``!cmd``, ``%magic`` and ``%%cell`` syntax into ordinary calls
(``get_ipython().system(...)``, ``run_line_magic(name, args)``, ``run_cell_magic(name, line,
body)``) before compiling. Scanning the transformed code means the scanner sees exactly what the
kernel executes, and IPython syntax becomes calls the visitor can reason about; magics.py judges
the magics those calls name.
"""

from __future__ import annotations

import re
import threading

_local = threading.local()

# A cell needs IPython's transformer only if some line starts with an escape (!, %, ?), ends with
# ? (help), or looks like a pasted prompt. Everything else is plain Python and skips the
# (comparatively slow) transformer.
_HINT = re.compile(r"^[ \t]*(?:[!%?]|>>>|In \[)|\?[ \t]*$|^[^#'\"\n]*=[ \t]*[!%]",
                   re.MULTILINE)


def needs_transform(code: str) -> bool:
    """True when ``code`` may contain IPython syntax (cheap substring, then regex pre-check)."""
    if "!" not in code and "%" not in code and "?" not in code and ">>>" not in code and (
            "In [" not in code):
        return False
    return _HINT.search(code) is not None


def _manager():
    manager = getattr(_local, "manager", None)
    if manager is None:
        from IPython.core.inputtransformer2 import TransformerManager

        manager = TransformerManager()
        _local.manager = manager
    return manager


def transform(code: str) -> str:
    """The Python IPython would compile for ``code`` (one cached manager per thread).

    Same result as ``TransformerManager.transform_cell``, run step by step: when the line
    transforms turn the cell into a single ``run_cell_magic(...)`` call, the token transforms
    (which re-tokenize the whole, possibly long, line) cannot change it and are skipped. The
    token-transform loop is IPython's, except that a round which provably finds nothing
    (``_tokens_idle``) is not run: that is usually the last one, which re-tokenizes the
    rewritten cell only to find that nothing is left to rewrite.
    """
    manager = _manager()
    try:
        steps = manager.cleanup_transforms + manager.line_transforms
        one_token_transform = manager.do_one_token_transform
        from IPython.core.inputtransformer2 import TRANSFORM_LOOP_LIMIT, EscapedCommand
    except (AttributeError, ImportError):  # pragma: no cover - a future IPython
        return manager.transform_cell(code)
    cell = code if code.endswith("\n") else code + "\n"
    lines = cell.splitlines(keepends=True)
    for step in steps:
        lines = step(lines)
    if len(lines) == 1 and lines[0].startswith(_CELL_MAGIC_CALL) and lines[0].endswith(")\n"):
        return lines[0]
    rounds = TRANSFORM_LOOP_LIMIT
    if len(lines) == 1 and lines[0][:1] in ("!", "%") and "=" not in lines[0] and (
            "?" not in lines[0]):
        # A one-line "!cmd" or "%magic": its first token is that "!" or "%" (with no "=" it
        # cannot be "!=" or "%="), so EscapedCommand at (1, 0) is the only transformer the
        # first round could find: the others need a "?" or an "=". Apply it untokenized.
        lines = EscapedCommand((1, 0)).transform(lines)
        rounds -= 1
    for _ in range(rounds):
        if _tokens_idle(lines):
            return "".join(lines)
        changed, lines = one_token_transform(lines)
        if not changed:
            return "".join(lines)
    raise RuntimeError("Input transformation still changing after "
                       f"{TRANSFORM_LOOP_LIMIT} iterations. Aborting.")


# A line (physical, or after a newline inside one) that starts with an IPython escape.
_ESCAPE_AT_LINE_START = re.compile(r"^[ \t\f]*[!?%,;/]", re.MULTILINE)


def _tokens_idle(lines: list[str]) -> bool:
    """True when IPython's token transformers provably find nothing in ``lines``.

    Each transformer needs a one-character token that is in the text: ``?`` (help),
    ``%`` or ``!`` after a top-level ``=`` (magic and system assignments), or an escape
    (``! ? % , ; /``) as the first token of a logical line, which begins a line of
    ``lines`` or follows a newline. Tokenizing can also raise IndentationError, which
    needs an indented line; cells with one are left to IPython.
    """
    text = "".join(lines)
    if "?" in text or ("=" in text and ("%" in text or "!" in text)):
        return False
    for line in lines:
        if line[:1] in (" ", "\t", "\f") or _ESCAPE_AT_LINE_START.search(line):
            return False
    return True


_CELL_MAGIC_CALL = "get_ipython().run_cell_magic("
