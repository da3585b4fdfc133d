"""Councils: planner, researcher, coder, evaluator, simulator (protocols + offline defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from deepthinker_nb.errors import ConfigError
from deepthinker_nb.workflow.councils.base import (
    Attempt,
    CodeProposal,
    CoderCouncil,
    CodeRequest,
    Evaluation,
    EvaluationRequest,
    EvaluatorCouncil,
    Plan,
    PlannerCouncil,
    ResearcherCouncil,
    ResearchSummary,
    Scenario,
    ScenarioResult,
    SimulationReport,
    SimulatorCouncil,
)
from deepthinker_nb.workflow.councils.offline import (
    OfflineCoder,
    OfflineEvaluator,
    OfflinePlanner,
    OfflineResearcher,
    OfflineSimulator,
)


@dataclass
class Councils:
    """The five councils of a run; any of them may be swapped for another implementation."""

    planner: PlannerCouncil = field(default_factory=OfflinePlanner)
    researcher: ResearcherCouncil = field(default_factory=OfflineResearcher)
    coder: CoderCouncil = field(default_factory=OfflineCoder)
    evaluator: EvaluatorCouncil = field(default_factory=OfflineEvaluator)
    simulator: SimulatorCouncil = field(default_factory=OfflineSimulator)

    @classmethod
    def offline(cls) -> Councils:
        return cls()

    @classmethod
    def coerce(cls, value: Councils | dict[str, Any] | None) -> Councils:
        """``None`` -> offline; a dict replaces only the councils it names."""
        if value is None:
            return cls()
        if isinstance(value, Councils):
            return value
        if isinstance(value, dict):
            known = {f.name for f in fields(cls)}
            unknown = set(value) - known
            if unknown:
                raise ConfigError(f"councils: unknown role(s) {sorted(unknown)}; known: "
                                  f"{sorted(known)}")
            return replace(cls(), **value)
        raise ConfigError("councils: expected a Councils, a dict of councils or None")

    def describe(self) -> dict[str, str]:
        return {f.name: type(getattr(self, f.name)).__name__ for f in fields(self)}


__all__ = [
    "Attempt", "CodeProposal", "CodeRequest", "CoderCouncil", "Councils", "Evaluation",
    "EvaluationRequest", "EvaluatorCouncil", "OfflineCoder", "OfflineEvaluator", "OfflinePlanner",
    "OfflineResearcher", "OfflineSimulator", "Plan", "PlannerCouncil", "ResearchSummary",
    "ResearcherCouncil", "Scenario", "ScenarioResult", "SimulationReport", "SimulatorCouncil",
]
