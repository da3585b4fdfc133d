"""Assemble nbformat v4 notebooks from cells; read cells back from `.py` and `.ipynb` files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat
from nbformat import v4

from deepthinker_nb.cells import split_percent
from deepthinker_nb.errors import DeepThinkerError

CellKind = Literal["code", "markdown"]

PARAMETERS_TAG = "parameters"
_DISPLAY_NAMES = {
    "deepthinker-local": "Python 3 (deepthinker, local)",
    "deepthinker-docker": "Python 3 (deepthinker, docker)",
}


@dataclass
class CellSpec:
    """One cell to put in a notebook: its source, kind, tags and extra metadata."""

    source: str
    kind: CellKind = "code"
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("code", "markdown"):
            raise DeepThinkerError(f"cell kind must be 'code' or 'markdown', got {self.kind!r}")
        self.tags = tuple(self.tags)

    def to_cell(self) -> nbformat.NotebookNode:
        metadata = dict(self.metadata)
        if self.tags:
            metadata["tags"] = list(dict.fromkeys([*metadata.get("tags", []), *self.tags]))
        if self.kind == "markdown":
            return v4.new_markdown_cell(self.source, metadata=metadata)
        return v4.new_code_cell(self.source, metadata=metadata)


def parameters_source(parameters: Mapping[str, Any]) -> str:
    """Python assignments for a ``parameters`` cell (values as Python literals)."""
    lines = []
    for name, value in parameters.items():
        if not str(name).isidentifier():
            raise DeepThinkerError(f"parameter name {name!r} is not a Python identifier")
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        lines.append(f"{name} = {value!r}")
    return "\n".join(lines)


def kernelspec_metadata(kernel_name: str) -> dict[str, Any]:
    return {
        "kernelspec": {
            "name": kernel_name,
            "display_name": _DISPLAY_NAMES.get(kernel_name, kernel_name),
            "language": "python",
        },
        "language_info": {"name": "python"},
    }


def build_notebook(
    cells: Iterable[CellSpec | str],
    *,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str = "deepthinker-local",
    metadata: Mapping[str, Any] | None = None,
) -> nbformat.NotebookNode:
    """A valid nbformat v4 notebook; with ``parameters``, a ``parameters``-tagged cell comes first
    so that papermill injects run values right after it. Plain strings are code cells."""
    nb = v4.new_notebook()
    nb.metadata.update(kernelspec_metadata(kernel_name))
    if metadata:
        nb.metadata.update(dict(metadata))
    if parameters is not None:
        nb.cells.append(CellSpec(parameters_source(parameters), tags=(PARAMETERS_TAG,)).to_cell())
    for cell in cells:
        spec = CellSpec(cell) if isinstance(cell, str) else cell
        nb.cells.append(spec.to_cell())
    nbformat.validate(nb)
    return nb


def read_cells(path: str | os.PathLike[str]) -> list[CellSpec]:
    """Cells of a ``.py`` file in the percent format (``# %%``, ``# %% [markdown]``) or of a
    ``.ipynb`` notebook (raw cells become markdown)."""
    file = Path(path)
    if not file.is_file():
        raise DeepThinkerError(f"no such file: {file}")
    if file.suffix == ".ipynb":
        try:
            nb = nbformat.read(file, as_version=4)
        except Exception as exc:  # nbformat raises several types for bad JSON / schema
            raise DeepThinkerError(f"cannot read notebook {file}: {exc}") from exc
        specs = []
        for cell in nb.cells:
            kind: CellKind = "code" if cell.cell_type == "code" else "markdown"
            metadata = {k: v for k, v in cell.metadata.items() if k != "tags"}
            tags = tuple(cell.metadata.get("tags", ()))
            specs.append(CellSpec(cell.source, kind, tags, metadata))
        return specs
    return split_percent_script(file.read_text(encoding="utf-8"))


def split_percent_script(text: str) -> list[CellSpec]:
    """Split Python source on ``# %%`` markers (deepthinker_nb.cells, the scanner's splitter
    too); code before the first marker is a cell too. Markdown cells lose their ``# ``."""
    specs = []
    for cell in split_percent(text):
        kind: CellKind = "markdown" if cell.kind == "markdown" else "code"
        body = "\n".join(cell.source.splitlines()).strip("\n")
        if kind == "markdown":
            body = "\n".join(_uncomment(line) for line in body.splitlines()).strip("\n")
        if body.strip():
            specs.append(CellSpec(body, kind, cell.tags))
    return specs


def _uncomment(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    return line[1:] if line.startswith("#") else line
