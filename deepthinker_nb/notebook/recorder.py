"""Live recording of interactive sessions: each executed cell is appended to a notebook file
at once, written atomically, so a crash loses nothing that was recorded."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode, v4

from deepthinker_nb.kernel.results import CellResult
from deepthinker_nb.notebook.builder import kernelspec_metadata
from deepthinker_nb.notebook.io import read_notebook, write_notebook
from deepthinker_nb.notebook.verdict import (
    METADATA_KEY,
    scan_metadata,
    security_error_output,
)


def _stream(name: str, text: str) -> NotebookNode:
    return v4.new_output("stream", name=name, text=text)


def _error_output(result: CellResult) -> NotebookNode | None:
    if result.status == "blocked":
        return security_error_output(result.scan_report)
    if result.error is not None:
        return v4.new_output(
            "error",
            ename=result.error.ename,
            evalue=result.error.evalue,
            traceback=list(result.error.traceback),
        )
    if result.status == "timeout":
        return v4.new_output("error", ename="CellTimeoutError",
                             evalue="cell execution timed out", traceback=[])
    if result.status == "died":
        reason = result.death_reason or "kernel died"
        return v4.new_output("error", ename="DeadKernelError", evalue=reason, traceback=[])
    if result.status == "error":
        return v4.new_output("error", ename="Error", evalue="cell failed", traceback=[])
    return None


def cell_result_to_outputs(result: CellResult) -> list[NotebookNode]:
    """nbformat outputs for a CellResult: stream text interleaved with rich outputs in the order
    they arrived (via ``stdout_offset`` / ``stderr_offset``), then the error, if any."""
    outputs: list[NotebookNode] = []
    seen = {"stdout": 0, "stderr": 0}
    texts = {"stdout": result.stdout or "", "stderr": result.stderr or ""}

    def emit_streams(upto: Mapping[str, int]) -> None:
        for name in ("stdout", "stderr"):
            end = max(seen[name], min(upto[name], len(texts[name])))
            chunk = texts[name][seen[name]:end]
            seen[name] = end
            if not chunk:
                continue
            last = outputs[-1] if outputs else None
            if last is not None and last.output_type == "stream" and last.name == name:
                last.text += chunk
            else:
                outputs.append(_stream(name, chunk))

    for rich in result.outputs:
        emit_streams({"stdout": rich.stdout_offset, "stderr": rich.stderr_offset})
        if rich.output_type == "execute_result":
            outputs.append(v4.new_output(
                "execute_result", data=dict(rich.data), metadata=dict(rich.metadata),
                execution_count=rich.execution_count if rich.execution_count is not None
                else result.execution_count,
            ))
        else:
            outputs.append(v4.new_output(
                "display_data", data=dict(rich.data), metadata=dict(rich.metadata)))
    emit_streams({name: len(text) for name, text in texts.items()})
    error = _error_output(result)
    if error is not None:
        outputs.append(error)
    return outputs


def cell_result_metadata(result: CellResult) -> dict[str, Any]:
    """What ``metadata.deepthinker`` holds for a recorded cell (same keys as the engine's)."""
    meta: dict[str, Any] = {
        "status": result.status,
        "duration": round(float(result.duration), 6),
        "scan": scan_metadata(result.scan_report),
    }
    if result.truncated:
        meta["truncated"] = {
            "stdout": result.stdout_truncated, "stderr": result.stderr_truncated,
            "outputs": result.outputs_truncated, "dropped_bytes": dict(result.dropped_bytes),
        }
    if result.timeout_action:
        meta["timeout_action"] = result.timeout_action
    if result.death_reason:
        meta["death_reason"] = result.death_reason
    if result.restarted:
        meta["restarted"] = True
    return meta


def cell_result_to_cell(code: str, result: CellResult) -> NotebookNode:
    """A code cell holding ``code`` and what running it produced."""
    cell = v4.new_code_cell(code)
    cell.execution_count = result.execution_count
    cell.outputs = cell_result_to_outputs(result)
    cell.metadata[METADATA_KEY] = cell_result_metadata(result)
    return cell


class NotebookRecorder:
    """Appends executed cells to a notebook file as they happen.

    An existing file at ``path`` is continued (its cells kept), so a researcher can resume a
    session's notebook; ``resume=False`` starts over.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        kernel_name: str = "deepthinker-local",
        *,
        metadata: Mapping[str, Any] | None = None,
        resume: bool = True,
    ) -> None:
        self.path = Path(path)
        if resume and self.path.exists():
            self.notebook = read_notebook(self.path)
        else:
            self.notebook = v4.new_notebook()
            self.notebook.metadata.update(kernelspec_metadata(kernel_name))
            self.notebook.metadata[METADATA_KEY] = {
                "recorded_by": "NotebookRecorder",
                "started": datetime.now(timezone.utc).isoformat(),
            }
        if metadata:
            self.notebook.metadata.update(dict(metadata))
        self._save()

    def __len__(self) -> int:
        return len(self.notebook.cells)

    def record(self, code: str, result: CellResult) -> NotebookNode:
        """Append the cell and its outputs, then write the file atomically."""
        cell = cell_result_to_cell(code, result)
        cell.metadata[METADATA_KEY]["end_time"] = datetime.now(timezone.utc).isoformat()
        self.notebook.cells.append(cell)
        self._save()
        return cell

    def record_markdown(self, text: str) -> NotebookNode:
        cell = v4.new_markdown_cell(text)
        self.notebook.cells.append(cell)
        self._save()
        return cell

    def _save(self) -> None:
        nbformat.validate(self.notebook)
        write_notebook(self.notebook, self.path)
