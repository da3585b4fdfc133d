"""A batch's live progress: runs done, failed and running, and the best score so far.

The client learns of finished runs from their futures and of started runs and new best scores
from the workers' Dask events (which arrive on the client's event-loop thread), so the tracker
is locked and hands each change to a display as a :class:`BatchStatus` snapshot.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class BatchStatus:
    """Where the batch stands; ``message`` says what just happened."""

    total: int
    done: int
    failed: int
    cached: int
    running: int
    best_score: float | None
    best_label: str | None
    elapsed: float
    message: str = ""


ProgressCallback = Callable[[BatchStatus], None]


class ProgressTracker:
    """Counts runs by state; each change goes to ``callback`` (errors it raises are ignored)."""

    def __init__(self, total: int, labels: dict[str, str],
                 callback: ProgressCallback | None) -> None:
        self.total = total
        self.labels = labels
        """run key -> its label."""
        self.callback = callback
        self.started = time.perf_counter()
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._finished: set[str] = set()
        self.done = self.failed = self.cached = 0
        self.best_score: float | None = None
        self.best_label: str | None = None

    def note(self, message: str) -> None:
        with self._lock:
            self._emit(message)

    def cached_run(self, key: str, score: float | None) -> None:
        with self._lock:
            self._finished.add(key)
            self.done += 1
            self.cached += 1
            self._better(key, score)

    def worker_event(self, event: Any) -> None:
        """A Dask event ``(timestamp, {"run", "event", ...})`` from a worker."""
        message = event[1] if isinstance(event, tuple) and len(event) == 2 else event
        if not isinstance(message, dict):
            return
        key = message.get("run")
        with self._lock:
            if key in self._finished:
                return
            if message.get("event") == "started":
                self._running.add(key)
                self._emit(f"started {self.labels.get(key, key)} on {message.get('worker')}")
            elif message.get("event") == "progress" and self._better(key, message.get("best")):
                self._emit(f"new best {self.best_score:.2f}: {self.best_label}")

    def finished(self, key: str, ok: bool, score: float | None, reason: str | None) -> None:
        with self._lock:
            self._running.discard(key)
            self._finished.add(key)
            self.done += 1
            self.failed += not ok
            self._better(key, score if ok else None)
            label = self.labels.get(key, key)
            self._emit(f"finished {label}" if ok else f"failed {label}: {reason or '?'}")

    def status(self, message: str = "") -> BatchStatus:
        return BatchStatus(self.total, self.done, self.failed, self.cached, len(self._running),
                           self.best_score, self.best_label,
                           time.perf_counter() - self.started, message)

    def _better(self, key: str, score: Any) -> bool:
        if not isinstance(score, (int, float)):
            return False
        if self.best_score is not None and score <= self.best_score:
            return False
        self.best_score = float(score)
        self.best_label = self.labels.get(key, key)
        return True

    def _emit(self, message: str) -> None:
        if self.callback is None:
            return
        try:
            self.callback(self.status(message))
        except Exception:
            pass  # a broken display must not break the batch


class StderrProgress:
    """One line per change: ``[  12.3s] 3/8 done, 1 failed, 2 running, best 9.00 | what``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def __call__(self, status: BatchStatus) -> None:
        stream = self.stream or sys.stderr
        best = f", best {status.best_score:.2f}" if status.best_score is not None else ""
        stream.write(f"[{status.elapsed:7.1f}s] {status.done}/{status.total} done, "
                     f"{status.failed} failed, {status.running} running{best} | "
                     f"{status.message}\n")
        stream.flush()


__all__ = ["BatchStatus", "ProgressCallback", "ProgressTracker", "StderrProgress"]
