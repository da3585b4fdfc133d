"""The council protocols and the typed records they exchange.

A council is anything with the right method: the offline defaults here, a language-model council
over an OpenAI-compatible endpoint, or a test double. The runner only knows these types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from deepthinker_nb.workflow.data import DataProfile
from deepthinker_nb.workflow.metrics import MetricResult


@dataclass
class Plan:
    objective: str
    task_type: str
    target: str
    metric: str
    """The primary held-out metric the score comes from."""
    steps: list[str] = field(default_factory=list)
    candidate_models: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sizing: dict[str, Any] = field(default_factory=dict)
    """How much work an iteration does, sized to the data (the offline planner fills it from
    :class:`~deepthinker_nb.workflow.councils.sizing.Sizing`: ``cv_rows``, ``cv_folds``,
    ``tree_rows``, ``text_vocabulary``, ``boosting_rounds``, ``early_stopping``...). Optional:
    a coder falls back to its own defaults."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        lines = [f"## Plan\n\n**Objective:** {self.objective}\n",
                 f"Task: {self.task_type} of `{self.target}`, scored on held-out "
                 f"`{self.metric}`.\n"]
        lines += [f"{i}. {step}" for i, step in enumerate(self.steps, 1)]
        if self.candidate_models:
            lines.append("\nCandidate models: " + ", ".join(self.candidate_models))
        lines += [f"\n- {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass
class ResearchSummary:
    findings: list[str] = field(default_factory=list)
    status: str = "ok"
    """``ok``, or the status of the research notebook when it failed (the loop still runs)."""
    facts: dict[str, Any] = field(default_factory=dict)
    """Machine-readable findings, e.g. what the kernel measured."""
    sources: list[dict[str, Any]] = field(default_factory=list)
    """What the researcher consulted besides the kernel: ``{"kind": "doc"|"web", "source":
    path or URL, "title", "passage"}`` each, plus ``{"kind": "note", "passage": warning}``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        body = "\n".join(f"- {f}" for f in self.findings) or "- (no findings)"
        return f"## Research summary\n\n{body}" + self._sources_markdown()

    def _sources_markdown(self, limit: int = 400) -> str:
        if not self.sources:
            return ""
        lines = ["", "", "### Sources consulted", ""]
        for s in self.sources:
            text = " ".join(str(s.get("passage", "")).split())
            text = text if len(text) <= limit else text[:limit] + "..."
            if s.get("kind") == "note":
                lines.append(f"- (warning) {text}")
                continue
            where = (f"[{s.get('title') or s.get('source')}]({s.get('source')})"
                     if s.get("kind") == "web" else f"`{s.get('source')}`")
            lines.append(f"- {where}: \u201c{text}\u201d")
        return "\n".join(lines)


@dataclass
class CodeProposal:
    cells: list[str]
    rationale: str = ""
    model: str = ""
    """A short label of the approach (``logistic_regression``, ``random_forest`` ...)."""
    diagnostic_cells: tuple[int, ...] = ()
    """Indices of cells that only report (cross-validation, plots) and do not feed the
    predictions; the simulation's re-runs skip them. Optional: () re-runs every cell."""


@dataclass
class Attempt:
    """What the coder sees of one earlier iteration."""

    index: int
    cells: list[str]
    model: str
    status: str
    """``ok`` or the failure kind: error, timeout, died, blocked, invalid_predictions."""
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    feedback: str = ""


@dataclass
class CodeRequest:
    objective: str
    plan: Plan
    research: ResearchSummary
    profile: DataProfile
    iteration: int
    """1-based."""
    history: list[Attempt] = field(default_factory=list)
    quality_threshold: float = 8.0
    cell_timeout: float | None = None
    """Seconds each cell may run before it is stopped (None: not known)."""
    time_left: float | None = None
    """Seconds left of the run's time budget (None: no budget)."""

    @property
    def last(self) -> Attempt | None:
        return self.history[-1] if self.history else None

    @property
    def best(self) -> Attempt | None:
        ok = [a for a in self.history if a.status == "ok"]
        return max(ok, key=lambda a: a.score) if ok else None


@dataclass
class EvaluationRequest:
    objective: str
    plan: Plan
    proposal: CodeProposal
    iteration: int
    status: str
    error: str | None
    result: MetricResult | None
    """Host-computed held-out metrics (None when the iteration failed)."""
    metric_score: float
    stdout: str = ""
    """The iteration's printed output, capped (cross-validation scores etc.)."""
    best_score: float = 0.0
    quality_threshold: float = 8.0


@dataclass
class Evaluation:
    score: float | None
    """The council's own 0..10 judgement; blended with the metric score by ``metric_weight``."""
    feedback: str
    suggestions: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    name: str
    kind: str
    """``label_noise``, ``missing_values``, ``subgroup`` or ``shift`` (applied on the host)."""
    description: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScenarioResult:
    scenario: Scenario
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    delta: float | None = None
    """Change of the primary metric against the unperturbed best iteration."""
    error: str | None = None
    n_test: int = 0
    notebook: str | None = None


@dataclass
class SimulationReport:
    primary: str
    baseline: dict[str, float]
    results: list[ScenarioResult] = field(default_factory=list)
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"primary": self.primary, "baseline": self.baseline, "summary": self.summary,
                "results": [asdict(r) for r in self.results]}

    def to_markdown(self) -> str:
        rows = ["| scenario | status | " + self.primary + " | change |", "|---|---|---|---|"]
        rows.append(f"| (none) | ok | {self.baseline.get(self.primary, float('nan')):.4f} | |")
        for r in self.results:
            value = r.metrics.get(self.primary)
            rows.append(
                f"| {r.scenario.name}: {r.scenario.description} | {r.status} | "
                + (f"{value:.4f}" if value is not None else "-") + " | "
                + (f"{r.delta:+.4f}" if r.delta is not None else "-") + " |"
            )
        tail = "\n\n" + self.summary if self.summary else ""
        return "## Simulation\n\n" + "\n".join(rows) + tail


@runtime_checkable
class PlannerCouncil(Protocol):
    def plan(self, objective: str, profile: DataProfile) -> Plan: ...


@runtime_checkable
class ResearcherCouncil(Protocol):
    def cells(self, plan: Plan, profile: DataProfile) -> list[str]:
        """Reconnaissance cells, run in the kernel on the training rows."""
        ...

    def summarise(self, plan: Plan, profile: DataProfile, outputs: list[str]) -> ResearchSummary:
        """``outputs``: the text each research cell printed (capped), in order."""
        ...


@runtime_checkable
class CoderCouncil(Protocol):
    def propose(self, request: CodeRequest) -> CodeProposal: ...


@runtime_checkable
class EvaluatorCouncil(Protocol):
    def evaluate(self, request: EvaluationRequest) -> Evaluation: ...


@runtime_checkable
class SimulatorCouncil(Protocol):
    def scenarios(self, plan: Plan, profile: DataProfile) -> list[Scenario]: ...

    def report(self, primary: str, baseline: dict[str, float],
               results: list[ScenarioResult]) -> SimulationReport: ...
