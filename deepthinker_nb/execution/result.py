"""The seed API's result record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deepthinker_nb.kernel.results import CellResult, ErrorInfo, RichOutput


@dataclass
class ExecutionResult:
    """What ``CodeExecutor.execute`` returns: the seed's fields, plus the full CellResult."""

    success: bool
    status: str
    stdout: str = ""
    stderr: str = ""
    outputs: list[RichOutput] = field(default_factory=list)
    error: ErrorInfo | None = None
    duration: float = 0.0
    cell: CellResult | None = None

    @classmethod
    def from_cell(cls, cell: CellResult) -> ExecutionResult:
        return cls(
            success=cell.success,
            status=cell.status,
            stdout=cell.stdout,
            stderr=cell.stderr,
            outputs=list(cell.outputs),
            error=cell.error,
            duration=cell.duration,
            cell=cell,
        )

    @property
    def findings(self) -> list[Any]:
        return self.cell.findings if self.cell else []

    def _repr_html_(self) -> str:
        return self.cell._repr_html_() if self.cell else f"<pre>{self.status}</pre>"

    def _repr_markdown_(self) -> str:
        return self.cell._repr_markdown_() if self.cell else f"**{self.status}**"
