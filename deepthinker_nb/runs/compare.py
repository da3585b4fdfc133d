"""Runs side by side: the settings that differ, every metric, the score of each iteration.

The comparison is a typed record (:class:`RunComparison`) so notebooks, ``--json`` and the
terminal all show the same thing; the chart is text here, and a matplotlib figure in
:func:`plot_scores` (imported only when a figure is asked for).
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepthinker_nb.errors import DeepThinkerError
from deepthinker_nb.runs.catalog import Run, load_run
from deepthinker_nb.runs.resolve import DEFAULT_RUNS_DIR

PLOT_SUFFIXES = (".png", ".svg")
SPARK = "▁▂▃▄▅▆▇█"
FAILED_MARK = "×"
_MISSING = object()


class CompareError(DeepThinkerError, ValueError):
    """A comparison cannot be made or drawn as asked (one line naming the flag)."""


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value} if prefix else {}


@dataclass(frozen=True)
class RunComparison:
    """Runs compared: ``config`` holds only the settings that differ (a missing setting is
    ``None``), ``metrics`` every metric any run has, ``scores`` each run's score per
    iteration (``None`` for an iteration that produced no score)."""

    runs: list[Run]
    config: dict[str, list[Any]]
    metrics: dict[str, list[float | None]]
    scores: list[list[float | None]]

    @property
    def ids(self) -> list[str]:
        return [run.id for run in self.runs]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [run.summary.to_dict() for run in self.runs],
                "config": self.config, "metrics": self.metrics, "scores": self.scores}

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th>{esc(i)}</th>" for i in self.ids)

        def rows(table: dict[str, list[Any]]) -> str:
            return "".join(f"<tr><th style='text-align:left'>{esc(k)}</th>"
                           + "".join(f"<td>{esc(_cell(v))}</td>" for v in values) + "</tr>"
                           for k, values in table.items())

        return (f"<table><tr><th></th>{head}</tr>{rows(headline(self))}{rows(self.config)}"
                f"{rows(self.metrics)}{rows(score_table(self))}</table>")


def compare_runs(names: Sequence[str | os.PathLike[str]],
                 runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR) -> RunComparison:
    """Compare the runs ``names`` (ids, unique prefixes or run directories; at least two)."""
    if len(names) < 2:
        raise CompareError("runs compare needs at least two runs: "
                           "deepthinker-nb runs compare RUN RUN [RUN...]")
    runs = [load_run(name, runs_dir) for name in names]
    flat = [flatten(run.config) for run in runs]
    keys = sorted({key for config in flat for key in config})
    config = {}
    for key in keys:
        values = [config.get(key, _MISSING) for config in flat]
        if any(v != values[0] for v in values[1:]):
            config[key] = [None if v is _MISSING else v for v in values]
    metric_names = list(dict.fromkeys(name for run in runs for name in _run_metrics(run)))
    metrics = {name: [_run_metrics(run).get(name) for run in runs] for name in metric_names}
    return RunComparison(runs, config, metrics, [run.scores() for run in runs])


def _run_metrics(run: Run) -> dict[str, float]:
    """The run's metrics (its best iteration's held-out metrics)."""
    raw = run.manifest.get("metrics")
    if isinstance(raw, dict) and raw:
        return {k: float(v) for k, v in raw.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
    best = next((it for it in run.iterations if it.index == run.summary.best_iteration), None)
    return dict(best.metrics) if best else {}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def headline(comparison: RunComparison) -> dict[str, list[Any]]:
    """The rows every comparison starts with."""
    summaries = [run.summary for run in comparison.runs]
    return {
        "status": [s.label for s in summaries],
        "dataset": [s.dataset for s in summaries],
        "best score": [None if s.best_score is None else round(s.best_score, 2)
                       for s in summaries],
        "iterations": [s.iterations_text for s in summaries],
    }


def score_table(comparison: RunComparison) -> dict[str, list[Any]]:
    """``score it.N`` rows, one per iteration index of the longest run."""
    longest = max((len(s) for s in comparison.scores), default=0)
    return {f"score it.{i + 1}": [s[i] if i < len(s) else None for s in comparison.scores]
            for i in range(longest)}


def sparkline(scores: Sequence[float | None], low: float = 0.0, high: float = 10.0) -> str:
    """One character per iteration, its height the score on ``low..high`` (× for no score)."""
    marks = []
    for score in scores:
        if score is None:
            marks.append(FAILED_MARK)
            continue
        share = (min(max(score, low), high) - low) / ((high - low) or 1.0)
        marks.append(SPARK[min(int(share * len(SPARK)), len(SPARK) - 1)])
    return "".join(marks)


def text_chart(comparison: RunComparison) -> list[str]:
    """A compact chart of score by iteration, one line per run; the bars share one scale,
    from the lowest to the highest score of all runs, so small differences show."""
    width = max(len(i) for i in comparison.ids)
    known = [s for scores in comparison.scores for s in scores if s is not None]
    low, high = (min(known), max(known)) if known else (0.0, 10.0)
    if high - low < 1e-9:
        low, high = low - 1.0, high + 1.0
    lines = [f"score by iteration (bars from {low:.2f} to {high:.2f}; "
             f"{FAILED_MARK} no score)"]
    for run_id, scores in zip(comparison.ids, comparison.scores, strict=True):
        values = " ".join("  -  " if s is None else f"{s:5.2f}" for s in scores)
        bars = sparkline(scores, low, high)
        lines.append(f"  {run_id:<{width}}  {bars:<{max(len(bars), 8)}}  {values}")
    return lines


def plot_scores(comparison: RunComparison, path: str | os.PathLike[str]) -> Path:
    """Draw score per iteration, one line per run, into ``path`` (.png or .svg)."""
    target = Path(path)
    if target.suffix.lower() not in PLOT_SUFFIXES:
        raise CompareError(f"--plot {target}: the file must end in .png or .svg")
    if not target.parent.is_dir():
        raise CompareError(f"--plot {target}: folder {target.parent} does not exist; "
                           "create it or give another path")
    # An Agg canvas of its own: no pyplot, so a notebook's matplotlib backend is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for run_id, scores in zip(comparison.ids, comparison.scores, strict=True):
        xs = list(range(1, len(scores) + 1))
        ys = [float("nan") if s is None else s for s in scores]
        axes.plot(xs, ys, marker="o", label=run_id)
    longest = max((len(s) for s in comparison.scores), default=1)
    axes.set_xticks(range(1, longest + 1))
    axes.set_xlabel("iteration")
    axes.set_ylabel("quality score (0..10)")
    axes.set_ylim(0, 10)
    axes.set_title("score per iteration")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.savefig(target)
    return target


__all__ = ["CompareError", "RunComparison", "compare_runs", "flatten", "plot_scores",
           "sparkline", "text_chart"]
