"""A batch's results: one typed row per run, read from the run's manifest, and the tables.

Rows of runs that ran and of runs skipped because an earlier batch finished them come from the
same place (the run dir's ``manifest.json``), so a re-run's table matches a fresh one.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepthinker_nb.batch.config import RunConfig
from deepthinker_nb.batch.storage import attempt_of

RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
STATUSES = ("complete", "failed", "cancelled")


@dataclass
class BatchRow:
    """One run of a batch: its config, what became of it, and where it is."""

    run: RunConfig
    status: str
    """``complete``, ``failed`` (with ``error``), or ``cancelled`` (the batch was stopped)."""
    best_score: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    duration: float | None = None
    """Seconds the workflow took (from its manifest), else the task's time."""
    error: str | None = None
    run_dir: Path | None = None
    cached: bool = False
    """Finished by an earlier batch run: skipped, not run again."""
    attempt: int | None = None
    worker: str | None = None
    best_iteration: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "complete"

    def to_record(self) -> dict[str, Any]:
        """A flat row for the tables: config columns, outcome, one ``metric_<name>`` column
        per metric."""
        record = {
            **self.run.to_record(), "status": self.status, "best_score": self.best_score,
            "best_iteration": self.best_iteration, "duration": self.duration,
            "cached": self.cached, "attempt": self.attempt, "worker": self.worker,
            "error": self.error, "run_dir": str(self.run_dir) if self.run_dir else None,
            "config_hash": self.run.config_hash,
        }
        for name, value in sorted(self.metrics.items()):
            record[f"metric_{name}"] = value
        return record


def row_from_run_dir(run: RunConfig, run_dir: Path, *, cached: bool = False,
                     worker: str | None = None, error: str | None = None,
                     duration: float | None = None) -> BatchRow:
    """The row of a run whose dir exists: status, best score, metrics and duration from its
    manifest; ``error`` (from the task) wins over the manifest's."""
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return BatchRow(run, "failed", error=error or f"no readable manifest: {exc}",
                        run_dir=run_dir, cached=cached, attempt=attempt_of(run_dir),
                        worker=worker, duration=duration)
    status = "complete" if manifest.get("status") == "complete" and error is None else "failed"
    if status == "failed" and error is None:
        error = manifest.get("error") or f"run {manifest.get('status', 'incomplete')}"
    metrics = {k: float(v) for k, v in (manifest.get("metrics") or {}).items()
               if isinstance(v, (int, float)) and math.isfinite(v)}
    score = manifest.get("quality_score")
    wall = manifest.get("wall_time")
    return BatchRow(
        run, status, float(score) if isinstance(score, (int, float)) else None, metrics,
        float(wall) if isinstance(wall, (int, float)) else duration, error, run_dir, cached,
        attempt_of(run_dir), worker, manifest.get("best_iteration"))


@dataclass
class BatchResult:
    """What :func:`~deepthinker_nb.batch.run_batch` returns: the rows, in spec order, and the
    files written (``results.csv``, ``results.parquet``, ``report.html`` in ``out_dir``)."""

    name: str
    out_dir: Path
    rows: list[BatchRow]
    wall_time: float = 0.0
    results_csv: Path | None = None
    results_parquet: Path | None = None
    report_path: Path | None = None
    dashboard_link: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return sum(row.ok for row in self.rows)

    @property
    def failed(self) -> int:
        return sum(row.status == "failed" for row in self.rows)

    @property
    def cached(self) -> int:
        return sum(row.cached for row in self.rows)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(row.ok for row in self.rows)

    @property
    def best(self) -> BatchRow | None:
        scored = [row for row in self.rows if row.ok and row.best_score is not None]
        return max(scored, key=lambda row: row.best_score or 0.0) if scored else None

    def to_frame(self) -> Any:
        """A pandas DataFrame, one row per run (the same columns as ``results.csv``)."""
        import pandas as pd

        return pd.DataFrame([row.to_record() for row in self.rows])

    def summary(self) -> str:
        lines = [f"batch {self.name}: {len(self.rows)} runs, {self.completed} complete, "
                 f"{self.failed} failed, {self.cached} already finished; "
                 f"{self.wall_time:.1f}s"]
        width = max((len(row.run.label) for row in self.rows), default=10)
        for row in self.rows:
            score = f"{row.best_score:5.2f}" if row.best_score is not None else "    -"
            took = f"{row.duration:6.1f}s" if row.duration is not None else "      -"
            note = " (cached)" if row.cached else ""
            reason = f"  {row.error.splitlines()[0][:80]}" if row.error else ""
            lines.append(f"  {row.run.label:<{width}}  {row.status:<9} {score} {took}"
                         f"{note}{reason}")
        best = self.best
        if best is not None:
            lines.append(f"best: {best.best_score:.2f} {best.run.label} ({best.run_dir})")
        for label, path in (("results", self.results_csv), ("parquet", self.results_parquet),
                            ("report", self.report_path)):
            if path is not None:
                lines.append(f"{label}: {path}")
        lines.extend(self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        body = "".join(
            f"<tr><td>{esc(row.run.dataset.label)}</td><td>{row.run.seed}</td>"
            f"<td>{esc(row.run.config_label)}</td><td>{esc(row.status)}"
            f"{' (cached)' if row.cached else ''}</td>"
            f"<td>{'' if row.best_score is None else f'{row.best_score:.2f}'}</td>"
            f"<td>{esc(', '.join(f'{k} {v:.4f}' for k, v in row.metrics.items()))}</td>"
            f"<td>{'' if row.duration is None else f'{row.duration:.1f}s'}</td>"
            f"<td>{esc((row.error or '').splitlines()[0][:120] if row.error else '')}</td></tr>"
            for row in self.rows)
        return (f"<div><b>DeepThinker batch <code>{esc(self.name)}</code></b> · "
                f"{len(self.rows)} runs · {self.completed} complete · {self.failed} failed · "
                f"{self.cached} cached · {self.wall_time:.1f}s</div>"
                "<table><tr><th>dataset</th><th>seed</th><th>config</th><th>status</th>"
                "<th>best score</th><th>metrics</th><th>time</th><th>error</th></tr>"
                f"{body}</table><div><code>{esc(str(self.out_dir))}</code></div>")


def write_tables(result: BatchResult) -> None:
    """``results.csv`` and ``results.parquet`` in the out dir (Parquet needs pyarrow; without
    it the CSV is written and a note says so)."""
    frame = result.to_frame()
    result.out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = result.out_dir / RESULTS_CSV
    frame.to_csv(csv_path, index=False)
    result.results_csv = csv_path
    parquet_path = result.out_dir / RESULTS_PARQUET
    try:
        frame.to_parquet(parquet_path, index=False)
    except ImportError as exc:
        result.notes.append(f"no Parquet file: {exc}")
    else:
        result.results_parquet = parquet_path


__all__ = ["BatchResult", "BatchRow", "row_from_run_dir", "write_tables"]
