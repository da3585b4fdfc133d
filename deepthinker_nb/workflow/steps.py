"""One step of a run (a council call or a kernel execution): timed, retried, captured.

The runner calls ``steps.run("coding", "propose 2", coder.propose, request)`` and gets back a
``StepRecord``; it never needs its own try/except or stopwatch, so it reads as the list of phases.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deepthinker_nb.errors import KernelStartError

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (KernelStartError, ConnectionError,
                                                     TimeoutError)


@dataclass
class StepRecord:
    phase: str
    name: str
    status: str = "ok"
    """``ok`` or ``error``."""
    started: float = 0.0
    duration: float = 0.0
    attempts: int = 0
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    result: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "name": self.name, "status": self.status,
                "duration": round(self.duration, 4), "attempts": self.attempts,
                "error": self.error, "error_type": self.error_type}


class StepExecutor:
    """Runs steps and keeps their records (for the manifest's timings)."""

    def __init__(self, retries: int = 1,
                 retry_on: tuple[type[BaseException], ...] = TRANSIENT_ERRORS,
                 backoff: float = 0.5):
        self.retries = retries
        self.retry_on = retry_on
        self.backoff = backoff
        self.records: list[StepRecord] = []

    def run(self, phase: str, name: str, fn: Callable[..., Any], *args: Any,
            retries: int | None = None, raise_errors: bool = False, **kwargs: Any) -> StepRecord:
        """Call ``fn``; retry transient failures; capture any other exception in the record.

        ``raise_errors=True`` re-raises after recording (for steps the run cannot go on without).
        """
        allowed = self.retries if retries is None else retries
        record = StepRecord(phase, name, started=time.time())
        start = time.perf_counter()
        try:
            while True:
                record.attempts += 1
                try:
                    record.result = fn(*args, **kwargs)
                    record.status = "ok"
                    break
                except self.retry_on as exc:
                    if record.attempts > allowed:
                        raise
                    time.sleep(self.backoff * record.attempts)
                    del exc
        except Exception as exc:
            record.status = "error"
            record.error = f"{type(exc).__name__}: {exc}"
            record.error_type = type(exc).__name__
            record.traceback = traceback.format_exc()
            if raise_errors:
                record.duration = time.perf_counter() - start
                self._keep(record)
                raise
        record.duration = time.perf_counter() - start
        self._keep(record)
        return record

    def _keep(self, record: StepRecord) -> None:
        self.records.append(record)

    def phase_timings(self) -> dict[str, float]:
        """Seconds spent per phase, summed over its steps."""
        timings: dict[str, float] = {}
        for record in self.records:
            timings[record.phase] = round(timings.get(record.phase, 0.0) + record.duration, 4)
        return timings
