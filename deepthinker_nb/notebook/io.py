"""Notebook files on disk: atomic writes (a reader or a crash never sees half a notebook or
manifest) and reads that treat the file as something a kernel may have tampered with."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat

from deepthinker_nb.untrusted import StrPath, UntrustedFileError, read_untrusted_text

NOTEBOOK_MAX_BYTES = 256 * 1024 * 1024
"""The largest notebook the host reads back (outputs are capped per cell, so runs stay far
below this)."""


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` would, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to a temp file in the same directory, fsync it, then ``os.replace`` it.

    The file gets the mode a plain ``open()`` would give (``0o666`` less the umask), not the
    temp file's private ``0o600``: every file of a run dir has one mode."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
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


def read_notebook(path: StrPath, *, root: StrPath | None = None,
                  max_bytes: int = NOTEBOOK_MAX_BYTES) -> nbformat.NotebookNode:
    """Read a notebook the host wrote earlier (an executed or recorded notebook, possibly in a
    kernel's working dir) as untrusted: a link, a special or an oversized file is refused (see
    ``deepthinker_nb.untrusted``), and a file that is not a notebook is an error that does not
    quote it (nbformat's own errors do)."""
    text = read_untrusted_text(path, root=root, max_bytes=max_bytes)
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for bad JSON or schema
        raise UntrustedFileError(path, "invalid", f"not a valid notebook ({type(exc).__name__})"
                                 ) from None
