"""The DeepThinker workflow: host-side data and metrics, councils, steps, and the runner."""

from deepthinker_nb.workflow.councils import (
    CodeProposal,
    CoderCouncil,
    CodeRequest,
    Councils,
    Evaluation,
    EvaluationRequest,
    EvaluatorCouncil,
    Plan,
    PlannerCouncil,
    ResearcherCouncil,
    ResearchSummary,
    Scenario,
    SimulationReport,
    SimulatorCouncil,
)
from deepthinker_nb.workflow.data import DataError, DataProfile, SplitData, load_and_split
from deepthinker_nb.workflow.metrics import (
    MetricComputer,
    MetricResult,
    PredictionError,
    blend_score,
    quality_score,
)
from deepthinker_nb.workflow.result import IterationRecord, ProgressEvent, WorkflowResult
from deepthinker_nb.workflow.runner import WorkflowRunner, run_deepthinker_workflow
from deepthinker_nb.workflow.steps import StepExecutor, StepRecord

__all__ = [
    "CodeProposal", "CodeRequest", "CoderCouncil", "Councils", "DataError", "DataProfile",
    "Evaluation", "EvaluationRequest", "EvaluatorCouncil", "IterationRecord", "MetricComputer",
    "MetricResult", "Plan", "PlannerCouncil", "PredictionError", "ProgressEvent",
    "ResearchSummary", "ResearcherCouncil", "Scenario", "SimulationReport", "SimulatorCouncil",
    "SplitData", "StepExecutor", "StepRecord", "WorkflowResult", "WorkflowRunner",
    "blend_score", "load_and_split", "quality_score",
    "run_deepthinker_workflow",
]
