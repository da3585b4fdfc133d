"""Notebooks that can move: file paths in parameters cells relative to the notebook's folder.

A run directory is copied, moved, zipped and opened on other machines. Jupyter starts a
notebook's kernel in the notebook's folder, so a parameter ``DATA_PATH = '../data/train.csv'``
resolves wherever the folder goes, where ``'/home/alice/runs/r1/data/train.csv'`` breaks.

The convention: a *parameters cell* is a code cell tagged ``parameters`` (papermill's),
``injected-parameters`` or ``scenario-parameters`` (a simulation's sections) made only of
``NAME = <literal>`` lines; its *path parameters* are the names ending in ``_PATH`` or
``_DIR`` with a string value. Execution needs absolute paths (a kernel's working dir is not
the notebook's folder): :func:`absolute_paths` resolves them before a run,
:func:`relative_paths` writes them back afterwards. Only paths inside ``root`` (the run dir)
are made relative; any other path is the user's and stays.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from deepthinker_nb.notebook.builder import parameters_source

PATH_SUFFIXES = ("_PATH", "_DIR")
PARAMETER_TAGS = frozenset({"parameters", "injected-parameters", "scenario-parameters"})


def parameter_cells(nb: NotebookNode) -> list[tuple[NotebookNode, dict[str, Any]]]:
    """Each parameters cell of ``nb`` with its assignments in order (see the module doc)."""
    found = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", ()))
        if cell.get("cell_type") != "code" or not tags & PARAMETER_TAGS:
            continue
        values = _literal_assignments(str(cell.get("source", "")))
        if values:
            found.append((cell, values))
    return found


def _literal_assignments(source: str) -> dict[str, Any] | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    values: dict[str, Any] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            return None
        try:
            values[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            return None
    return values or None


def _is_path_parameter(name: str, value: Any) -> bool:
    return isinstance(value, str) and bool(value) and name.endswith(PATH_SUFFIXES)


def _rewrite(nb: NotebookNode, change) -> bool:
    changed = False
    for cell, values in parameter_cells(nb):
        new = {name: change(value) if _is_path_parameter(name, value) else value
               for name, value in values.items()}
        if new != values:
            cell.source = parameters_source(new)
            changed = True
    return changed


def relative_paths(nb: NotebookNode, folder: str | os.PathLike[str],
                   root: str | os.PathLike[str] | None = None) -> bool:
    """Rewrite absolute path parameters under ``root`` (default ``folder``) relative to
    ``folder``, the notebook's own folder; also papermill's record of where the notebook came
    from and went. Returns whether anything changed."""
    base = Path(folder).resolve()
    top = Path(root).resolve() if root is not None else base

    def change(value: str) -> str:
        path = Path(value)
        if not path.is_absolute() or not (path == top or top in path.parents):
            return value
        return Path(os.path.relpath(path, base)).as_posix()

    changed = _rewrite(nb, change)
    record = nb.metadata.get("papermill")
    if isinstance(record, dict):
        for key in ("input_path", "output_path"):
            value = record.get(key)
            if value is not None and not isinstance(value, str):
                record[key] = None  # a notebook object papermill was handed, not a path
                changed = True
            elif isinstance(value, str) and Path(value).is_absolute():
                record[key] = change(value)
                changed = True
    return changed


def absolute_paths(nb: NotebookNode, folder: str | os.PathLike[str]) -> bool:
    """Resolve relative path parameters against ``folder`` (where the notebook lies now)."""
    base = Path(folder).resolve()
    return _rewrite(nb, lambda value: value if Path(value).is_absolute()
                    else str((base / value).resolve()))


__all__ = ["PATH_SUFFIXES", "absolute_paths", "parameter_cells", "relative_paths"]
