"""A council of several coders: each member proposes a candidate for the same iteration, the
candidates run side by side (each in its own kernel and ``work/NN/<member>/``), the host metric
picks the winner, and ``iterations/NN.ipynb`` records every candidate.

The runner keeps its phase logic: when its coder is a :class:`CoderPanel` of two or more members,
``WorkflowRunner._iteration`` hands the iteration to :func:`council_iteration`, which returns the
winner's record (a :class:`CouncilIterationRecord`, whose manifest entry lists the candidates).
Only the winner is judged by the evaluator, after every candidate has run and in the main
thread, so the evaluator's calls keep their order and a run replays from its call log.
"""

from __future__ import annotations

import copy
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbformat import NotebookNode

from deepthinker_nb.notebook.io import write_notebook
from deepthinker_nb.notebook.relocate import absolute_paths, relative_paths
from deepthinker_nb.untrusted import UntrustedFileError
from deepthinker_nb.workflow.councils.base import Attempt, CodeProposal, CoderCouncil, CodeRequest
from deepthinker_nb.workflow.metrics import PRIMARY_METRIC, MetricResult, blend_score
from deepthinker_nb.workflow.notebooks import (
    PREDICTIONS_FILE,
    CandidateSection,
    council_notebook,
    iteration_notebook,
    scan_records,
)
from deepthinker_nb.workflow.result import IterationRecord

if TYPE_CHECKING:
    from deepthinker_nb.workflow.runner import RunState, WorkflowRunner


def member_name(label: str) -> str:
    """A file-name-safe name for a member: ``qwen2.5-coder:7b@0.2`` -> ``qwen2.5-coder-7b-t0.2``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", label.replace("@", "-t")).strip("-.")
    return name[:60] or "member"


@dataclass
class CoderMember:
    """One coder of a council. ``name`` names its work dir, notebook and call-log role;
    ``label`` is what the user wrote (``offline``, ``qwen2.5-coder:7b@0.2``)."""

    name: str
    coder: CoderCouncil
    label: str = ""
    model: str = ""
    """The model it asks (empty: offline)."""
    temperature: float | None = None


class CoderPanel:
    """A coder council of several members. As a plain :class:`CoderCouncil` it is its first
    member (so anything that asks one coder still works); the runner runs all members."""

    def __init__(self, members: list[CoderMember]) -> None:
        if not members:
            from deepthinker_nb.errors import ConfigError

            raise ConfigError("coder council: name at least one member")
        names: dict[str, int] = {}
        for member in members:  # two members of one spec get -2, -3 ... appended
            count = names.get(member.name, 0)
            names[member.name] = count + 1
            if count:
                member.name = f"{member.name}-{count + 1}"
        self.members = members

    def propose(self, request: CodeRequest) -> CodeProposal:
        return self.members[0].coder.propose(request)

    def describe(self) -> list[dict[str, Any]]:
        return [{"member": m.name, "label": m.label or m.name, "model": m.model or "offline",
                 "temperature": m.temperature, "coder": type(m.coder).__name__}
                for m in self.members]

    def __repr__(self) -> str:
        return f"CoderPanel({', '.join(m.name for m in self.members)})"


@dataclass
class Candidate:
    """What one member's candidate did in one iteration."""

    member: CoderMember
    proposal: CodeProposal | None = None
    status: str = "error"
    error: str | None = None
    metric_result: MetricResult | None = None
    stdout: str = ""
    notebook: NotebookNode | None = None
    notebook_path: str | None = None
    """Relative to the run dir: ``iterations/NN/<member>.ipynb``."""
    scan: list[dict[str, Any]] = field(default_factory=list)
    started: float | None = None
    """Epoch seconds when its notebook started executing (None: it never ran)."""
    finished: float | None = None

    @property
    def score(self) -> float:
        """The host metric's score, 0..10 (0 without valid predictions)."""
        return self.metric_result.score if self.metric_result is not None else 0.0

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.metric_result.metrics) if self.metric_result is not None else {}

    def to_dict(self, winner: bool) -> dict[str, Any]:
        return {"member": self.member.name, "model": self.member.model or "offline",
                "temperature": self.member.temperature,
                "approach": self.proposal.model if self.proposal else "",
                "status": self.status, "score": round(self.score, 4), "metrics": self.metrics,
                "error": self.error, "winner": winner, "notebook": self.notebook_path,
                "started": self.started, "finished": self.finished, "scan": self.scan}


@dataclass
class CouncilIterationRecord(IterationRecord):
    """The winner's record, with every candidate of the iteration for the manifest."""

    candidates: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "candidates": self.candidates}


def panel_of(coder: Any) -> CoderPanel | None:
    """The coder as a council of two or more members, else None (one coder: the runner's
    own path)."""
    return coder if isinstance(coder, CoderPanel) and len(coder.members) > 1 else None


def council_iteration(runner: WorkflowRunner, state: RunState, index: int,
                      history: list[Attempt], best_score: float) -> IterationRecord:
    """Iteration ``index`` by every member of the runner's :class:`CoderPanel`."""
    panel = panel_of(runner.councils.coder)
    assert panel is not None
    started = time.perf_counter()
    result = state.result
    members = panel.members
    left = runner.iteration_config.effective_max_iterations - index + 1
    state.kernels.expect(len(members) * left + 2)  # one kernel per candidate, side by side
    state.emit("coding", f"iteration {index}: {len(members)} coders propose "
               f"({', '.join(m.name for m in members)})", iteration=index)
    request = CodeRequest(state.objective, result.plan, result.research, state.split.profile,
                          index, list(history), runner.iteration_config.quality_threshold,
                          cell_timeout=state.kernels.timeout, time_left=state.time_left)
    with ThreadPoolExecutor(len(members), thread_name_prefix="deepthinker-candidate") as pool:
        candidates = list(pool.map(lambda m: _run_candidate(runner, state, index, m, request),
                                   members))
    ok = [c for c in candidates if c.status == "ok"]
    # The host metric decides; a tie goes to the member named first.
    winner = (max(ok, key=lambda c: c.score) if ok
              else next((c for c in candidates if c.proposal is not None), candidates[0]))
    primary = PRIMARY_METRIC[state.split.task_type]
    path = state.run_dir / "iterations" / f"{index:02d}.ipynb"
    nb = council_notebook(index, [_section(c, state.run_dir) for c in candidates],
                          winner.member.name,
                          primary, runner.placement.kernel_name, state.run_id)
    write_notebook(nb, path)
    entries = [c.to_dict(c is winner) for c in candidates]
    state.emit("coding", f"iteration {index}: " + ", ".join(
        f"{c.member.name} {c.status} {c.score:.2f}" for c in candidates)
        + f"; winner {winner.member.name}", iteration=index)
    if winner.proposal is None:
        error = winner.error or "the coder returned no cells"
        return CouncilIterationRecord(index, [], "", "", "error", error,
                                      feedback=f"The coders failed: {error}",
                                      duration=time.perf_counter() - started,
                                      notebook_path=path, candidates=entries)
    proposal = winner.proposal
    metric_score = winner.score
    evaluation = runner._evaluate(state, proposal, index, winner.status, winner.error,
                                  winner.metric_result, metric_score, winner.stdout, best_score)
    score = (blend_score(metric_score, evaluation.score, runner.metric_weight)
             if winner.metric_result is not None else 0.0)
    return CouncilIterationRecord(
        index, [str(c) for c in proposal.cells], proposal.model, proposal.rationale,
        winner.status, winner.error, winner.metrics, score, metric_score, evaluation.feedback,
        time.perf_counter() - started, path, winner.scan, winner.stdout,
        tuple(i for i in proposal.diagnostic_cells if isinstance(i, int)), candidates=entries)


def _run_candidate(runner: WorkflowRunner, state: RunState, index: int, member: CoderMember,
                   request: CodeRequest) -> Candidate:
    """Propose, then run in a kernel of its own: one member's candidate (never raises: one
    member's failure is its candidate's, not the iteration's)."""
    candidate = Candidate(member)
    try:
        return _propose_and_run(runner, state, index, candidate, request)
    except Exception as exc:
        candidate.status, candidate.error = "error", f"{type(exc).__name__}: {exc}"
        return candidate


def _propose_and_run(runner: WorkflowRunner, state: RunState, index: int,
                     candidate: Candidate, request: CodeRequest) -> Candidate:
    member = candidate.member
    step = state.steps.run("coding", f"propose {index} {member.name}", member.coder.propose,
                           request)
    if not step.ok or not isinstance(step.result, CodeProposal) or not step.result.cells:
        candidate.error = f"coder failed: {step.error or 'the coder returned no cells'}"
        return candidate
    proposal = candidate.proposal = step.result
    cells = [str(c) for c in proposal.cells]
    work = state.work_dir / f"{index:02d}" / member.name
    try:
        parameters = runner._parameters(state, work)
    except UntrustedFileError as exc:  # an earlier kernel planted something in its place
        candidate.error = f"work dir refused: {exc}"
        return candidate
    nb = iteration_notebook(index, proposal, cells, parameters, runner.placement.kernel_name,
                            state.run_id)
    relative = f"iterations/{index:02d}/{member.name}.ipynb"
    (state.run_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    candidate.started = time.time()
    executed, failure = runner._execute(state, "coding", f"execute {index} {member.name}", nb,
                                        state.run_dir / relative, work)
    candidate.finished = time.time()
    candidate.status, candidate.error, candidate.metric_result, candidate.stdout = (
        runner._outcome(state, executed, failure, work / PREDICTIONS_FILE, state.computer))
    candidate.notebook = executed.notebook if executed is not None else None
    candidate.notebook_path = relative
    candidate.scan = scan_records(executed)
    return candidate


def _section(candidate: Candidate, run_dir: Path) -> CandidateSection:
    proposal = candidate.proposal
    notebook = candidate.notebook
    if notebook is not None and candidate.notebook_path is not None:
        # Its parameters name paths relative to iterations/NN/; the section lives in
        # iterations/NN.ipynb, a folder up.
        notebook = copy.deepcopy(notebook)
        absolute_paths(notebook, (run_dir / candidate.notebook_path).parent)
        relative_paths(notebook, run_dir / "iterations", run_dir)
    return CandidateSection(
        member=candidate.member.name, model=candidate.member.model or "offline",
        approach=proposal.model if proposal else "", status=candidate.status,
        score=candidate.score, metrics=candidate.metrics, error=candidate.error,
        rationale=proposal.rationale if proposal else "", notebook=notebook,
        cells=[str(c) for c in proposal.cells] if proposal else [])


__all__ = ["Candidate", "CoderMember", "CoderPanel", "CouncilIterationRecord",
           "council_iteration", "member_name", "panel_of"]
