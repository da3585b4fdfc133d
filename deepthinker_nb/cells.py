"""Cells of a ``# %%`` percent-format script or of a Jupyter notebook, read as written.

The security scanner judges the cells of a file and the notebook builder turns the same file
into a notebook; both split it here, so that the scanner checks the cells that will run (a
``%%bash`` cell magic counts only on a cell's first line). This module uses nothing else of the
package: the scanner, its lowest user, imports it and nothing above.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A marker line: "# %%" or "#%%", then an optional title, "[markdown]" and tags=[...].
_MARKER = re.compile(r"^#[ \t]?%%(?P<rest>.*)$", re.MULTILINE)
_MARKDOWN = re.compile(r"\[\s*(markdown|md)\s*\]")
_TAGS = re.compile(r"tags\s*=\s*(\[.*?\])")


@dataclass(frozen=True)
class Cell:
    """One cell, its source exactly as written in the file."""

    index: int  # position among the cells read (in a notebook: among all of its cells)
    source: str
    kind: str = "code"  # "code" or "markdown"; in a notebook, its cell_type ("raw" ...)
    tags: tuple[str, ...] = ()
    line_offset: int = 0  # lines of the script before the cell's first line (0 in a notebook)
    in_script: bool = False  # read from a # %% script, which can also run as plain Python


class CellReadError(ValueError):
    """A file that cannot be read as cells; the message says why (without the path)."""


def split_percent(text: str) -> list[Cell]:
    """Split a ``# %%`` percent-format script on its marker lines.

    Code before the first marker is a cell too; blank cells are dropped. A cell's source is the
    text between two markers, unchanged, so line ``n`` of a cell is line ``line_offset + n`` of
    the file. ``# %% [markdown]`` marks a markdown cell, ``tags=["parameters"]`` its tags.
    """
    cells: list[Cell] = []
    start = start_line = 0
    kind: str = "code"
    tags: tuple[str, ...] = ()

    def add(chunk: str) -> None:
        if chunk.strip():
            cells.append(Cell(len(cells), chunk, kind, tags, start_line, in_script=True))

    for match in _MARKER.finditer(text):
        add(text[start: match.start()])
        rest = match.group("rest")
        kind = "markdown" if _MARKDOWN.search(rest) else "code"
        tags = _parse_tags(rest)
        start = match.end() + 1  # past the marker's newline
        start_line = text.count("\n", 0, min(start, len(text)))
    add(text[start:])
    return cells


def notebook_cells(notebook: Mapping[str, Any]) -> list[Cell]:
    """The cells of a parsed notebook (nbformat 4 JSON); a source given as a list of lines is
    joined. Raises ValueError when ``notebook`` has no list of cells."""
    if not isinstance(notebook, Mapping) or not isinstance(notebook.get("cells"), list):
        raise ValueError("not a notebook: no 'cells' list")
    cells = []
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, Mapping):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(s) for s in source)
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, Mapping) else None
        cells.append(Cell(index, str(source), str(cell.get("cell_type", "")),
                          tuple(str(t) for t in tags) if isinstance(tags, list) else ()))
    return cells


def parse_cells(text: str, notebook: bool | None = None) -> list[Cell]:
    """The cells of a file's text: a notebook's JSON (``notebook=True``; json.JSONDecodeError
    or ValueError when it is not one), a ``# %%`` script (False), or either (None: a notebook
    if the text parses as one, for input of unknown type such as stdin)."""
    if notebook:
        return notebook_cells(json.loads(text))
    if notebook is None and text.lstrip().startswith("{"):
        try:
            return notebook_cells(json.loads(text))
        except ValueError:  # json.JSONDecodeError included
            pass
    return split_percent(text)


def read_cells(path: str | os.PathLike[str]) -> list[Cell]:
    """The cells of a ``.ipynb`` notebook or of a ``# %%`` script (any other file); raises
    CellReadError saying why a file cannot be read."""
    file = Path(path)
    if not file.exists():
        raise CellReadError("no such file")
    if file.is_dir():
        raise CellReadError("is a directory (pass .py or .ipynb files)")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CellReadError(f"cannot read ({exc})") from exc
    if file.suffix != ".ipynb":
        return split_percent(text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CellReadError(f"invalid notebook JSON (line {exc.lineno}: {exc.msg})") from exc
    try:
        return notebook_cells(data)
    except ValueError as exc:
        raise CellReadError(f"invalid notebook ({exc})") from exc


def _parse_tags(rest: str) -> tuple[str, ...]:
    """The tags of a marker line's ``tags=["a", "b"]`` (JSON), or none."""
    match = _TAGS.search(rest)
    if not match:
        return ()
    try:
        value = json.loads(match.group(1))
    except json.JSONDecodeError:
        return ()
    return tuple(str(tag) for tag in value) if isinstance(value, list) else ()
