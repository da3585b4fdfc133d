"""Run a notebook through papermill with the ``deepthinker`` engine, in a managed kernel.

The kernel comes from a pool (its kernel manager is handed to papermill as ``km`` and the
session goes back to the pool afterwards) or from a fresh ``KernelSession``; either way the
output notebook is written, also when a cell fails, and the outcome comes back typed.
"""

from __future__ import annotations

import copy
import html
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat
import papermill
from nbformat import NotebookNode
from papermill.exceptions import PapermillExecutionError

from deepthinker_nb.config.limits import DEFAULT_CELL_TIMEOUT
from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.kernel.backend import DEFAULT_BACKEND
from deepthinker_nb.kernel.pool import KernelPool
from deepthinker_nb.kernel.results import ErrorInfo, strip_ansi
from deepthinker_nb.kernel.session import KernelSession
from deepthinker_nb.notebook.engine import CellProgress
from deepthinker_nb.notebook.io import read_notebook, write_notebook
from deepthinker_nb.notebook.relocate import relative_paths
from deepthinker_nb.notebook.verdict import ENGINE_NAME, METADATA_KEY
from deepthinker_nb.scanner.policy import ScanPolicy

log = logging.getLogger("deepthinker_nb.notebook")

RunStatus = Literal["ok", "error", "blocked", "timeout", "died"]


@dataclass(frozen=True)
class CellRecord:
    """One attempted code cell: where it sits in the output notebook and how it ended."""

    index: int
    """Position among the output notebook's cells, not counting papermill's error markers."""
    status: str
    duration: float | None
    scan: dict[str, Any]
    source: str = ""
    tags: tuple[str, ...] = ()
    execution_count: int | None = None
    start_time: str | None = None
    end_time: str | None = None

    @property
    def verdict(self) -> str:
        return str(self.scan.get("verdict", "off"))


@dataclass
class NotebookRun:
    """What ``execute_notebook`` did: the written notebook, how it ended, and per-cell records."""

    path: Path
    notebook: NotebookNode
    status: RunStatus
    failed_cell_index: int | None = None
    error: ErrorInfo | None = None
    cells: list[CellRecord] = field(default_factory=list)
    duration: float = 0.0
    kernel_name: str = ""

    @property
    def success(self) -> bool:
        return self.status == "ok"

    @property
    def failed_cell(self) -> CellRecord | None:
        for record in self.cells:
            if record.index == self.failed_cell_index:
                return record
        return None

    def cell_text(self, index: int) -> str:
        """The plain text a cell printed (streams and text/plain results), for feedback."""
        cells = _content_cells(self.notebook)
        parts = []
        for output in cells[index].get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif "data" in output and "text/plain" in output.data:
                parts.append(str(output.data["text/plain"]) + "\n")
        return "".join(parts)

    def summary(self) -> str:
        line = f"{self.status} in {self.duration:.2f}s ({len(self.cells)} cells) -> {self.path}"
        if self.error is not None:
            line += f"; cell {self.failed_cell_index}: {self.error}"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "status": self.status, "duration": self.duration,
            "failed_cell_index": self.failed_cell_index, "kernel_name": self.kernel_name,
            "error": None if self.error is None else {
                "ename": self.error.ename, "evalue": self.error.evalue},
            "cells": [
                {"index": c.index, "status": c.status, "duration": c.duration,
                 "verdict": c.verdict, "findings": c.scan.get("findings", [])}
                for c in self.cells
            ],
        }

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.success else "#cf222e"
        rows = "".join(
            f"<tr><td>{c.index}</td><td>{html.escape(c.status)}</td>"
            f"<td>{(c.duration or 0) * 1000:.1f} ms</td><td>{html.escape(c.verdict)}</td></tr>"
            for c in self.cells
        )
        error = f"<pre>{html.escape(str(self.error))}</pre>" if self.error else ""
        return (
            f'<div><b style="color:{colour}">{html.escape(self.status)}</b> · '
            f"{self.duration:.2f} s · <code>{html.escape(str(self.path))}</code></div>{error}"
            "<table><tr><th>cell</th><th>status</th><th>time</th><th>scan</th></tr>"
            f"{rows}</table>"
        )


def _is_error_marker(cell: NotebookNode) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return "papermill-error-cell-tag" in tags


def _content_cells(nb: NotebookNode) -> list[NotebookNode]:
    return [cell for cell in nb.cells if not _is_error_marker(cell)]


def cell_records(nb: NotebookNode) -> list[CellRecord]:
    """Records of the code cells the engine attempted (those with ``metadata.deepthinker``)."""
    records = []
    for index, cell in enumerate(_content_cells(nb)):
        meta = cell.get("metadata", {}).get(METADATA_KEY)
        if cell.cell_type != "code" or not meta or "status" not in meta:
            continue
        records.append(CellRecord(
            index=index, status=meta["status"], duration=meta.get("duration"),
            scan=dict(meta.get("scan") or {}), source=cell.source,
            tags=tuple(cell.metadata.get("tags", ())), execution_count=cell.get("execution_count"),
            start_time=meta.get("start_time"), end_time=meta.get("end_time"),
        ))
    return records


_STATUS_ENAME = {"blocked": "SecurityError", "timeout": "CellTimeoutError",
                 "died": "DeadKernelError"}


def _failure(nb: NotebookNode) -> tuple[RunStatus, int | None, ErrorInfo | None]:
    for index, cell in enumerate(_content_cells(nb)):
        status = cell.get("metadata", {}).get(METADATA_KEY, {}).get("status")
        if status in ("error", "blocked", "timeout", "died"):
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            # A timed-out cell may also show the KeyboardInterrupt of the interrupt that freed
            # the kernel; the error that names the status comes first.
            preferred = _STATUS_ENAME.get(status)
            errors.sort(key=lambda o: o.ename != preferred)
            error = None
            if errors:
                first = errors[0]
                error = ErrorInfo(first.ename, first.evalue,
                                  [strip_ansi(line) for line in first.traceback])
            return status, index, error
    return "ok", None, None


def _load_input(notebook: NotebookNode | str | os.PathLike[str]) -> NotebookNode:
    if isinstance(notebook, NotebookNode):
        return copy.deepcopy(notebook)
    return nbformat.read(os.fspath(notebook), as_version=4)


def execute_notebook(
    notebook: NotebookNode | str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    backend: str = DEFAULT_BACKEND,
    config: object = None,
    workdir: str | os.PathLike[str] | None = None,
    data_dirs: Sequence[str | os.PathLike[str]] = (),
    pool: KernelPool | None = None,
    timeout: float | None = DEFAULT_CELL_TIMEOUT,
    policy: ScanPolicy | None = None,
    scan: bool = True,
    log_output: bool = False,
    start_timeout: float = 60.0,
    relative_to: str | os.PathLike[str] | None = None,
    cell_progress: CellProgress | None = None,
) -> NotebookRun:
    """Execute ``notebook`` with papermill (engine ``deepthinker``) into ``output_path``.

    Every cell runs through the kernel session's ``execute`` (scan gate, timeout, death
    attribution, output caps), exactly as a cell sent to a ``KernelSession`` does.

    - ``notebook``: a notebook node (copied, never changed) or the path of an ``.ipynb``.
    - ``output_path``: where the executed notebook is written; its folder is created.
    - ``parameters``: papermill parameters, injected after the cell tagged ``parameters``.
    - ``backend``, ``config``, ``workdir``, ``data_dirs``: the ``KernelSession`` started for
      this run when no ``pool`` is given (it is shut down afterwards; a temp working dir when
      ``workdir`` is None).
    - ``pool``: a ``KernelPool`` to borrow a warm session from; it goes back afterwards.
    - ``timeout``: seconds per cell (None: no limit). A cell past it is interrupted, and its
      kernel restarted if the interrupt is ignored.
    - ``policy``, ``scan``: the scan policy for this run, or ``scan=False`` to opt out; by
      default the session's own gate (for a pool: the pool's scan settings).
    - ``log_output``: echo what cells print to the log as they run.
    - ``start_timeout``: seconds the kernel may take to start.
    - ``relative_to``: a folder (a run dir) the notebook may move with: path parameters under
      it are recorded relative to the output notebook's folder
      (:mod:`deepthinker_nb.notebook.relocate`), so the copy opens and runs anywhere.
    - ``cell_progress``: ``progress(done, total, status)`` after each code cell.

    A failing, blocked, timed-out or killed cell ends the run with that status; the output
    notebook is always written (also when no kernel could start: it then says why in its
    metadata and the error is raised) and validates with ``nbformat.validate``.
    """
    output = Path(output_path).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    nb_in = _load_input(notebook)
    started = time.perf_counter()

    try:
        session = _acquire(pool, backend, config, workdir, data_dirs, scan, policy)
    except Exception as exc:  # no kernel: still leave the notebook, saying why it did not run
        nb_in.metadata.setdefault(METADATA_KEY, {})["error"] = f"{type(exc).__name__}: {exc}"
        write_notebook(nb_in, output)
        raise
    kernel_name = getattr(session, "kernel_name", "") or ""
    unexpected: ErrorInfo | None = None
    nb_out: NotebookNode | None = None  # papermill's result; on failure, read back from disk
    try:
        # The kernel was started in the session's workdir; papermill's ``cwd`` would chdir
        # this whole (possibly multi-threaded) process, so it is not used.
        nb_out = papermill.execute_notebook(
            nb_in,
            str(output),
            parameters=dict(parameters) if parameters else None,
            engine_name=ENGINE_NAME,
            kernel_name=kernel_name or None,
            session=session,
            scan=scan,
            policy=policy,
            execution_timeout=timeout if timeout is not None else 0,
            start_timeout=start_timeout,
            progress_bar=False,
            log_output=log_output,
            cell_progress=cell_progress,
        )
    except PapermillExecutionError:
        pass  # the failing cell carries its status and error output; read below
    except DeepThinkerError:
        raise
    except Exception as exc:  # kernel lost between cells, papermill I/O ...: report, not raise
        log.exception("notebook execution failed outside a cell")
        unexpected = ErrorInfo(type(exc).__name__, str(exc))
    finally:
        _release(pool, session)

    if nb_out is None and output.exists():
        nb_out = read_notebook(output)  # papermill saved it before raising
    elif nb_out is None:
        nb_out = nb_in
        write_notebook(nb_out, output)
    if relative_to is not None and relative_paths(nb_out, output.parent, relative_to):
        write_notebook(nb_out, output)
    nbformat.validate(nb_out)
    status, failed_index, error = _failure(nb_out)
    if unexpected is not None and status == "ok":
        status, error = ("died" if "dead" in unexpected.ename.lower() else "error"), unexpected
    return NotebookRun(
        path=output, notebook=nb_out, status=status, failed_cell_index=failed_index,
        error=error, cells=cell_records(nb_out), duration=time.perf_counter() - started,
        kernel_name=kernel_name,
    )


def _acquire(pool: KernelPool | None, backend: str, config: object,
             workdir: str | os.PathLike[str] | None,
             data_dirs: Sequence[str | os.PathLike[str]], scan: bool,
             policy: ScanPolicy | None) -> KernelSession:
    if pool is not None:
        return pool.acquire()
    return KernelSession(
        backend, config, workdir=workdir, data_dirs=tuple(data_dirs), scan=scan, policy=policy
    ).start()


def _release(pool: KernelPool | None, session: KernelSession) -> None:
    try:
        if pool is not None:
            pool.release(session)
        else:
            session.shutdown()
    except Exception:  # never let cleanup hide the run's result
        log.exception("could not release the kernel session")
