"""Compare the outputs of two executions of a notebook, cell by cell, as a readable diff.

What counts as a cell's result (and what is volatile and masked) is decided once, in
:mod:`deepthinker_nb.notebook.outputs`, for a session's replay and a run's reproduction alike.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from nbformat import NotebookNode

from deepthinker_nb.notebook.outputs import comparable_output


def cell_output_text(cell: NotebookNode) -> str:
    """What a code cell showed, as comparable text (its error's name on the last line)."""
    error, text = comparable_output(cell.get("outputs", []))
    return text + (f"\n{error}" if error else "")


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
        before = cell_output_text(old[number - 1]) if number <= len(old) else "<no cell>"
        after = cell_output_text(new[number - 1]) if number <= len(new) else "<no cell>"
        if before != after:
            lines = difflib.unified_diff(before.splitlines(), after.splitlines(),
                                         "recorded", "re-run", lineterm="", n=1)
            diffs.append(CellDiff(number, "\n".join(list(lines)[:40])))
    return diffs


__all__ = ["CellDiff", "cell_output_text", "diff_outputs"]
