"""The papermill engine ``deepthinker``: papermill's nbclient engine plus the scan gate,
pooled kernel managers and per-cell timings.

Registered under the ``papermill.engine`` entry point, so ``papermill in.ipynb out.ipynb
--engine deepthinker -k deepthinker-local`` uses it. Papermill imports every registered engine
while papermill itself is still importing, so this module imports only papermill's engine and
client modules at the top and everything of ours lazily.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from datetime import datetime, timezone
from typing import Any

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode, v4
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

METADATA_KEY = "deepthinker"
ENGINE_NAME = "deepthinker"
SCAN_ENV = "DEEPTHINKER_NB_SCAN"
"""Set to ``0`` to turn scanning off where engine kwargs cannot be given (papermill CLI);
the gate logs the opt-out."""


class CellBlockedError(CellExecutionError):
    """A cell the scan gate refused: it was never sent to the kernel."""

    def __init__(self, report: Any, summary: str) -> None:
        super().__init__(summary, "SecurityError", summary)
        self.report = report


class _KernelDied(Exception):
    """Ends the client's run at once: asking a dead kernel for its info would only wait."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class BorrowedKernelManager:
    """A started kernel manager lent to nbclient by its owner (a pool or a session).

    Everything is delegated, except ``client()``: jupyter_client clients made by one manager
    share its Session and so its ZeroMQ identity; the kernel's ROUTER sockets hand that identity
    over to the newest connection, and the owner's own client would stop receiving replies once
    ours is gone. A client of our own gets a Session of its own (same key, new identity).
    """

    def __init__(self, km: Any) -> None:
        self.__dict__["_km"] = km

    def client(self, **kwargs: Any) -> Any:
        from jupyter_client.session import Session

        shared = self._km.session
        kwargs.setdefault("session", Session(
            key=shared.key, signature_scheme=shared.signature_scheme, username=shared.username,
        ))
        return self._km.client(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._km, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._km, name, value)


class DeepThinkerNotebookClient(PapermillNotebookClient):
    """Papermill's client with the scan gate in front of every execute request.

    The gate sits in ``async_execute_cell`` (the one method that sends a cell), so it holds for
    papermill's loop and for plain ``NotebookClient.execute`` alike.
    """

    def __init__(
        self,
        nb_man: Any,
        km: Any = None,
        *,
        scan: bool = True,
        policy: Any = None,
        gate: Any = None,
        kernel_spec_manager: Any = None,
        save_every: float = 1.0,
        **kw: Any,
    ) -> None:
        if km is not None and not isinstance(km, BorrowedKernelManager):
            km = BorrowedKernelManager(km)
        super().__init__(nb_man, km=km, **kw)
        self.save_every = save_every
        if gate is None:
            from deepthinker_nb.kernel.gate import ScanGate

            gate = ScanGate(enabled=scan, policy=policy)
        self.gate = gate
        self._kernel_spec_manager = kernel_spec_manager

    # -- kernel manager ---------------------------------------------------------------------
    def create_kernel_manager(self) -> Any:
        """Like nbclient's, but our kernelspecs resolve without being installed."""
        if not self.kernel_name:
            self.kernel_name = self.nb.metadata.get("kernelspec", {}).get("name") or ""
        ksm = self._kernel_spec_manager
        if ksm is None and self.kernel_name.startswith("deepthinker-"):
            from deepthinker_nb.kernel.specs import DeepThinkerKernelSpecManager

            ksm = DeepThinkerKernelSpecManager()
        kwargs: dict[str, Any] = {"config": self.config}
        if self.kernel_name:
            kwargs["kernel_name"] = self.kernel_name
        if ksm is not None:
            kwargs["kernel_spec_manager"] = ksm
        self.km = self.kernel_manager_class(**kwargs)
        return self.km

    def execute(self, **kwargs: Any) -> NotebookNode:
        try:
            return super().execute(**kwargs)
        except _KernelDied:
            return self.nb
        finally:
            # nbclient keeps the client of a borrowed kernel manager open; close our channels
            # (the kernel itself belongs to the pool and stays up).
            if not self.owns_km and self.kc is not None:
                self.kc.stop_channels()
                self.kc = None

    # -- the gate ---------------------------------------------------------------------------
    async def async_execute_cell(
        self,
        cell: NotebookNode,
        cell_index: int,
        execution_count: int | None = None,
        store_history: bool = True,
    ) -> NotebookNode:
        from deepthinker_nb.notebook.verdict import (
            findings_summary,
            scan_metadata,
            security_error_output,
        )

        if cell.cell_type == "code" and cell.source.strip():
            try:
                report = self.gate.check(cell.source)
            except Exception as exc:  # fail closed: an unscannable cell does not run
                report = _ScanFailure(exc)
            meta = cell.metadata.setdefault(METADATA_KEY, {})
            meta["scan"] = scan_metadata(report)
            if report is not None and getattr(report, "blocked", False):
                cell.outputs = [security_error_output(report)]
                cell.execution_count = None
                raise CellBlockedError(report, findings_summary(report))
        # A skipped write must not wait for the end of a long cell: flush it after
        # ``save_every`` seconds while the cell runs.
        saver = self.nb_man.__dict__.get("save")
        flush = None
        if isinstance(saver, _ThrottledSave):
            flush = asyncio.get_running_loop().call_later(saver.interval, saver.flush)
        try:
            return await super().async_execute_cell(
                cell, cell_index, execution_count=execution_count, store_history=store_history
            )
        finally:
            if flush is not None:
                flush.cancel()

    execute_cell = run_sync(async_execute_cell)

    # -- papermill's cell loop, with timings and every way a cell can end -------------------
    def papermill_execute_cells(self) -> None:
        """Papermill's loop (stop at the first failure) that also records
        ``metadata.deepthinker`` and turns timeouts and kernel deaths into error outputs papermill
        reports like any other cell error.

        Papermill writes the whole notebook before and after every cell, which costs more than
        running a short cell; here those writes are throttled to one per ``save_every`` seconds
        (0 = papermill's behaviour); a skipped write is flushed ``save_every`` seconds into the
        next cell, so the file on disk is never more than that behind, and the final save (also
        on failure) always happens.
        """
        nb_man = self.nb_man
        if self.save_every > 0 and nb_man.output_path:
            nb_man.save = _ThrottledSave(nb_man, self.save_every)
        try:
            self._execute_cells()
        finally:
            nb_man.__dict__.pop("save", None)  # back to papermill's save for the final write

    def _execute_cells(self) -> None:
        for index, cell in enumerate(self.nb.cells):
            self.nb_man.cell_start(cell, index)
            started, t0 = _now(), time.perf_counter()
            status = "ok"
            try:
                self.execute_cell(cell, index)
            except CellBlockedError:
                status = "blocked"
            except CellExecutionError:
                status = "error"
            except CellTimeoutError as exc:
                status = "timeout"
                cell.outputs.append(v4.new_output(
                    "error", ename="CellTimeoutError",
                    evalue=f"cell did not finish within {self._get_timeout(cell)} s",
                    traceback=[str(exc).strip()]))
                self._interrupt_after_timeout()
            except DeadKernelError as exc:
                status = "died"
                reason = self._death_reason() or str(exc) or "kernel died"
                cell.metadata.setdefault(METADATA_KEY, {})["death_reason"] = reason
                cell.outputs.append(v4.new_output(
                    "error", ename="DeadKernelError", evalue=reason, traceback=[]))
            finally:
                cell = self.nb.cells[index]
                if cell.cell_type == "code":
                    ended = _now()
                    meta = cell.metadata.setdefault(METADATA_KEY, {})
                    meta.setdefault("scan", {"verdict": "off", "blocked": False, "findings": []})
                    meta.update(
                        status=status if cell.source.strip() else "skipped",
                        start_time=started.isoformat(),
                        end_time=ended.isoformat(),
                        duration=round(time.perf_counter() - t0, 6),
                    )
                if status != "ok":
                    self.nb_man.cell_exception(cell, cell_index=index)
                self.nb_man.cell_complete(cell, cell_index=index)
            if status == "died":
                raise _KernelDied()
            if status != "ok":
                break

    def _death_reason(self) -> str | None:
        """Why the kernel died, as our provisioners explain it (signal, OOM kill, exit code)."""
        explain = getattr(getattr(self.km, "provisioner", None), "death_reason", None)
        try:
            return explain() if callable(explain) else None
        except Exception:
            return None

    def _interrupt_after_timeout(self) -> None:
        """Leave a (pooled) kernel idle for its next user, as nbclient's interrupt would."""
        try:
            if self.km is not None:
                run_sync(_ensure_async_call)(self.km.interrupt_kernel)
        except Exception as exc:  # the kernel may be gone; the timeout is what we report
            self.log.warning("could not interrupt the kernel after a timeout: %s", exc)


class _ThrottledSave:
    """Stands in for ``NotebookExecutionManager.save``: writes at most once per interval."""

    def __init__(self, nb_man: Any, interval: float) -> None:
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


async def _ensure_async_call(func: Any) -> Any:
    from jupyter_core.utils import ensure_async

    return await ensure_async(func())


class _ScanFailure:
    """Stands for a ScanReport when the scanner itself failed: blocked, with one finding."""

    blocked = True
    max_severity = "critical"

    def __init__(self, exc: Exception) -> None:
        self.findings = [_Finding(f"scanner failed ({type(exc).__name__}: {exc}); "
                                  "the cell was not run")]


class _Finding:
    rule_id = "DT-SCAN-ERROR"
    severity = "critical"
    line = None
    col = None
    snippet = ""

    def __init__(self, message: str) -> None:
        self.message = message


class DeepThinkerEngine(NBClientEngine):
    """Papermill engine ``deepthinker``.

    Engine kwargs (``papermill.execute_notebook(..., engine_name="deepthinker", **kwargs)``):
    ``km`` a started (pooled) kernel manager, used and never shut down; ``scan`` (default True,
    or env ``DEEPTHINKER_NB_SCAN=0``); ``policy`` a ScanPolicy; ``gate`` a ready ScanGate;
    ``kernel_spec_manager``; ``launch_kwargs`` for ``start_kernel`` when the engine starts the
    kernel itself (default ``cwd`` = papermill's working directory); ``save_every`` seconds
    between notebook writes during the run (default 1.0; 0 writes around every cell).
    """

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: float | None = None,
        km: Any = None,
        scan: bool | None = None,
        policy: Any = None,
        gate: Any = None,
        kernel_spec_manager: Any = None,
        launch_kwargs: dict[str, Any] | None = None,
        save_every: float = 1.0,
        **kwargs: Any,
    ) -> NotebookNode:
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        if scan is None:
            scan = os.environ.get(SCAN_ENV, "1").strip().lower() not in ("0", "false", "no", "off")
        timeout = execution_timeout if execution_timeout else kwargs.get("timeout")
        if timeout is not None:
            timeout = math.ceil(timeout)  # nbclient's timeout is an Integer trait
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        client = DeepThinkerNotebookClient(
            nb_man, km=km, scan=scan, policy=policy, gate=gate,
            kernel_spec_manager=kernel_spec_manager, save_every=save_every, **final_kwargs,
        )
        start = dict(launch_kwargs or {})
        if km is None:
            start.setdefault("cwd", os.getcwd())
            # The scanner inside the kernel judges as this engine's gate does (or is off).
            start.setdefault("deepthinker_scan_policy", client.gate.kernel_policy())
        nb_man.nb.metadata.setdefault(METADATA_KEY, {}).update(
            engine=ENGINE_NAME, scan=bool(getattr(client.gate, "enabled", scan)),
            pooled_kernel=km is not None,
        )
        return client.execute(**start)
