"""Stopping a run whose Dask task is no longer wanted, so its kernels never outlive the task.

Dask cannot interrupt a running task: a cancelled future, a released key or a closing worker
only change the worker's bookkeeping, and the task's thread runs on. The workflow runs in that
thread, so a small watcher thread polls the worker's state of the task. When the task is no
longer wanted it

1. closes the run's kernel pool at once (a cell that is running ends as "died"), and
2. makes the run's next progress event raise :class:`RunCancelled` in the run's thread. It is
   a ``BaseException``, like Ctrl-C: the runner's ``except Exception`` handlers (and its
   progress wrapper, which ignores display errors) let it through to the ``finally`` that
   closes the run's kernels, and the manifest stays "incomplete".

A worker process that dies takes its kernels with it (the in-kernel launcher kills its process
group when its host goes); one that exits normally runs the package's atexit closers.
"""

from __future__ import annotations

import threading
from typing import Any

_WANTED_TASK_STATES = frozenset({"executing", "long-running", "resumed"})
_POLL_SECONDS = 0.25


class RunCancelled(BaseException):
    """Raised in a run's thread once its task is no longer wanted."""


class TaskGuard:
    """Watches the Dask task ``key`` on the current worker (inert outside a worker)."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.reason: str | None = None
        self._worker = _current_worker()
        self._cancelled = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._kernels: list[Any] = []
        self._thread: threading.Thread | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def __enter__(self) -> TaskGuard:
        if self._worker is not None and self.key is not None:
            self._thread = threading.Thread(target=self._watch, daemon=True,
                                            name=f"deepthinker-batch-guard-{self.key}")
            self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def watch(self, runner: Any) -> None:
        """Adopt the kernels ``runner`` starts (its placement's ``start``), to close them on
        cancellation. A runner-level cancel hook would make this unnecessary."""
        placement = runner.placement
        start = placement.start

        def start_and_adopt(*args: Any, **kwargs: Any) -> Any:
            kernels = start(*args, **kwargs)
            with self._lock:
                self._kernels.append(kernels)
            if self.cancelled:
                _close(kernels)
            return kernels

        placement.start = start_and_adopt

    def check(self) -> None:
        """Raise :class:`RunCancelled` when the task was cancelled (called at progress
        events, in the run's thread)."""
        if self._cancelled.is_set():
            raise RunCancelled(self.reason or "cancelled")

    def cancel(self, reason: str) -> None:
        """Stop the run: close its kernels now, raise at its next progress event."""
        self.reason = reason
        self._cancelled.set()
        with self._lock:
            kernels = list(self._kernels)
        for item in kernels:
            _close(item)

    def _watch(self) -> None:
        while not self._done.wait(_POLL_SECONDS):
            reason = self._unwanted()
            if reason is not None:
                self.cancel(reason)
                return

    def _unwanted(self) -> str | None:
        from distributed.core import Status

        worker = self._worker
        if worker.status not in (Status.running, Status.paused, Status.closing_gracefully):
            return f"worker {worker.address} is {worker.status.name}"
        task = worker.state.tasks.get(self.key)
        if task is None or task.state not in _WANTED_TASK_STATES:
            return f"task {self.key} was {'released' if task is None else task.state}"
        return None


def _current_worker() -> Any:
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _close(kernels: Any) -> None:
    try:
        kernels.close()
    except Exception:
        pass  # already closed by the runner, or its loop is gone with the process


__all__ = ["RunCancelled", "TaskGuard"]
