"""Atomic file writes: a reader (or a crash) never sees half a notebook or manifest."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to a temp file in the same directory, fsync it, then ``os.replace`` it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def write_notebook(nb: nbformat.NotebookNode, path: str | os.PathLike[str]) -> Path:
    """Validate-free atomic write of a notebook (callers validate where it matters)."""
    return atomic_write_text(path, nbformat.writes(nb, version=4))


def read_notebook(path: str | os.PathLike[str]) -> nbformat.NotebookNode:
    return nbformat.read(os.fspath(path), as_version=4)
