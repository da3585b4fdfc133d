"""Naming a run: one resolver shared by every command that takes a RUN argument.

A run is named by its id (a directory under ``--dir``, default ``runs``), by a unique prefix of
an id, or by the path of its directory. Every command resolves the name here so that all of them
accept the same names and fail with the same one-line message.
"""

from __future__ import annotations

import os
from pathlib import Path

from deepthinker_nb.errors import DeepThinkerError

DEFAULT_RUNS_DIR = "runs"
"""The default of ``deepthinker-nb run --out`` and of every ``--dir``."""
MANIFEST_NAME = "manifest.json"


class RunNotFoundError(DeepThinkerError, LookupError):
    """A RUN argument names no run (or more than one); the message says how to list runs."""


def is_run_dir(path: Path) -> bool:
    """A run directory is a directory holding a ``manifest.json`` (readable or not)."""
    try:
        return path.is_dir() and (path / MANIFEST_NAME).is_file()
    except OSError:
        return False


def run_dirs(runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR) -> list[Path]:
    """The run directories directly under ``runs_dir``, sorted by name (absent dir: none)."""
    root = Path(runs_dir)
    try:
        children = list(root.iterdir())
    except OSError:
        return []
    return sorted((child for child in children if is_run_dir(child)), key=lambda p: p.name)


def _hint(runs_dir: Path) -> str:
    return f"list runs with: deepthinker-nb runs --dir {runs_dir}"


def resolve_run(name: str | os.PathLike[str],
                runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR) -> Path:
    """The absolute directory of the run ``name``: a run id under ``runs_dir``, the path of a
    run directory (absolute or relative to the cwd), or a unique prefix of a run id.

    Raises :class:`RunNotFoundError` (one line, naming ``--dir``) when nothing or more than one
    run matches.
    """
    text = os.fspath(name).strip()
    root = Path(runs_dir)
    if not text:
        raise RunNotFoundError(f"no run named: give a run id or a run directory; {_hint(root)}")
    by_id = root / text
    if os.sep not in text and (os.altsep is None or os.altsep not in text) and is_run_dir(by_id):
        return by_id.resolve()
    as_path = Path(text).expanduser()
    if is_run_dir(as_path):
        return as_path.resolve()
    if as_path.is_dir() and (as_path.is_absolute() or os.sep in text):
        raise RunNotFoundError(
            f"{text} is not a run directory (it has no {MANIFEST_NAME}); {_hint(root)}")
    matches = [p for p in run_dirs(root) if p.name.startswith(text)] if os.sep not in text else []
    if len(matches) == 1:
        return matches[0].resolve()
    if matches:
        shown = ", ".join(p.name for p in matches[:4]) + (", ..." if len(matches) > 4 else "")
        raise RunNotFoundError(
            f"run {text!r} is ambiguous in --dir {root} ({len(matches)} runs: {shown}); "
            "give more of the id")
    raise RunNotFoundError(
        f"no run {text!r} in --dir {root} (nor a run directory at that path); {_hint(root)}")
