"""``run_batch``: a batch's runs as Dask tasks, on a LocalCluster or any Dask scheduler.

We do not schedule: each run is one ``client.submit`` (its key names the run's config hash),
Dask places it, retries it after an infrastructure error (``retries=``) and reschedules it when
its worker dies. This module only decides what to submit (runs without a finished run dir),
where run dirs go (shared storage or back to the client), and turns outcomes into rows,
tables and the report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from deepthinker_nb.batch.config import BatchSpec, RunConfig
from deepthinker_nb.batch.document import EXTRA_HINT
from deepthinker_nb.batch.progress import ProgressCallback, ProgressTracker, StderrProgress
from deepthinker_nb.batch.report import write_report
from deepthinker_nb.batch.results import BatchResult, BatchRow, row_from_run_dir, write_tables
from deepthinker_nb.batch.spec import load_spec
from deepthinker_nb.batch.storage import (
    claim_run_dir,
    finished_run_dir,
    relocate,
    remove_probe,
    sees_files,
    unpack,
    write_probe,
)
from deepthinker_nb.batch.task import RunTask, TaskOutcome, execute_run
from deepthinker_nb.errors import ConfigError

WORKER_WAIT_SECONDS = 60.0
"""How long a batch on an external scheduler waits for its first worker."""


def run_batch(
    spec: BatchSpec | str | Path | Mapping[str, Any],
    client: Any = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    out: str | Path | None = None,
    shared: bool | None = None,
    retries: int | None = None,
    progress: bool | ProgressCallback = True,
) -> BatchResult:
    """Run every run of ``spec`` not finished yet, and return one row per run.

    Args:
        spec: a spec file (YAML or TOML), a dict of the same shape, or a :class:`BatchSpec`.
            It is parsed and checked before anything is submitted.
        client: a ``distributed.Client`` to run on (left open). Without one, a client of
            ``scheduler`` is made, else a ``LocalCluster`` of ``workers`` processes (default:
            one per CPU, at most one per run), both closed at the end.
        out: the batch's dir (run dirs, ``results.csv``, ``results.parquet``,
            ``report.html``); default the spec's ``output.dir``, else ``runs/<spec name>``.
        shared: whether the workers see the client's files (the out dir, dataset paths) at
            the same paths: run dirs are then written in place, else each run dir comes back
            to the client as an archive and datasets are shipped. None: the spec's
            ``output.shared``, else yes for a LocalCluster, else found out by asking every
            worker to read a probe file.
        retries: Dask ``retries=`` per run (default the spec's, 2).
        progress: True prints progress to stderr, False nothing, or a callable taking a
            :class:`~deepthinker_nb.batch.progress.BatchStatus`.
    """
    batch = load_spec(spec)
    distributed = require_distributed()
    out_dir = Path(out or batch.out_dir or Path("runs") / batch.name).expanduser().resolve()
    display = (StderrProgress() if progress is True else None if progress is False
               else progress)
    tracker = ProgressTracker(len(batch.runs), {r.key: r.label for r in batch.runs}, display)
    result = BatchResult(batch.name, out_dir, [])
    rows: dict[str, BatchRow] = {}
    todo: list[RunConfig] = []
    for run in batch.runs:
        done = finished_run_dir(out_dir, run)
        if done is None:
            todo.append(run)
            continue
        rows[run.key] = row_from_run_dir(run, done, cached=True)
        tracker.cached_run(run.key, rows[run.key].best_score)
    submission: _Submission | None = None
    try:
        if todo:
            with _client(distributed, client, scheduler, workers, len(todo)) as (dask, own):
                shared_out = _shared(dask, batch, shared, own, out_dir, todo)
                submission = _Submission(dask, distributed, batch, out_dir, shared_out,
                                         batch.retries if retries is None else retries,
                                         tracker, result, rows)
                submission.run(todo)
        else:
            tracker.note(f"all {len(batch.runs)} runs already finished in {out_dir}")
    finally:
        # Also when interrupted: the runs that ended are recorded, the others say so.
        if rows or submission is not None:
            result.rows = [rows.get(run.key) or BatchRow(run, "cancelled", error="not run")
                           for run in batch.runs]
            result.wall_time = time.perf_counter() - tracker.started
            write_tables(result)
            write_report(result)
    return result


def require_distributed() -> Any:
    """The ``distributed`` module, or a one-line error naming the extra to install."""
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"batch runs need Dask distributed: {EXTRA_HINT}") from None
    return distributed


@contextlib.contextmanager
def _client(distributed: Any, client: Any, scheduler: str | None, workers: int | None,
            runs: int) -> Iterator[tuple[Any, bool]]:
    """(a client, whether it runs on our own LocalCluster); what we made is closed after."""
    if client is not None:
        yield client, False
        return
    if scheduler is not None:
        try:
            made = distributed.Client(scheduler, timeout="30s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        with made:
            yield made, False
        return
    count = workers or max(1, min(os.cpu_count() or 1, runs))
    with distributed.LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                                  silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as made:
        yield made, True


def _shared(client: Any, batch: BatchSpec, shared: bool | None, own_cluster: bool,
            out_dir: Path, runs: list[RunConfig]) -> bool:
    """Whether run dirs are written in place (see :func:`run_batch`'s ``shared``)."""
    if shared is None:
        shared = batch.shared
    if shared is not None:
        return shared
    if own_cluster:
        return True
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    except Exception:
        raise ConfigError(f"no Dask worker joined the scheduler within "
                          f"{WORKER_WAIT_SECONDS:g}s") from None
    name, token = write_probe(out_dir)
    try:
        files = {str(r.dataset.path): r.dataset.path.stat().st_size
                 for r in runs if r.dataset.bundled is None}
        answers = client.run(sees_files, str(out_dir), name, token, files)
    finally:
        remove_probe(out_dir, name)
    return bool(answers) and all(answers.values())


class _Submission:
    """Submits a batch's runs, follows them to the end, and records their rows."""

    def __init__(self, client: Any, distributed: Any, batch: BatchSpec, out_dir: Path,
                 shared: bool, retries: int, tracker: ProgressTracker, result: BatchResult,
                 rows: dict[str, BatchRow]) -> None:
        self.client = client
        self.distributed = distributed
        self.batch = batch
        self.out_dir = out_dir
        self.shared = shared
        self.retries = retries
        self.tracker = tracker
        self.result = result
        self.rows = rows
        self.batch_id = secrets.token_hex(4)
        self.topic = f"deepthinker-batch-{self.batch_id}"
        self._futures: dict[str, tuple[Any, RunConfig]] = {}

    def run(self, todo: list[RunConfig]) -> None:
        client, out_dir = self.client, self.out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        link = _dashboard_link(client)
        self.result.dashboard_link = link
        workers = len(client.scheduler_info().get("workers", {}))
        skipped = len(self.batch.runs) - len(todo)
        self.tracker.note(
            f"batch {self.batch.name!r}: {len(todo)} runs to do ({skipped} already finished) on "
            f"{workers} workers; run dirs {'in' if self.shared else 'sent back to'} {out_dir}; "
            f"dashboard: {link or 'not available (pip install bokeh)'}")
        probe = write_probe(out_dir) if self.shared else None
        client.subscribe_topic(self.topic, self.tracker.worker_event)
        try:
            shipped = self._ship(todo)
            for run in todo:
                key = f"deepthinker-run-{run.slug}-{run.key}-{self.batch_id}"
                task = RunTask(run, self.batch_id, key, str(out_dir), self.shared, probe,
                               self.topic)
                future = client.submit(execute_run, task, shipped.get(run.key), key=key,
                                       retries=self.retries, pure=False)
                self._futures[future.key] = (future, run)
            self._collect()
        except BaseException:
            # Interrupted (Ctrl-C) or broken: stop what still runs; the rows say "cancelled".
            with contextlib.suppress(Exception):
                client.cancel([f for f, _ in self._futures.values() if not f.done()])
            raise
        finally:
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(self.topic)
            if probe is not None:
                remove_probe(out_dir, probe[0])

    def _ship(self, todo: list[RunConfig]) -> dict[str, Any]:
        """Without shared storage, each file dataset goes to the workers once (bundled ones
        are on every worker)."""
        if self.shared:
            return {}
        by_path: dict[Path, Any] = {}
        shipped = {}
        for run in todo:
            if run.dataset.bundled is not None:
                continue
            if run.dataset.path not in by_path:
                by_path[run.dataset.path] = self.client.scatter(run.dataset.path.read_bytes())
            shipped[run.key] = by_path[run.dataset.path]
        return shipped

    def _collect(self) -> None:
        """Record each run as its future ends (complete, failed, or given up by Dask)."""
        pending = [future for future, _ in self._futures.values()]
        for future in self.distributed.as_completed(pending):
            run = self._futures[future.key][1]
            try:
                outcome: TaskOutcome = future.result()
                row = self._row(run, outcome)
            except Exception as exc:  # retries spent, the worker died too often, a bad archive
                row = BatchRow(run, "failed", error=f"{type(exc).__name__}: {exc}"[:500])
            self.rows[run.key] = row
            self.tracker.finished(run.key, row.ok, row.best_score, row.error)
            future.release()

    def _row(self, run: RunConfig, outcome: TaskOutcome) -> BatchRow:
        if outcome.archive is None:
            assert outcome.run_dir is not None
            return row_from_run_dir(run, Path(outcome.run_dir), worker=outcome.worker,
                                    error=outcome.error, duration=outcome.duration)
        run_dir, _attempt = claim_run_dir(self.out_dir, run)
        unpack(outcome.archive, run_dir)
        moved = {str(outcome.worker_run_dir): str(run_dir)}
        if outcome.worker_data_path:
            moved[outcome.worker_data_path] = str(run.dataset.path)
        if outcome.worker_run_dir:
            moved[Path(outcome.worker_run_dir).name] = run_dir.name
        relocate(run_dir, moved)
        return row_from_run_dir(run, run_dir, worker=outcome.worker, error=outcome.error,
                                duration=outcome.duration)


def _dashboard_link(client: Any) -> str | None:
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        return str(client.dashboard_link)
    except Exception:
        return None


__all__ = ["require_distributed", "run_batch"]
