"""Typed results of a workflow run: one record per iteration, and the run as a whole."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepthinker_nb.workflow.councils.base import Plan, ResearchSummary, SimulationReport

_BOLD = ' style="font-weight:bold"'
FAILURE_STATUSES = ("error", "timeout", "died", "blocked", "invalid_predictions")


@dataclass
class ProgressEvent:
    """What a live display shows: the phase, a message, and where the loop stands."""

    phase: str
    message: str
    iteration: int | None = None
    score: float | None = None
    best_score: float | None = None
    status: str | None = None
    elapsed: float = 0.0


@dataclass
class IterationRecord:
    index: int
    """1-based; the notebook is ``iterations/NN.ipynb``."""
    cells: list[str]
    model: str
    rationale: str
    status: str
    """``ok`` or one of error, timeout, died, blocked, invalid_predictions."""
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    """The quality score the stopping rule used (0 for a failed iteration)."""
    metric_score: float = 0.0
    feedback: str = ""
    duration: float = 0.0
    notebook_path: Path | None = None
    scan: list[dict[str, Any]] = field(default_factory=list)
    """Per executed cell: index, status, verdict, findings."""
    stdout: str = ""
    diagnostic_cells: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "model": self.model, "status": self.status, "error": self.error,
            "metrics": self.metrics, "score": self.score, "metric_score": self.metric_score,
            "feedback": self.feedback, "duration": round(self.duration, 4),
            # Relative to the run dir, which may move (iterations/NN.ipynb).
            "notebook": (f"iterations/{self.notebook_path.name}" if self.notebook_path
                         else None),
            "scan": self.scan, "rationale": self.rationale,
            "cells": list(self.cells), "diagnostic_cells": list(self.diagnostic_cells),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], run_dir: Path) -> IterationRecord:
        """The record a manifest kept (``resume`` continues from it)."""
        notebook = data.get("notebook")
        return cls(
            int(data["index"]), [str(c) for c in data.get("cells") or []],
            str(data.get("model") or ""), str(data.get("rationale") or ""),
            str(data.get("status") or "error"), data.get("error"),
            dict(data.get("metrics") or {}), float(data.get("score") or 0.0),
            float(data.get("metric_score") or 0.0), str(data.get("feedback") or ""),
            float(data.get("duration") or 0.0),
            run_dir / notebook if notebook else None, list(data.get("scan") or []),
            diagnostic_cells=tuple(int(i) for i in data.get("diagnostic_cells") or ()),
        )


@dataclass
class WorkflowResult:
    run_id: str
    run_dir: Path
    status: str
    """``complete`` or ``failed`` (no iteration produced valid predictions)."""
    objective: str
    plan: Plan | None = None
    research: ResearchSummary | None = None
    iterations: list[IterationRecord] = field(default_factory=list)
    best_iteration: int | None = None
    quality_score: float = 0.0
    best_metrics: dict[str, float] = field(default_factory=dict)
    simulation: SimulationReport | None = None
    manifest_path: Path | None = None
    run_notebook: Path | None = None
    report_path: Path | None = None
    reproduced: bool | None = None
    stop_reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    wall_time: float = 0.0
    advice: list[str] = field(default_factory=list)
    """What to change for a better run (which flag), from how the coding loop went."""

    @property
    def best(self) -> IterationRecord | None:
        for record in self.iterations:
            if record.index == self.best_iteration:
                return record
        return None

    @property
    def best_code(self) -> list[str]:
        return list(self.best.cells) if self.best else []

    @property
    def scores(self) -> list[float]:
        return [r.score for r in self.iterations]

    def summary(self) -> str:
        lines = [f"run {self.run_id}: {self.status} ({self.stop_reason}) in {self.wall_time:.1f}s"]
        for r in self.iterations:
            mark = "*" if r.index == self.best_iteration else " "
            detail = (", ".join(f"{k}={v:.4f}" for k, v in list(r.metrics.items())[:3])
                      if r.ok else (r.error or "").splitlines()[0][:90] if r.error else "")
            lines.append(f" {mark} {r.index:>2}  {r.status:<19} score {r.score:5.2f}  "
                         f"{r.model:<28} {detail}")
        if self.best_iteration is not None:
            lines.append(f"best: iteration {self.best_iteration}, quality score "
                         f"{self.quality_score:.2f}/10; run.ipynb reproduced: {self.reproduced}")
        if self.simulation is not None and self.simulation.summary:
            lines.append("simulation: " + self.simulation.summary)
        lines += [f"advice: {advice}" for advice in self.advice]
        lines.append(f"run dir: {self.run_dir}")
        for label, path in (("notebook", self.run_notebook), ("report", self.report_path),
                            ("manifest", self.manifest_path)):
            if path is not None:
                lines.append(f"{label}: {path}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "run_dir": str(self.run_dir), "status": self.status,
            "objective": self.objective, "best_iteration": self.best_iteration,
            "quality_score": self.quality_score, "best_metrics": self.best_metrics,
            "reproduced": self.reproduced, "stop_reason": self.stop_reason,
            "iterations": [r.to_dict() for r in self.iterations], "timings": self.timings,
            "advice": self.advice,
            "simulation": self.simulation.to_dict() if self.simulation else None,
        }

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr{_BOLD if r.index == self.best_iteration else ''}>"
            f"<td>{r.index}</td><td>{esc(r.model)}</td><td>{esc(r.status)}</td>"
            f"<td>{r.score:.2f}</td>"
            f"<td>{esc(', '.join(f'{k} {v:.4f}' for k, v in r.metrics.items()))}"
            f"</td><td>{r.duration:.1f}s</td></tr>"
            for r in self.iterations
        )
        colour = "#1a7f37" if self.status == "complete" else "#cf222e"
        return (
            f"<div><b>DeepThinker run <code>{esc(self.run_id)}</code></b> · "
            f'<span style="color:{colour}">{esc(self.status)}</span> · {esc(self.stop_reason)} · '
            f"best iteration {self.best_iteration} · score {self.quality_score:.2f}/10 · "
            f"reproduced {self.reproduced}</div>"
            "<table><tr><th>#</th><th>model</th><th>status</th><th>score</th><th>metrics</th>"
            f"<th>time</th></tr>{rows}</table>"
            f"<div><code>{esc(str(self.run_dir))}</code></div>"
        )
