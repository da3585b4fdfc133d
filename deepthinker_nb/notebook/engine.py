"""The papermill engine ``deepthinker``: each cell of a notebook takes the one road of a cell,
``AsyncKernelSession.execute``.

Registered under the ``papermill.engine`` entry point, so ``papermill in.ipynb out.ipynb
--engine deepthinker -k deepthinker-local`` uses it. The session (lent by a pool, or started
here) scans the cell, runs it under its timeout (interrupt, then restart), explains a kernel
death and caps what it keeps; this module only drives papermill's bookkeeping and writes each
``CellResult`` into its cell with the recorder's conversion, so a cell recorded from a notebook
and one recorded from a session read the same.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

from nbformat import NotebookNode

from deepthinker_nb.errors import ConfigError
from deepthinker_nb.kernel.backend import backend_for_kernel
from deepthinker_nb.kernel.gate import ScanGate
from deepthinker_nb.kernel.results import CellResult, RichOutput
from deepthinker_nb.kernel.session import AsyncKernelSession, KernelSession, session_for_manager
from deepthinker_nb.kernel.sync import run_sync
from deepthinker_nb.notebook.recorder import cell_result_metadata, cell_result_to_outputs
from deepthinker_nb.notebook.verdict import ENGINE_NAME, METADATA_KEY, scan_metadata
from deepthinker_nb.scanner.policy import ScanPolicy

if TYPE_CHECKING:
    from papermill.engines import NotebookExecutionManager

logger = logging.getLogger("papermill")  # papermill.log's logger, without importing papermill
SCAN_ENV = "DEEPTHINKER_NB_SCAN"
"""Set to ``0`` to turn scanning off where engine kwargs cannot be given (papermill CLI);
the gate logs the opt-out."""
_OFF = ("0", "false", "no", "off")
CellProgress = Callable[[int, int, str], None]
"""``progress(done, total, status)`` after each code cell (1-based count of code cells)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class DeepThinkerEngine:
    """Papermill engine ``deepthinker``.

    It has papermill's ``Engine`` interface without subclassing it: papermill imports every
    registered engine while it is itself being imported, so this module must not import
    papermill at its top (``import deepthinker_nb.notebook.engine`` before papermill would
    otherwise fail half-way). papermill's own code is used on each call.

    Engine kwargs (``papermill.execute_notebook(..., engine_name="deepthinker", **kwargs)``):

    - ``session``: a started ``KernelSession`` / ``AsyncKernelSession`` (e.g. from a pool) to
      run the cells in; it is used and never shut down. ``km``, the kernel manager of such a
      session, is accepted too. Without either, the engine starts a session for the kernel
      name (``-k``) in papermill's working directory and shuts it down at the end.
    - ``config``, ``data_dirs``: the backend config and read-only data dirs of a session the
      engine starts.
    - ``scan`` (default True, or env ``DEEPTHINKER_NB_SCAN=0``) and ``policy`` (a
      ``ScanPolicy``): how cells are checked; by default a lent session's own gate.
    - ``execution_timeout`` (papermill's): seconds per cell; default the session's
      (``DEFAULT_CELL_TIMEOUT``); 0 or less means no limit.
    - ``save_every``: seconds between notebook writes while cells run (default 1.0; 0 writes
      around every cell, as papermill does).
    """

    @classmethod
    def execute_notebook(cls, nb: NotebookNode, kernel_name: str, **kwargs: Any) -> NotebookNode:
        """papermill's ``Engine.execute_notebook``: wraps ``nb`` in its execution manager."""
        from papermill.engines import Engine

        return Engine.execute_notebook.__func__(cls, nb, kernel_name, **kwargs)  # type: ignore[attr-defined]

    @classmethod
    def nb_kernel_name(cls, nb: NotebookNode, name: str | None = None) -> str:
        from papermill.engines import Engine

        return Engine.nb_kernel_name.__func__(cls, nb, name)  # type: ignore[attr-defined]

    @classmethod
    def nb_language(cls, nb: NotebookNode, language: str | None = None) -> str:
        from papermill.engines import Engine

        return Engine.nb_language.__func__(cls, nb, language)  # type: ignore[attr-defined]

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: NotebookExecutionManager,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: TextIO | None = None,
        stderr_file: TextIO | None = None,
        start_timeout: float = 60,
        execution_timeout: float | None = None,
        session: KernelSession | AsyncKernelSession | None = None,
        km: Any = None,
        config: object = None,
        data_dirs: Sequence[str | os.PathLike[str]] = (),
        scan: bool | None = None,
        policy: ScanPolicy | None = None,
        save_every: float = 1.0,
        cell_progress: CellProgress | None = None,
        **kwargs: Any,
    ) -> NotebookNode:
        if scan is None:
            scan = os.environ.get(SCAN_ENV, "1").strip().lower() not in _OFF
        lent = _lent_session(session, km)
        if lent is None:
            run_session = AsyncKernelSession(
                backend_for_kernel(kernel_name), config, workdir=os.getcwd(),
                data_dirs=tuple(data_dirs), scan=scan, policy=policy,
                startup_timeout=start_timeout, restart_on_death=False)
            gate = None
        else:
            run_session = lent
            gate = _gate_for_lent(scan, policy)
        timeout = execution_timeout if execution_timeout is not None else kwargs.get("timeout")
        if timeout is not None and timeout <= 0:
            timeout = math.inf
        nb_man.nb.metadata.setdefault(METADATA_KEY, {}).update(
            engine=ENGINE_NAME, scan=(gate if gate is not None else run_session.gate).enabled,
            pooled_kernel=lent is not None, backend=run_session.backend.name,
            kernel_name=run_session.kernel_name,
            # What ran the cells, as the backend describes its kernels (Docker: the image's
            # tag, id and digest), so a notebook says where it ran without its run dir.
            kernel=run_session.backend.describe(run_session.config),
        )
        cells = _CellLoop(nb_man, run_session, gate, timeout, save_every,
                          _Echo(log_output, stdout_file, stderr_file), cell_progress)
        try:
            if lent is None:
                run_sync(run_session.start())
            cells.run()
        finally:
            if lent is None:
                run_sync(run_session.shutdown())
        return nb_man.nb


def _lent_session(session: Any, km: Any) -> AsyncKernelSession | None:
    if session is not None:
        return session.async_session if isinstance(session, KernelSession) else session
    if km is None:
        return None
    owner = session_for_manager(km)
    if owner is None:
        raise ConfigError(
            "km: this kernel manager was not started by a deepthinker session; pass "
            "session=<KernelSession> or leave km out and give the kernel name (-k)")
    return owner


def _gate_for_lent(scan: bool, policy: ScanPolicy | None) -> ScanGate | None:
    """A lent session checks cells with its own gate unless this run asks otherwise."""
    if not scan:
        return ScanGate(enabled=False, reason="papermill engine kwarg scan=False")
    if policy is not None:
        return ScanGate(policy=policy)
    return None


class _Echo:
    """Papermill's ``--log-output`` and ``--stdout-file`` / ``--stderr-file``: what a cell
    prints, passed on as it arrives."""

    def __init__(self, log_output: bool, stdout_file: TextIO | None,
                 stderr_file: TextIO | None) -> None:
        self.log_output = log_output
        self.files = {"stdout": stdout_file, "stderr": stderr_file}

    def callbacks(self) -> dict[str, Any]:
        if not self.log_output and not any(self.files.values()):
            return {}
        return {"on_stdout": lambda text: self._stream("stdout", text),
                "on_stderr": lambda text: self._stream("stderr", text),
                "on_output": self._rich}

    def _stream(self, name: str, text: str) -> None:
        if self.log_output:
            (logger.info if name == "stdout" else logger.warning)(text)
        file = self.files[name]
        if file is not None:
            file.write(text)
            file.flush()

    def _rich(self, output: RichOutput) -> None:
        if self.log_output and "text/plain" in output.data:
            logger.info(output.text)


class _CellLoop:
    """Papermill's loop: every cell in order, stop at the first that does not end ``ok``.

    Papermill writes the whole notebook before and after every cell, which costs more than
    running a short cell; here those writes are throttled to one per ``save_every`` seconds
    (0 = papermill's behaviour); a skipped write is flushed ``save_every`` seconds into the next
    cell, so the file on disk is never more than that behind, and the final save (also on
    failure) always happens.
    """

    def __init__(self, nb_man: NotebookExecutionManager, session: AsyncKernelSession,
                 gate: ScanGate | None, timeout: float | None, save_every: float,
                 echo: _Echo, progress: CellProgress | None = None) -> None:
        self.nb_man = nb_man
        self.progress = progress
        self.session = session
        self.gate = gate
        self.timeout = timeout
        self.callbacks = echo.callbacks()
        self.saver = (_ThrottledSave(nb_man, save_every)
                      if save_every > 0 and nb_man.output_path else None)

    def run(self) -> None:
        nb = self.nb_man.nb
        try:
            nb.metadata["language_info"] = run_sync(self.session.language_info())
        except Exception as exc:  # a kernel that will not say: the cells tell
            logging.getLogger("deepthinker_nb.notebook").warning(
                "could not read the kernel's language_info: %s", exc)
        if self.saver is not None:
            self.nb_man.save = self.saver  # type: ignore[method-assign]
        total = sum(1 for c in nb.cells if c.cell_type == "code")
        done = 0
        try:
            for index, cell in enumerate(nb.cells):
                self.nb_man.cell_start(cell, index)
                status = self._execute(cell)
                if status not in ("ok", "skipped"):
                    self.nb_man.cell_exception(cell, cell_index=index)
                self.nb_man.cell_complete(cell, cell_index=index)
                if cell.cell_type == "code":
                    done += 1
                    self._report(done, total, status)
                if status not in ("ok", "skipped"):
                    break
        finally:
            self.nb_man.__dict__.pop("save", None)  # papermill's own save for the final write

    def _report(self, done: int, total: int, status: str) -> None:
        if self.progress is None:
            return
        try:
            self.progress(done, total, status)
        except Exception:  # a broken display must not stop the notebook
            logging.getLogger("deepthinker_nb.notebook").exception("cell progress callback")

    def _execute(self, cell: NotebookNode) -> str:
        if cell.cell_type != "code":
            return "skipped"
        started, t0 = _now(), time.perf_counter()
        if cell.source.strip():
            result = self._run(cell.source)
            cell.outputs = cell_result_to_outputs(result)
            cell.execution_count = None if result.status == "blocked" else result.execution_count
            meta = cell_result_metadata(result)
        else:
            cell.outputs = []
            meta = {"status": "skipped", "scan": scan_metadata(None),
                    "duration": round(time.perf_counter() - t0, 6)}
        meta.update(start_time=started.isoformat(), end_time=_now().isoformat())
        cell.metadata.setdefault(METADATA_KEY, {}).update(meta)
        return meta["status"]

    def _run(self, source: str) -> CellResult:
        flush = None
        if self.saver is not None:
            flush = threading.Timer(self.saver.interval, self.saver.flush)
            flush.daemon = True
            flush.start()
        try:
            return run_sync(self.session.execute(source, self.timeout, gate=self.gate,
                                                 **self.callbacks))
        except KeyboardInterrupt:
            # Ctrl-C stops the run; the cell must not go on running in the kernel.
            try:
                run_sync(self.session.interrupt(), timeout=5)
            except Exception:
                pass
            raise
        finally:
            if flush is not None:
                flush.cancel()
                flush.join()  # a write in progress ends before the cell is changed


class _ThrottledSave:
    """Stands in for ``NotebookExecutionManager.save``: writes at most once per interval."""

    def __init__(self, nb_man: NotebookExecutionManager, interval: float) -> None:
        self.nb_man = nb_man
        self.interval = interval
        self.last = time.monotonic()
        self.dirty = False

    def __call__(self, **kwargs: Any) -> None:
        if kwargs.get("nb") is not None:
            self.nb_man.nb = kwargs["nb"]
        if time.monotonic() - self.last >= self.interval:
            self.flush(force=True)
        else:
            self.dirty = True

    def flush(self, force: bool = False) -> None:
        """Write now if a write was skipped (``force``: write anyway)."""
        if force or self.dirty:
            type(self.nb_man).save(self.nb_man)
            self.last = time.monotonic()
            self.dirty = False


__all__ = ["SCAN_ENV", "DeepThinkerEngine"]
