"""What a Dask worker runs for one run of a batch: :func:`execute_run`.

The workflow runs in the task's own thread, with the worker's own kernels (local processes or
its own Docker engine), watched by a :class:`~deepthinker_nb.batch.guard.TaskGuard`. Outcomes:

- the run ends (complete, or failed on its own merits: a bad dataset, no valid predictions):
  a :class:`TaskOutcome` with the reason of a failure; the batch goes on;
- an infrastructure error (a kernel that cannot start here, a worker that does not see the
  out dir): raised, so Dask's ``retries=`` runs it again, maybe on another worker;
- the worker dies: Dask reschedules the task; the new attempt claims a new run dir.

With shared storage the run dir is written in place under the client's out dir; without, it
is written to a scratch dir on the worker and returned as an archive for the client to unpack.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from deepthinker_nb.batch.config import RunConfig
from deepthinker_nb.batch.guard import RunCancelled, TaskGuard
from deepthinker_nb.batch.storage import (
    StorageError,
    claim_run_dir,
    finished_run_dir,
    pack,
    sees_probe,
    write_run_record,
)
from deepthinker_nb.errors import BackendUnavailableError, DeepThinkerError, KernelStartError
from deepthinker_nb.kernel.local.orphans import remove_orphaned_dirs, temp_prefix

RETRYABLE: tuple[type[BaseException], ...] = (KernelStartError, BackendUnavailableError,
                                              StorageError)
"""Errors of the place a run ran, not of the run: raised for Dask to retry."""
SCRATCH_KIND = "batch"
"""Scratch run dirs are ``dtnb-batch-<worker pid>-...``: the orphan sweep of local kernels
(``deepthinker-nb gc``, every process's first kernel start) removes those of dead workers."""


class TaskCancelled(DeepThinkerError):
    """The task stopped because Dask no longer wanted it (cancelled, or its worker closing)."""


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run (pickled to it)."""

    run: RunConfig
    batch_id: str
    key: str
    """The Dask key of this task: the guard watches it."""
    out_dir: str
    """The client's out dir (absolute)."""
    shared: bool
    probe: tuple[str, str] | None = None
    """(name, token) of the file that proves a worker sees ``out_dir``."""
    topic: str | None = None
    """The Dask event topic progress goes to."""


@dataclass
class TaskOutcome:
    """A finished task: where its run dir is, and why the run failed (None: it did not)."""

    config_hash: str
    worker: str | None
    duration: float
    error: str | None = None
    run_dir: str | None = None
    """In the out dir (shared storage); None when the run dir comes as ``archive``."""
    archive: bytes | None = None
    worker_run_dir: str | None = None
    worker_data_path: str | None = None
    found: bool = False
    """An earlier attempt had already finished the run (its worker died after the end)."""


def execute_run(task: RunTask, data: bytes | None = None) -> TaskOutcome:
    """Run one workflow; ``data`` is the dataset's bytes when the worker cannot read it."""
    started = time.perf_counter()
    run = task.run
    events = _Events(task.topic, run.key)
    worker = events.worker_address
    scratch: Path | None = None
    with TaskGuard(task.key) as guard:
        if task.shared:
            out = Path(task.out_dir)
            if task.probe is not None and not sees_probe(task.out_dir, *task.probe):
                raise StorageError(f"worker {worker} does not see the batch's out dir {out} "
                                   "(run with --no-shared-out)")
            done = finished_run_dir(out, run)
            if done is not None:
                return TaskOutcome(run.config_hash, worker, time.perf_counter() - started,
                                   run_dir=str(done), found=True)
            run_dir, attempt = claim_run_dir(out, run)
        else:
            remove_orphaned_dirs()  # of workers killed mid-run (SIGKILL skips ``finally``)
            scratch = Path(tempfile.mkdtemp(prefix=temp_prefix(SCRATCH_KIND)))
            run_dir, attempt = scratch / "runs" / run.dir_name(1), None
            run_dir.mkdir(parents=True)
        try:
            data_path = _data_path(run, data, scratch)
            write_run_record(run_dir, run, attempt=attempt, worker=worker,
                             batch_id=task.batch_id,
                             started=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            events.send("started")
            error = _run_workflow(run, run_dir, data_path, guard, events)
            return TaskOutcome(
                run.config_hash, worker, time.perf_counter() - started, error,
                run_dir=str(run_dir) if scratch is None else None,
                archive=pack(run_dir) if scratch is not None else None,
                worker_run_dir=str(run_dir), worker_data_path=str(data_path))
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)


def _run_workflow(run: RunConfig, run_dir: Path, data_path: Path, guard: TaskGuard,
                  events: _Events) -> str | None:
    """Run the workflow into ``run_dir``; None when it completed, else why it failed."""
    from deepthinker_nb.config import DataConfig
    from deepthinker_nb.workflow.placement import RESEARCH_PRELOAD
    from deepthinker_nb.workflow.runner import WorkflowRunner

    best: list[float | None] = [None]

    def progress(event: Any) -> None:
        guard.check()
        if event.best_score is not None and event.best_score != best[0]:
            best[0] = event.best_score
            events.send("progress", best=float(event.best_score))

    try:
        data_config = DataConfig(
            data_path=str(data_path), task_type=run.task_type, target_column=run.target,
            test_split_ratio=run.settings.test_split_ratio, random_seed=run.seed,
            execution_timeout=run.settings.timeout, execution_backend=run.backend.backend,
            kernel_config=run.backend.kernel_config())
        runner = WorkflowRunner(
            data_config, run.iteration, councils=run.council.councils(run_dir),
            runs_dir=run_dir.parent, run_id=run_dir.name, pool_size=run.settings.pool_size,
            progress=progress, simulate=run.settings.simulate, report=run.settings.report)
        # A batch worker has no spare CPU: the run's first kernel, which serves its research
        # notebook, imports no scikit-learn it will not use.
        runner.placement.first_preload = RESEARCH_PRELOAD
        guard.watch(runner)
        infrastructure = _record_infrastructure_errors(runner)
        guard.check()
        result = runner.run(run.objective)
    except RunCancelled as stop:
        raise TaskCancelled(f"run {run.key} stopped: {stop}") from None
    except RETRYABLE:
        raise
    except Exception as exc:  # the run failed on its own merits: recorded, the batch goes on
        if infrastructure:
            raise infrastructure[-1] from exc
        return f"{type(exc).__name__}: {exc}"
    if guard.cancelled:  # cancelled after its last progress event: not a finished run
        raise TaskCancelled(f"run {run.key} stopped: {guard.reason}")
    if result.status == "complete":
        return None
    if infrastructure:  # its notebooks found no kernel here: a problem of this worker
        raise infrastructure[-1]
    failed = [r for r in result.iterations if not r.ok and r.error]
    reason = failed[-1].error.splitlines()[0] if failed and failed[-1].error else ""
    why = f"no iteration produced valid predictions ({result.stop_reason})"
    return (f"{why}: {reason}" if reason else why)[:500]


def _record_infrastructure_errors(runner: Any) -> list[BaseException]:
    """The errors of this worker (a kernel that cannot start here) that the workflow records
    as a failed notebook and goes on: filled in as they happen, so that a run they made fail
    is raised for Dask to retry rather than recorded as failed on its merits."""
    found: list[BaseException] = []
    placement = runner.placement
    start = placement.start

    def start_and_watch(*args: Any, **kwargs: Any) -> Any:
        kernels = start(*args, **kwargs)
        execute = kernels.execute

        def execute_and_record(*args: Any, **kwargs: Any) -> Any:
            try:
                return execute(*args, **kwargs)
            except RETRYABLE as exc:
                found.append(exc)
                raise

        kernels.execute = execute_and_record
        return kernels

    placement.start = start_and_watch
    return found


def _data_path(run: RunConfig, data: bytes | None, scratch: Path | None) -> Path:
    """The dataset on this worker: its bundled copy, the shared path, or the shipped bytes
    written to the scratch dir (outside the run dir: the labels stay away from the kernels)."""
    if run.dataset.bundled is not None:
        return run.dataset.worker_path()
    if data is None:
        return run.dataset.path
    assert scratch is not None
    path = scratch / "source" / run.dataset.path.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


class _Events:
    """Progress events for the client (Dask's structured events), never failing the run."""

    def __init__(self, topic: str | None, run_key: str) -> None:
        self.topic = topic
        self.run_key = run_key
        try:
            from distributed import get_worker

            self._worker: Any = get_worker()
        except (ImportError, ValueError):
            self._worker = None

    @property
    def worker_address(self) -> str | None:
        return None if self._worker is None else str(self._worker.address)

    def send(self, event: str, **fields: Any) -> None:
        if self._worker is None or self.topic is None:
            return
        try:
            self._worker.log_event(self.topic, {"run": self.run_key, "event": event,
                                                "worker": self.worker_address, **fields})
        except Exception:
            pass


__all__ = ["RETRYABLE", "RunTask", "TaskCancelled", "TaskOutcome", "execute_run"]
