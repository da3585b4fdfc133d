"""Reading recorded runs: a one-line :class:`RunSummary` per run, and a :class:`Run` in full.

A manifest is data, not code we wrote a moment ago: a run dir may come from an older version,
from a run that was killed mid-way, or from someone else's archive. Every field is read
defensively (wrong type or missing: ``None``), and a manifest that cannot be read at all makes
the run ``unreadable`` instead of raising, so one broken run never hides the others.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from deepthinker_nb.config.data import PRIMARY_METRIC
from deepthinker_nb.runs.resolve import DEFAULT_RUNS_DIR, MANIFEST_NAME, resolve_run, run_dirs
from deepthinker_nb.untrusted import read_untrusted_text

MAX_MANIFEST_BYTES = 32 * 1024 * 1024
"""A manifest larger than this is not read (a real one is tens of kilobytes)."""
STATUSES = ("complete", "incomplete", "failed", "unreadable")


# -- defensive field access --------------------------------------------------------------------
def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def run_path(run_dir: Path, value: Any) -> Path | None:
    """A path the manifest records, as a path on this machine: relative ones (new runs) are
    relative to the run dir; absolute ones (older runs) are kept, unless they no longer exist
    and point into a run dir of the same name, i.e. the run was moved: then they are mapped
    into ``run_dir``."""
    text = _str(value)
    if text is None:
        return None
    path = Path(text)
    if not path.is_absolute():
        return run_dir / path
    if not path.exists() and run_dir.name in path.parts:
        parts = path.parts
        tail = parts[len(parts) - 1 - parts[::-1].index(run_dir.name) + 1:]
        moved = run_dir.joinpath(*tail) if tail else run_dir
        if moved.exists():
            return moved
    return path


def read_manifest_safely(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the manifest, None), or (None, why it cannot be read) - never raises for bad data."""
    path = run_dir / MANIFEST_NAME
    try:
        text = read_untrusted_text(path, max_bytes=MAX_MANIFEST_BYTES)
    except (OSError, ValueError) as exc:
        return None, f"{MANIFEST_NAME} unreadable: {exc}"
    except Exception as exc:  # UntrustedFileError and kin: a refusal, told in one line
        return None, f"{MANIFEST_NAME} refused: {exc}"
    try:
        manifest = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, f"{MANIFEST_NAME} is not valid JSON ({str(exc).splitlines()[0]})"
    if not isinstance(manifest, dict):
        return None, f"{MANIFEST_NAME} is not a JSON object"
    return manifest, None


# -- records -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunIteration:
    """One coding iteration as the manifest records it."""

    index: int
    status: str
    model: str | None = None
    score: float | None = None
    primary_value: float | None = None
    duration: float | None = None
    error: str | None = None
    notebook: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "status": self.status, "model": self.model,
                "score": self.score, "primary_value": self.primary_value,
                "duration": self.duration, "error": self.error,
                "notebook": str(self.notebook) if self.notebook else None,
                "metrics": dict(self.metrics)}


@dataclass(frozen=True)
class RunSummary:
    """What a table of runs shows about one run.

    ``status`` is the manifest's (``complete``, ``incomplete``, ``failed``) or ``unreadable``
    when the manifest cannot be read (``error`` says why); :attr:`label` says ``resumable`` for
    an incomplete run that has finished iterations to continue from.
    """

    id: str
    path: Path
    status: str
    started: datetime | None = None
    dataset: str | None = None
    target: str | None = None
    task: str | None = None
    backend: str | None = None
    best_iteration: int | None = None
    best_score: float | None = None
    primary_metric: str | None = None
    primary_value: float | None = None
    iterations_done: int = 0
    max_iterations: int | None = None
    duration: float | None = None
    error: str | None = None

    @property
    def resumable(self) -> bool:
        return self.status == "incomplete" and self.iterations_done > 0

    @property
    def label(self) -> str:
        return "resumable" if self.resumable else self.status

    @property
    def iterations_text(self) -> str:
        return f"{self.iterations_done}/{self.max_iterations if self.max_iterations else '?'}"

    @property
    def primary_text(self) -> str:
        if self.primary_metric is None or self.primary_value is None:
            return "-"
        return f"{self.primary_metric}={self.primary_value:.4f}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "path": str(self.path), "status": self.status,
            "resumable": self.resumable,
            "started": self.started.isoformat() if self.started else None,
            "dataset": self.dataset, "target": self.target, "task": self.task,
            "backend": self.backend, "best_iteration": self.best_iteration,
            "best_score": self.best_score, "primary_metric": self.primary_metric,
            "primary_value": self.primary_value, "iterations_done": self.iterations_done,
            "max_iterations": self.max_iterations, "duration": self.duration,
            "error": self.error,
        }

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(f"<tr><th style='text-align:left'>{esc(k)}</th><td>{esc(v)}</td></tr>"
                       for k, v in summary_fields(self))
        return (f"<div><b>run <code>{esc(self.id)}</code></b> · {esc(self.label)}</div>"
                f"<table>{rows}</table><div><code>{esc(str(self.path))}</code></div>")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_started(started: datetime | None) -> str:
    return started.strftime("%Y-%m-%d %H:%M") if started else "-"


def summary_fields(summary: RunSummary) -> list[tuple[str, str]]:
    """(label, text) pairs of a summary, for HTML and the terminal alike."""
    score = "-" if summary.best_score is None else f"{summary.best_score:.2f}/10"
    if summary.best_iteration is not None:
        score += f" (iteration {summary.best_iteration})"
    return [
        ("status", summary.label), ("started", format_started(summary.started)),
        ("dataset", summary.dataset or "-"), ("target", summary.target or "-"),
        ("task", summary.task or "-"), ("backend", summary.backend or "-"),
        ("best score", score), ("primary metric", summary.primary_text),
        ("iterations", summary.iterations_text),
        ("duration", format_duration(summary.duration)),
        *([("error", summary.error)] if summary.error else []),
    ]


@dataclass(frozen=True)
class Run:
    """One run in full: its summary, the manifest as read, and what ``runs show`` prints."""

    summary: RunSummary
    manifest: dict[str, Any]
    iterations: list[RunIteration]
    config: dict[str, Any]
    stop_reason: str | None
    simulation: str | None
    paths: dict[str, Path]
    resumes: int = 0
    """How many times ``deepthinker-nb resume`` continued this run."""

    @property
    def id(self) -> str:
        return self.summary.id

    @property
    def path(self) -> Path:
        return self.summary.path

    def scores(self) -> list[float | None]:
        return [it.score for it in self.iterations]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary.to_dict(),
            "config": self.config,
            "iterations": [it.to_dict() for it in self.iterations],
            "stop_reason": self.stop_reason, "simulation": self.simulation,
            "paths": {k: str(v) for k, v in self.paths.items()},
            "resumes": self.resumes,
        }

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><td>{it.index}</td><td>{esc(it.status)}</td><td>{esc(it.model or '-')}</td>"
            f"<td>{_fmt(it.score, '.2f')}</td><td>{_fmt(it.primary_value, '.4f')}</td>"
            f"<td>{esc(format_duration(it.duration))}</td><td>{esc(it.error or '')}</td></tr>"
            for it in self.iterations)
        return (self.summary._repr_html_()
                + "<table><tr><th>#</th><th>status</th><th>model</th><th>score</th>"
                f"<th>{esc(self.summary.primary_metric or 'primary')}</th><th>time</th>"
                f"<th>error</th></tr>{rows}</table>")


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


# -- reading -----------------------------------------------------------------------------------
def _primary_metric(manifest: dict[str, Any], task: str | None) -> str | None:
    return (_str(_dict(manifest.get("plan")).get("metric"))
            or _str(_dict(manifest.get("simulation")).get("primary"))
            or PRIMARY_METRIC.get(task or ""))


def _iterations(run_dir: Path, manifest: dict[str, Any],
                primary: str | None) -> list[RunIteration]:
    records = []
    raw = manifest.get("iterations")
    for position, entry in enumerate(raw if isinstance(raw, list) else [], start=1):
        entry = _dict(entry)
        metrics = {k: v for k, v in _dict(entry.get("metrics")).items()
                   if isinstance(k, str) and _num(v) is not None}
        records.append(RunIteration(
            index=_int(entry.get("index")) or position,
            status=_str(entry.get("status")) or "unknown",
            model=_str(entry.get("model")),
            score=_num(entry.get("score")),
            primary_value=_num(metrics.get(primary)) if primary else None,
            duration=_num(entry.get("duration")),
            error=_str(entry.get("error")),
            notebook=run_path(run_dir, entry.get("notebook")),
            metrics=metrics,
        ))
    return records


def _duration(manifest: dict[str, Any]) -> float | None:
    wall = _num(manifest.get("wall_time"))
    if wall is not None and wall >= 0:
        return wall
    started = _time(manifest.get("started"))
    ended = _time(manifest.get("finished")) or _time(manifest.get("updated"))
    if started and ended and ended >= started:
        return (ended - started).total_seconds()
    return None


def _summary(run_dir: Path, manifest: dict[str, Any] | None, error: str | None,
             iterations: list[RunIteration]) -> RunSummary:
    run_id = run_dir.name
    if manifest is None:
        return RunSummary(id=run_id, path=run_dir, status="unreadable", error=error)
    data_config = _dict(manifest.get("data_config"))
    dataset = _dict(manifest.get("dataset"))
    task = _str(dataset.get("task_type")) or _str(data_config.get("task_type"))
    primary = _primary_metric(manifest, task)
    source = _str(dataset.get("path")) or _str(data_config.get("data_path"))
    best_iteration = _int(manifest.get("best_iteration"))
    best = next((it for it in iterations if it.index == best_iteration), None)
    best_score = _num(manifest.get("quality_score"))
    if best_score is None and best is not None:
        best_score = best.score
    metrics = _dict(manifest.get("metrics"))
    primary_value = _num(metrics.get(primary)) if primary else None
    if primary_value is None and best is not None:
        primary_value = best.primary_value
    status = _str(manifest.get("status"))
    return RunSummary(
        id=run_id,
        path=run_dir,
        status=status or "unreadable",
        started=_time(manifest.get("started")),
        dataset=Path(source).name if source else None,
        target=_str(dataset.get("target")) or _str(data_config.get("target_column")),
        task=task,
        backend=_str(manifest.get("backend")) or _str(data_config.get("execution_backend")),
        best_iteration=best_iteration,
        best_score=best_score,
        primary_metric=primary,
        primary_value=primary_value,
        iterations_done=len(iterations),
        max_iterations=_int(_dict(manifest.get("iteration_config")).get("max_iterations")),
        duration=_duration(manifest),
        error=_str(manifest.get("error")) if status else f"{MANIFEST_NAME} has no status",
    )


def _config(manifest: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide a run, by section (what ``runs compare`` diffs)."""
    sections = ("data_config", "iteration_config", "seeds", "councils", "kernel")
    config: dict[str, Any] = {name: manifest[name] for name in sections
                              if isinstance(manifest.get(name), dict)}
    for name in ("backend", "metric_weight", "scan", "cell_timeout", "time_budget"):
        if name in manifest:
            config[name] = manifest[name]
    sha = _dict(manifest.get("dataset")).get("sha256")
    if sha is not None:
        config["dataset_sha256"] = sha
    return config


def _paths(run_dir: Path, manifest: dict[str, Any],
           iterations: list[RunIteration]) -> dict[str, Path]:
    """The files of a run worth opening, those that exist (manifest paths first, then the
    run dir's usual names)."""
    candidates: list[tuple[str, Path | None]] = [
        ("manifest", run_dir / MANIFEST_NAME),
        ("run notebook", run_path(run_dir, _dict(manifest.get("run_notebook")).get("path"))
         or run_dir / "run.ipynb"),
        ("research notebook", run_path(run_dir, _dict(manifest.get("research")).get("notebook"))
         or run_dir / "research.ipynb"),
        *((f"iteration {it.index}", it.notebook) for it in iterations),
        ("simulation notebook", run_dir / "simulation.ipynb"),
        ("report", run_path(run_dir, manifest.get("report")) or run_dir / "report.html"),
    ]
    paths: dict[str, Path] = {}
    for name, path in candidates:
        try:
            if path is not None and path.exists():
                paths[name] = path
        except OSError:
            continue
    return paths


def load_summary(run_dir: str | os.PathLike[str]) -> RunSummary:
    """The summary of the run in ``run_dir`` (``unreadable`` rather than an exception)."""
    return _load(Path(run_dir)).summary


def _load(run_dir: Path) -> Run:
    manifest, error = read_manifest_safely(run_dir)
    data = manifest or {}
    try:
        primary = _primary_metric(data, _str(_dict(data.get("dataset")).get("task_type"))
                                  or _str(_dict(data.get("data_config")).get("task_type")))
        iterations = _iterations(run_dir, data, primary)
        summary = _summary(run_dir, manifest, error, iterations)
        return Run(
            summary=summary, manifest=data, iterations=iterations, config=_config(data),
            stop_reason=_str(data.get("stop_reason")),
            simulation=_str(_dict(data.get("simulation")).get("summary")),
            paths=_paths(run_dir, data, iterations),
            resumes=len(resumed) if isinstance(resumed := data.get("resumed"), list) else 0)
    except Exception as exc:  # a shape no field access foresaw: still one line, not a traceback
        summary = RunSummary(id=run_dir.name, path=run_dir, status="unreadable",
                             error=f"{MANIFEST_NAME} has an unexpected shape "
                                   f"({type(exc).__name__}: {exc})")
        return Run(summary, {}, [], {}, None, None, {})


def load_run(name: str | os.PathLike[str],
             runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR) -> Run:
    """The run named ``name`` (an id, a unique id prefix or a run directory; see
    :func:`~deepthinker_nb.runs.resolve_run`), read in full."""
    return _load(resolve_run(name, runs_dir))


def _sort_key(summary: RunSummary) -> tuple[float, str]:
    if summary.started is not None:
        return summary.started.timestamp(), summary.id
    try:
        return (summary.path / MANIFEST_NAME).stat().st_mtime, summary.id
    except OSError:
        return 0.0, summary.id


class RunList(list[RunSummary]):
    """A plain list of summaries that shows as one table in Jupyter."""

    def _repr_html_(self) -> str:
        esc = html.escape
        if not self:
            return "<p>no runs</p>"

        def cells(summary: RunSummary) -> list[tuple[str, str]]:
            return [("id", summary.id),
                    *((k, v) for k, v in summary_fields(summary) if k != "error")]

        rows = "".join("<tr>" + "".join(f"<td>{esc(text)}</td>" for _, text in cells(s))
                       + "</tr>" for s in self)
        head = "".join(f"<th>{esc(label)}</th>" for label, _ in cells(self[0]))
        return f"<table><tr>{head}</tr>{rows}</table>"


def list_runs(runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR) -> RunList:
    """A summary of every run directly under ``runs_dir``, newest first (an absent dir: [])."""
    summaries = [load_summary(path) for path in run_dirs(runs_dir)]
    return RunList(sorted(summaries, key=_sort_key, reverse=True))


__all__ = [
    "Run",
    "RunIteration",
    "RunList",
    "RunSummary",
    "list_runs",
    "load_run",
    "load_summary",
    "run_path",
]
