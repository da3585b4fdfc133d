"""The DeepThinker workflow: plan, research, code in a loop, simulate, record, report.

``WorkflowRunner.run`` reads as its phases; each step goes through a ``StepExecutor`` (timing,
retries, error capture) and each kernel execution is a papermill notebook in the run directory::

    runs/<run-id>/
      data/              train.csv, test_features.csv (+ scenarios/<name>/): the kernel's data
      work/              PREDICTIONS_PATH of every execution (NN/, simulation/<name>/, run/)
      research.ipynb     reconnaissance cells as executed in the kernel
      iterations/NN.ipynb
      simulation.ipynb   the best code under each scenario, one section each
      run.ipynb          the whole run, re-executed end to end by papermill
      report.html        nbconvert export of run.ipynb
      manifest.json      written at the start ("incomplete"), after every iteration, at the end

The test labels are never written anywhere: they live in this process's memory (``SplitData``).

What the phases lean on lives next door: the notebooks and their cells in
:mod:`~deepthinker_nb.workflow.notebooks`, the manifest in
:mod:`~deepthinker_nb.workflow.manifest`, the kernels in
:mod:`~deepthinker_nb.workflow.placement`. A run's state is a :class:`RunState`, made by each
``run()``: one runner can run again.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from deepthinker_nb.config import DataConfig, DockerConfig, IterationConfig
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.llm.log import LOG_NAME
from deepthinker_nb.llm.summary import call_summary
from deepthinker_nb.notebook.execute import NotebookRun
from deepthinker_nb.report.reproduce import compare_metrics
from deepthinker_nb.report.run_report import write_run_report
from deepthinker_nb.scanner.policy import ScanPolicy
from deepthinker_nb.untrusted import UntrustedFileError, make_untrusted_dir
from deepthinker_nb.workflow.candidates import council_iteration, panel_of
from deepthinker_nb.workflow.councils import Councils
from deepthinker_nb.workflow.councils.base import (
    Attempt,
    CodeProposal,
    CodeRequest,
    Evaluation,
    EvaluationRequest,
    Plan,
    ResearchSummary,
    ScenarioResult,
    SimulationReport,
)
from deepthinker_nb.workflow.data import (
    SplitData,
    check_kernel_memory,
    load_and_split,
    load_and_validate,
    write_split_files,
)
from deepthinker_nb.workflow.evaluation import evaluate_predictions
from deepthinker_nb.workflow.manifest import (
    RunManifest,
    discard_unfinished,
    initial_fields,
    read_resumable_manifest,
    restore_records,
)
from deepthinker_nb.workflow.metrics import (
    PRIMARY_METRIC,
    MetricComputer,
    MetricResult,
    PredictionError,
    blend_score,
)
from deepthinker_nb.workflow.notebooks import (
    PREDICTIONS_FILE,
    ScenarioSection,
    append_host_results,
    append_markdown,
    clip,
    failure_text,
    iteration_notebook,
    kernel_parameters,
    research_notebook,
    run_notebook,
    scan_records,
    section_status,
    simulation_notebook,
    tagged_outputs,
)
from deepthinker_nb.workflow.placement import (
    PRELOAD,
    KernelConfig,
    KernelPlacement,
    RunKernels,
)
from deepthinker_nb.workflow.reproduce import different_dataset
from deepthinker_nb.workflow.result import IterationRecord, ProgressEvent, WorkflowResult
from deepthinker_nb.workflow.scenarios import ScenarioData, apply_scenario
from deepthinker_nb.workflow.steps import StepExecutor

BUDGET_RESERVE = 0.25
"""Share of a run's time budget kept for the simulation, run.ipynb and the report: no
iteration starts that would eat into it."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class _Progress:
    """Sends progress events to a display, with the seconds since the run started."""

    callback: Callable[[ProgressEvent], None] | None
    started: float

    def __call__(self, phase: str, message: str, **fields: Any) -> None:
        if self.callback is None:
            return
        try:
            self.callback(ProgressEvent(phase, message,
                                        elapsed=time.perf_counter() - self.started, **fields))
        except Exception:
            pass  # a broken display must not break the run


@dataclass
class RunState:
    """Everything one run creates and changes. ``WorkflowRunner.run`` makes a new one each
    time, so the runner itself only holds configuration."""

    run_id: str
    run_dir: Path
    objective: str
    steps: StepExecutor
    emit: _Progress
    split: SplitData
    computer: MetricComputer
    """Scores predictions against the held-out labels (host memory only)."""
    result: WorkflowResult
    manifest: RunManifest
    kernels: RunKernels
    research_cells: list[str] = field(default_factory=list)
    """The research cells run.ipynb repeats (none when the research notebook failed)."""
    time_budget: float | None = None
    """Seconds the whole run may take (``IterationConfig.time_budget``), or None."""
    prior_steps: list[dict[str, Any]] = field(default_factory=list)
    prior_timings: dict[str, float] = field(default_factory=dict)
    """A resumed run's steps and seconds per phase before this session."""

    @property
    def time_left(self) -> float | None:
        """Seconds left of the time budget (None: no budget)."""
        if self.time_budget is None:
            return None
        return self.time_budget - (time.perf_counter() - self.started)

    @property
    def started(self) -> float:
        return self.emit.started

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def work_dir(self) -> Path:
        return self.run_dir / "work"


def _attempt(record: IterationRecord) -> Attempt:
    """What the coder is shown of an earlier iteration."""
    return Attempt(record.index, record.cells, record.model, record.status, record.error,
                   record.metrics, record.score, record.feedback)


class WorkflowRunner:
    """Runs the DeepThinker workflow on one dataset; ``run(objective)`` returns the result.

    The runner holds configuration only; each :meth:`run` keeps its state in a new
    :class:`RunState` and a new run directory, so one runner can run several times.
    """

    def __init__(
        self,
        data_config: DataConfig,
        iteration_config: IterationConfig | None = None,
        councils: Councils | dict[str, Any] | None = None,
        backend: str | None = None,
        runs_dir: str | Path = "runs",
        run_id: str | None = None,
        docker_config: DockerConfig | None = None,
        pool_size: int = 1,
        progress: Callable[[ProgressEvent], None] | None = None,
        *,
        kernel_config: KernelConfig | None = None,
        metric_weight: float = 1.0,
        scan: bool = True,
        policy: ScanPolicy | None = None,
        simulate: bool = True,
        report: bool = True,
        infer_task: bool = False,
    ) -> None:
        """Check and keep the configuration; nothing starts before :meth:`run`.

        Args:
            data_config: the dataset, task, split, seed, per-cell timeout and (by default) the
                kernel backend and its config.
            iteration_config: the coding loop's stopping rule (max iterations, quality
                threshold, patience, minimum improvement); default ``IterationConfig()``.
            councils: the planner, researcher, coder, evaluator and simulator, as
                :class:`Councils` or a dict of some of them; the offline councils fill in.
            backend: the kernel backend name (``local``, ``docker``, or the ``subprocess``
                alias); default ``data_config.backend``.
            runs_dir: where run directories are created (``<runs_dir>/<run-id>/``).
            run_id: the run directory's name; default a timestamp plus a random suffix. A run
                dir that already holds a run is refused, so a fixed ``run_id`` runs once.
            docker_config: the Docker kernels' configuration (the seed API's name for
                ``kernel_config`` on Docker).
            pool_size: warm kernels kept ready when the backend pools its kernels (local);
                two or more also run the simulation and run.ipynb side by side.
            progress: called with a :class:`ProgressEvent` at each step (errors it raises
                are ignored).
            kernel_config: the kernels' configuration (``LocalConfig`` or ``DockerConfig``);
                default ``docker_config`` for Docker, else ``data_config.kernel_config`` when
                the backend is the data config's, else the backend's default. Cells time out
                after ``data_config.execution_timeout``, else this config's, else the run's
                share of ``iteration_config.time_budget``, else a limit that follows the
                data's size (60 s up to a million values: ``placement.data_cell_timeout``).
            metric_weight: the held-out metric's share of an iteration's score, 0..1; the
                evaluator council's score has the rest.
            scan: scan every cell with the security scanner before it runs.
            policy: the scanner's base policy; each notebook gets it narrowed to read the run's
                data dir and write only its own work dir. Default: the coder policy.
            simulate: re-run the best code on host-perturbed copies of the data.
            report: export run.ipynb to report.html.
            infer_task: take the task from the target column (numbers with many distinct
                values: regression; else classification) instead of
                ``data_config.task_type``; the run announces it and the manifest records it.
        """
        if not isinstance(data_config, DataConfig):
            raise ConfigError("WorkflowRunner: data_config must be a DataConfig")
        self.data_config = data_config
        self.iteration_config = iteration_config or IterationConfig()
        self.councils = Councils.coerce(councils)
        self.placement = KernelPlacement.for_workflow(
            data_config, backend, kernel_config, docker_config=docker_config,
            pool_size=pool_size, scan=scan, policy=policy)
        self.runs_dir = Path(runs_dir)
        self.run_id = run_id
        self.progress = progress
        if not 0.0 <= metric_weight <= 1.0:
            raise ConfigError("metric_weight: must be between 0 and 1")
        self.metric_weight = metric_weight
        self.simulate = simulate
        self.report = report
        self.infer_task = infer_task
        self._last_run_dir: Path | None = None

    @property
    def backend(self) -> str:
        """The kernel backend's registered name."""
        return self.placement.backend

    @property
    def kernel_config(self) -> KernelConfig | None:
        return self.placement.kernel_config

    @property
    def run_dir(self) -> Path | None:
        """The directory of the latest run this runner started (``None`` before any); also
        set when that run raised."""
        return self._last_run_dir

    # -- the run ---------------------------------------------------------------------------------
    def run(self, objective: str) -> WorkflowResult:
        """Run the whole workflow for ``objective`` (what the model should achieve, in words)
        in a new run directory, and return its result.

        Raises ``ConfigError`` for an empty objective or a ``run_id`` whose directory already
        holds a run, ``DataError`` for a dataset that cannot be used (before any directory or
        kernel exists); a run that fails later leaves a manifest saying so. An iteration's
        failure is no error: it is recorded and the loop goes on.
        """
        if not isinstance(objective, str) or not objective.strip():
            raise ConfigError("objective: describe what the model should achieve")
        emit = _Progress(self.progress, time.perf_counter())
        _warm_host_imports()
        steps = StepExecutor()
        # Data first: a bad dataset is a clear error before any directory or kernel exists.
        validated = steps.run("data", "load and validate", load_and_validate, self.data_config,
                              infer=self.infer_task, raise_errors=True).result
        memory = self.placement.memory_limit
        if memory is not None:
            check_kernel_memory(validated, self.data_config.test_split_ratio, *memory)
        budget = self.iteration_config.time_budget
        timeout = self.placement.run_timeout(validated.n_rows, validated.n_columns, budget,
                                             self.iteration_config.effective_max_iterations)
        if not validated.target_given or validated.task_inferred:
            emit("data", validated.announcement())
        run_id = self.run_id or (datetime.now().strftime("%Y%m%d-%H%M%S") + "-"
                                 + secrets.token_hex(3))
        run_dir = (self.runs_dir / run_id).resolve()
        if (run_dir / "manifest.json").exists():
            raise ConfigError(f"run dir {run_dir} already holds a run; choose another run_id")
        for sub in ("data", "work", "iterations"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        self._last_run_dir = run_dir
        # Kernels warm up in the background while the host splits the data and plans.
        kernels = None
        try:
            kernels = self._start_kernels(run_dir, steps, emit, timeout)
            split = steps.run("data", "split", load_and_split, self.data_config, validated,
                              raise_errors=True).result
        except BaseException as exc:
            if kernels is not None:
                kernels.close()
            RunManifest(run_dir).write(
                run_id=run_id, status="failed", objective=objective,
                error=f"{type(exc).__name__}: {exc}",
                steps=[r.to_dict() for r in steps.records])
            raise
        result = WorkflowResult(run_id, run_dir, "incomplete", objective)
        state = RunState(
            run_id, run_dir, objective, steps, emit, split,
            MetricComputer(split.task_type, split.test_labels, split.classes), result,
            RunManifest(run_dir, self._initial_manifest(run_id, objective, split,
                                                        kernels.timeout)),
            kernels, time_budget=budget)
        state.manifest.update(target_choice=validated.choice(), cell_timeout=kernels.timeout,
                              time_budget=budget)
        return self._drive(state)

    def resume(self, run_dir: str | Path) -> WorkflowResult:
        """Continue the incomplete run in ``run_dir`` (stopped by Ctrl-C, a crash or a killed
        host) from its last finished iteration, with the same split and seeds; what finished
        is kept as it was (its notebooks, work dirs and manifest records). The runner must be
        configured as the run was: :func:`deepthinker_nb.workflow.resume.resume_run` builds
        one from the manifest.

        Raises ``ConfigError`` when the run cannot be resumed (complete, or no manifest) and
        ``DataError`` when the dataset is not the one the run split (SHA-256)."""
        run_dir = Path(run_dir).resolve()
        recorded = read_resumable_manifest(run_dir)
        emit = _Progress(self.progress, time.perf_counter())
        _warm_host_imports()
        steps = StepExecutor()
        validated = steps.run("data", "load and validate", load_and_validate, self.data_config,
                              raise_errors=True).result
        spent = float(recorded.get("wall_time") or sum((recorded.get("timings") or {}).values()))
        budget = self.iteration_config.time_budget
        remaining = None if budget is None else max(0.0, budget - spent)
        timeout = float(recorded.get("cell_timeout") or self.placement.run_timeout(
            validated.n_rows, validated.n_columns, budget,
            self.iteration_config.effective_max_iterations))
        self._last_run_dir = run_dir
        kernels = self._start_kernels(run_dir, steps, emit, timeout)
        try:
            split = steps.run("data", "split", load_and_split, self.data_config, validated,
                              raise_errors=True).result
            if split.dataset_sha256 != recorded["dataset"]["sha256"]:
                raise different_dataset(split.source, recorded["dataset"]["sha256"])
        except BaseException:
            kernels.close()
            raise
        run_id = str(recorded["run_id"])
        result = WorkflowResult(run_id, run_dir, "incomplete", str(recorded["objective"]))
        restore_records(result, recorded, run_dir)
        manifest = RunManifest(run_dir, recorded)
        resumes = [*recorded.get("resumed", []), {
            "at": _now(), "after_iteration": len(result.iterations)}]
        manifest.update(status="incomplete", error=None, resumed=resumes)
        state = RunState(
            run_id, run_dir, result.objective, steps, emit, split,
            MetricComputer(split.task_type, split.test_labels, split.classes), result,
            manifest, kernels, time_budget=remaining,
            prior_steps=list(recorded.get("steps") or []),
            prior_timings=dict(recorded.get("timings") or {}))
        if result.research is not None and (recorded.get("research") or {}).get(
                "status") == "ok":
            step = steps.run("research", "research cells", self.councils.researcher.cells,
                             result.plan, split.profile)
            state.research_cells = list((step.result if step.ok else None) or [])
        discard_unfinished(run_dir, len(result.iterations) + 1)
        emit("resume", f"resuming run {run_id} after iteration {len(result.iterations)}")
        return self._drive(state, restored=True)

    def _drive(self, state: RunState, restored: bool = False) -> WorkflowResult:
        """The phases of a run from where ``state`` stands: planning and research unless they
        finished, the coding loop, the simulation, run.ipynb, the report."""
        result, emit = state.result, state.emit
        try:
            if not restored:  # a resumable manifest is saved only after the split is written
                state.split.write(state.data_dir)
            self._save(state)
            if not restored:
                emit("data", f"{state.split.profile.n_train} training rows, "
                     f"{state.split.profile.n_test} held-out test rows; run dir "
                     f"{state.run_dir}")
            if result.plan is None:
                result.plan = self._planning(state)
            if result.research is None:
                result.research = self._research(state)
            self._coding_loop(state)
            result.advice = self._advice(state)
            # Only the simulation and run.ipynb are left: warm no kernel beyond those.
            state.kernels.expect(self._notebooks_left(0, result.best is not None))
            if result.best is not None:
                self._simulate_and_record(state)
            result.status = "complete" if result.best is not None else "failed"
        except Exception as exc:  # an interrupt leaves the manifest "incomplete"
            state.manifest.update(status="failed", error=f"{type(exc).__name__}: {exc}")
            self._finish_manifest(state, final=False)
            raise
        finally:
            state.kernels.close()
        if self.report and result.run_notebook is not None:
            self._report(state)
        result.wall_time = time.perf_counter() - state.started
        result.timings = self._timings(state)
        self._finish_manifest(state, final=True)
        emit("done", f"{result.status}: best iteration {result.best_iteration}, score "
             f"{result.quality_score:.2f}", best_score=result.quality_score)
        return result

    # -- phases ----------------------------------------------------------------------------------
    def _planning(self, state: RunState) -> Plan:
        state.emit("planning", "planning from the objective and the data profile")
        step = state.steps.run("planning", "plan", self.councils.planner.plan, state.objective,
                               state.split.profile, raise_errors=True)
        plan = step.result
        state.manifest.update(plan=plan.to_dict())
        return plan

    def _research(self, state: RunState) -> ResearchSummary:
        state.emit("research", "reconnaissance cells in the kernel")
        researcher = self.councils.researcher
        plan, profile = state.result.plan, state.split.profile
        step = state.steps.run("research", "research cells", researcher.cells, plan, profile)
        state.research_cells = list((step.result if step.ok else None) or [])
        outputs: list[str] = []
        status = "error" if not step.ok else "ok"
        if state.research_cells:
            work = state.work_dir / "research"
            nb = research_notebook(state.research_cells, self._parameters(state, work),
                                   self.placement.kernel_name)
            executed, _failure = self._execute(state, "research", "research notebook", nb,
                                               state.run_dir / "research.ipynb", work)
            status = executed.status if executed is not None else "error"
            outputs = (tagged_outputs(executed.notebook, "research") if executed is not None
                       else [])
            state.manifest.update(research={"status": status, "notebook": "research.ipynb",
                                            "scan": scan_records(executed)})
            if status != "ok":
                state.research_cells = []  # run.ipynb must not stop at a failing recon cell
        summary_step = state.steps.run("research", "summarise", researcher.summarise, plan,
                                       profile, [clip(o) for o in outputs])
        summary = summary_step.result if summary_step.ok else ResearchSummary(
            findings=[f"summary failed: {summary_step.error}"], status="error")
        if status != "ok" and summary.status == "ok":
            summary.status = status
        if state.research_cells and (state.run_dir / "research.ipynb").exists():
            append_markdown(state.run_dir / "research.ipynb", summary.to_markdown())
        state.manifest.update_section("research", summary=summary.to_dict())
        return summary

    def _coding_loop(self, state: RunState) -> None:
        """Iterations until a stopping rule holds. A resumed run's finished iterations
        (already in ``state.result.iterations``) count as if this loop had run them."""
        result = state.result
        history = [_attempt(r) for r in result.iterations]
        best_score, stall = -1.0, 0
        for record in result.iterations:
            best_score, stall = self._observe(result, record, best_score, stall)
        reason = (self._stop_reason(state, result.iterations[-1], stall)
                  if result.iterations else None)
        while reason is None:
            index = len(result.iterations) + 1
            record = self._iteration(state, index, history, max(best_score, 0.0))
            result.iterations.append(record)
            history.append(_attempt(record))
            best_score, stall = self._observe(result, record, best_score, stall)
            self._save(state, iterations=[r.to_dict() for r in result.iterations],
                       best_iteration=result.best_iteration, metrics=result.best_metrics,
                       quality_score=result.quality_score)
            state.emit("coding", f"iteration {index}: {record.status}, score {record.score:.2f} "
                       f"({record.model})", iteration=index, score=record.score,
                       best_score=result.quality_score, status=record.status)
            reason = self._stop_reason(state, record, stall)
        result.stop_reason = reason
        state.manifest.update(stop_reason=reason)

    def _observe(self, result: WorkflowResult, record: IterationRecord, best_score: float,
                 stall: int) -> tuple[float, int]:
        """Count ``record`` in: the best so far and the iterations without improvement."""
        if record.ok and record.score > best_score:
            improved = record.score >= best_score + self.iteration_config.min_improvement
            result.best_iteration = record.index
            result.quality_score = record.score
            result.best_metrics = dict(record.metrics)
            return record.score, 0 if improved else stall + 1
        return best_score, stall + 1

    def _stop_reason(self, state: RunState, record: IterationRecord, stall: int) -> str | None:
        """Why the loop stops after ``record``, or None to go on."""
        config = self.iteration_config
        if record.ok and record.score >= config.quality_threshold:
            return f"quality threshold {config.quality_threshold} reached"
        if record.index >= config.effective_max_iterations:
            return f"max iterations ({config.effective_max_iterations})"
        if config.patience is not None and stall >= config.patience:
            return f"no improvement in {stall} iterations (patience)"
        left = state.time_left
        if left is not None and left - record.duration < BUDGET_RESERVE * (
                state.time_budget or 0.0):
            return f"time budget ({state.time_budget:g}s) would not fit another iteration"
        return None

    def _iteration(self, state: RunState, index: int, history: list[Attempt],
                   best_score: float) -> IterationRecord:
        if panel_of(self.councils.coder) is not None:  # several coders: candidates.py
            return council_iteration(self, state, index, history, best_score)
        started = time.perf_counter()
        result = state.result
        state.emit("coding", f"iteration {index}: writing code", iteration=index)
        request = CodeRequest(state.objective, result.plan, result.research, state.split.profile,
                              index, list(history), self.iteration_config.quality_threshold,
                              cell_timeout=state.kernels.timeout, time_left=state.time_left)
        step = state.steps.run("coding", f"propose {index}", self.councils.coder.propose, request)
        if not step.ok or not isinstance(step.result, CodeProposal) or not step.result.cells:
            error = step.error or "the coder returned no cells"
            return IterationRecord(index, [], "", "", "error", f"coder failed: {error}",
                                   feedback=f"The coder failed: {error}",
                                   duration=time.perf_counter() - started)
        proposal: CodeProposal = step.result
        cells = [str(c) for c in proposal.cells]
        work = state.work_dir / f"{index:02d}"
        try:
            parameters = self._parameters(state, work)
        except UntrustedFileError as exc:  # an earlier kernel planted something in its place
            return IterationRecord(index, cells, proposal.model, proposal.rationale, "error",
                                   f"work dir refused: {exc}",
                                   feedback=f"The work dir was refused: {exc}",
                                   duration=time.perf_counter() - started)
        nb = iteration_notebook(index, proposal, cells, parameters, self.placement.kernel_name,
                                state.run_id)
        path = state.run_dir / "iterations" / f"{index:02d}.ipynb"
        state.emit("coding", f"iteration {index}: running {proposal.model or 'code'}",
                   iteration=index)
        executed, failure = self._execute(state, "coding", f"execute {index}", nb, path, work)
        status, error, metric_result, stdout = self._outcome(
            state, executed, failure, work / PREDICTIONS_FILE, state.computer)
        metric_score = metric_result.score if metric_result is not None else 0.0
        evaluation = self._evaluate(state, proposal, index, status, error, metric_result,
                                    metric_score, stdout, best_score)
        score = (blend_score(metric_score, evaluation.score, self.metric_weight)
                 if metric_result is not None else 0.0)
        return IterationRecord(
            index, cells, proposal.model, proposal.rationale, status, error,
            dict(metric_result.metrics) if metric_result else {}, score, metric_score,
            evaluation.feedback, time.perf_counter() - started, path, scan_records(executed),
            stdout, tuple(i for i in proposal.diagnostic_cells if isinstance(i, int)),
        )

    def _evaluate(self, state: RunState, proposal: CodeProposal, index: int, status: str,
                  error: str | None, metric_result: MetricResult | None, metric_score: float,
                  stdout: str, best_score: float) -> Evaluation:
        request = EvaluationRequest(state.objective, state.result.plan, proposal, index, status,
                                    error, metric_result, metric_score, clip(stdout), best_score,
                                    self.iteration_config.quality_threshold)
        step = state.steps.run("evaluation", f"evaluate {index}",
                               self.councils.evaluator.evaluate, request)
        if step.ok and isinstance(step.result, Evaluation):
            return step.result
        return Evaluation(None, f"(evaluator failed: {step.error}) metric score "
                          f"{metric_score:.2f}")

    def _simulate_and_record(self, state: RunState) -> None:
        """The simulation and the re-execution of run.ipynb need only the best code: when the
        placement runs notebooks side by side (a pool of two or more, told that only these two
        notebooks are left so no kernel is starting for nobody, or a kernel per notebook) they
        run in two threads; with one pooled kernel the second would wait for a cold start. The
        simulation's results join run.ipynb afterwards either way, as the host-written
        markdown they are."""
        result = state.result
        if not (self.simulate and self.placement.runs_side_by_side):
            result.simulation = self._simulation(state) if self.simulate else None
            run_metrics, metric_result = self._record_run(state)
            self._finish_run_notebook(state, run_metrics, metric_result)
            return
        with ThreadPoolExecutor(2, thread_name_prefix="deepthinker-phase") as phases:
            simulation = phases.submit(self._simulation, state)
            recording = phases.submit(self._record_run, state)
            result.simulation = simulation.result()
            run_metrics, metric_result = recording.result()
        self._finish_run_notebook(state, run_metrics, metric_result)

    def _simulation(self, state: RunState) -> SimulationReport:
        """Re-run the best code on host-perturbed copies of the data, one section per scenario
        of ``simulation.ipynb`` (one kernel; a failing section does not stop the next)."""
        result, split = state.result, state.split
        best = result.best
        assert best is not None
        simulator = self.councils.simulator
        primary = PRIMARY_METRIC[split.task_type]
        step = state.steps.run("simulation", "scenarios", simulator.scenarios, result.plan,
                               split.profile)
        scenarios = list(step.result or []) if step.ok else []
        outcomes: dict[int, ScenarioResult] = {}
        sections: list[tuple[ScenarioSection, ScenarioData, Path]] = []
        for number, scenario in enumerate(scenarios, 1):
            try:
                data = apply_scenario(scenario, split, self.data_config.random_seed + number)
            except Exception as exc:
                outcomes[number] = ScenarioResult(scenario, "error",
                                                  error=f"{type(exc).__name__}: {exc}")
                continue
            safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in scenario.name)
            data_dir = state.data_dir / "scenarios" / safe
            write_split_files(data_dir, data.train, data.test_features)
            work = state.work_dir / "simulation" / safe
            try:
                parameters = self._parameters(state, work, data_dir)
            except UntrustedFileError as exc:  # a kernel planted something in its place
                outcomes[number] = ScenarioResult(scenario, "error",
                                                  error=f"work dir refused: {exc}")
                continue
            sections.append((ScenarioSection(number, scenario, parameters), data, work))
        executed = None
        if sections:
            state.emit("simulation", f"{len(sections)} scenarios in simulation.ipynb")
            nb = simulation_notebook([s for s, _, _ in sections], best,
                                     self.placement.kernel_name)
            executed, _failure = self._execute(state, "simulation", "simulation notebook", nb,
                                               state.run_dir / "simulation.ipynb",
                                               state.work_dir / "simulation")
        for section, data, work in sections:
            status, error = section_status(executed, section.tag)
            metric_result = None
            if status == "ok":
                computer = MetricComputer(split.task_type, data.test_labels, split.classes)
                try:
                    metric_result = computer.compute(work / PREDICTIONS_FILE,
                                                     root=state.work_dir)
                except PredictionError as exc:
                    status, error = "invalid_predictions", str(exc)
            metrics = dict(metric_result.metrics) if metric_result else {}
            delta = (round(metrics[primary] - result.best_metrics[primary], 6)
                     if metric_result is not None else None)
            outcomes[section.number] = ScenarioResult(
                section.scenario, status, metrics,
                metric_result.score if metric_result else 0.0, delta, error,
                len(data.test_labels), "simulation.ipynb")
        ordered = [outcomes[n] for n in sorted(outcomes)]
        step = state.steps.run("simulation", "report", simulator.report, primary,
                               dict(result.best_metrics), ordered)
        report = step.result if step.ok else SimulationReport(primary, result.best_metrics,
                                                              ordered, f"({step.error})")
        self._save(state, simulation={**report.to_dict(), "scan": scan_records(executed)})
        return report

    def _record_run(self, state: RunState) -> tuple[dict[str, float], MetricResult | None]:
        """Build run.ipynb (plan, research, best code, evaluation) and re-execute it."""
        state.emit("recording", "re-executing the whole run as run.ipynb")
        result = state.result
        work = state.work_dir / "run"
        try:
            parameters = self._parameters(state, work)
        except UntrustedFileError as exc:  # a kernel planted something in its place
            result.reproduced = False
            state.manifest.update(
                run_notebook={"path": None, "status": "error", "error": f"work dir refused: {exc}",
                              "metrics": {}, "reproduced": False},
                reproduced=False)
            return {}, None
        nb = run_notebook(result, state.split.profile, state.research_cells, parameters,
                          self.placement.kernel_name)
        path = state.run_dir / "run.ipynb"
        executed, failure = self._execute(state, "recording", "run.ipynb", nb, path, work)
        status, error, metric_result, _ = self._outcome(
            state, executed, failure, work / PREDICTIONS_FILE, state.computer)
        # The report's aggregates (test labels stay on the host): from run.ipynb's predictions
        # of the best code, or the best iteration's own when run.ipynb failed.
        state.manifest.update(evaluation=evaluate_predictions(
            state.computer, state.split.test_labels,
            (work if status == "ok" else state.work_dir / f"{result.best_iteration:02d}")
            / PREDICTIONS_FILE, root=state.work_dir,
            train_target=state.split.train[state.split.target], iteration=result.best_iteration))
        run_metrics = dict(metric_result.metrics) if metric_result else {}
        mismatches = compare_metrics(result.best_metrics, run_metrics) if run_metrics else {
            "status": (status, error)}
        result.reproduced = status == "ok" and not mismatches
        result.run_notebook = path
        state.manifest.update(
            run_notebook={
                "path": "run.ipynb", "status": status, "error": error, "metrics": run_metrics,
                "reproduced": result.reproduced,
                "mismatches": {k: list(v) for k, v in mismatches.items()},
                "scan": scan_records(executed),
            },
            reproduced=result.reproduced)
        return run_metrics, metric_result

    def _finish_run_notebook(self, state: RunState, run_metrics: dict[str, float],
                             metric_result: MetricResult | None) -> None:
        """Append what only the host knows (it needs the labels) to the executed run.ipynb."""
        path = state.run_dir / "run.ipynb"
        if state.result.run_notebook is not None and path.exists():
            append_host_results(path, state.result, run_metrics, metric_result)

    def _report(self, state: RunState) -> None:
        state.emit("report", "exporting report.html")
        manifest = {**state.manifest.snapshot(), "status": state.result.status,
                    "timings": self._timings(state)}
        step = state.steps.run("report", "write report", write_run_report, state.run_dir,
                               state.run_dir / "report.html", manifest=manifest)
        if step.ok:
            state.result.report_path = step.result.path

    # -- helpers ---------------------------------------------------------------------------------
    def _start_kernels(self, run_dir: Path, steps: StepExecutor, emit: _Progress,
                       timeout: float | None = None) -> RunKernels:
        """The run's kernels: a warm pool, started as a step of its own, when the placement
        pools kernels; otherwise each notebook starts its own kernel later. ``timeout``: the
        run's per-cell limit."""
        expected = self._notebooks_left(self.iteration_config.effective_max_iterations,
                                        has_best=True, research=True)
        if not self.placement.poolable:
            return self.placement.start(run_dir, expected, timeout)
        emit("kernel", f"starting a {self.placement.backend} kernel pool")
        return steps.run("kernel", "start pool", self.placement.start, run_dir, expected,
                         timeout, raise_errors=True).result

    def _notebooks_left(self, iterations: int, has_best: bool, research: bool = False) -> int:
        """At most how many notebooks are still to run, one pooled kernel each: research,
        ``iterations`` more iterations, then (when an iteration succeeded) the simulation and
        run.ipynb."""
        return int(research) + iterations + (int(self.simulate) + 1 if has_best else 0)

    def _execute(self, state: RunState, phase: str, name: str, nb: NotebookNode, path: Path,
                 workdir: Path) -> tuple[NotebookRun | None, str | None]:
        """(the executed notebook, None), or (None, why it could not be executed at all)."""
        step = state.steps.run(phase, name, state.kernels.execute, nb, path, workdir)
        if not step.ok:
            return None, step.error
        return step.result, None

    def _outcome(self, state: RunState, executed: NotebookRun | None, failure: str | None,
                 predictions: Path, computer: MetricComputer
                 ) -> tuple[str, str | None, MetricResult | None, str]:
        """(status, error for the coder, host metrics, printed output) of one execution."""
        if executed is None:
            return "error", f"execution failed: {failure}", None, ""
        stdout = "".join(tagged_outputs(executed.notebook, "model"))
        if executed.status != "ok":
            return (executed.status,
                    failure_text(executed, state.kernels.timeout), None, stdout)
        try:
            metric_result = computer.compute(predictions, root=state.work_dir)
        except PredictionError as exc:
            return "invalid_predictions", str(exc), None, stdout
        return "ok", None, metric_result, stdout

    def _parameters(self, state: RunState, work: Path,
                    data_dir: Path | None = None) -> dict[str, Any]:
        """The parameters of a notebook working in ``work`` (created here) on ``data_dir``
        (default: the run's data dir)."""
        # work/ is kernel-writable: a symlink planted where this dir belongs is refused, not
        # followed. No backend needs it world-writable: a Docker kernel runs as the owner of
        # its working dir, or in a private mirror of it (kernel/docker/ownership.py).
        make_untrusted_dir(work, root=state.work_dir)
        return kernel_parameters(state.split, self.data_config.random_seed, work,
                                 data_dir or state.data_dir)

    # -- manifest --------------------------------------------------------------------------------
    def _initial_manifest(self, run_id: str, objective: str,
                          split: SplitData, timeout: float) -> dict[str, Any]:
        return initial_fields(
            run_id=run_id, objective=objective, started=_now(), split=split,
            data_config=replace(self.data_config, task_type=split.task_type),
            iteration_config=self.iteration_config,
            councils=self.councils.describe(), metric_weight=self.metric_weight,
            scan=self.placement.scan, backend=self.placement.backend,
            kernel=self.placement.describe(), timeout=timeout)

    def _advice(self, state: RunState) -> list[str]:
        """What the user could change, from how the coding loop went (for the summary)."""
        iterations = state.result.iterations
        advice = []
        timed_out = [r.index for r in iterations if r.status == "timeout"]
        if timed_out:
            advice.append(
                f"iteration{'s' if len(timed_out) > 1 else ''} "
                f"{', '.join(map(str, timed_out))} ran out of time (each cell may run "
                f"{state.kernels.timeout:g}s): give cells more with --timeout SECONDS, or "
                "the whole run more with --time-budget SECONDS")
        died = [r.index for r in iterations if r.status == "died"]
        if died:
            advice.append(
                f"the kernel died in iteration{'s' if len(died) > 1 else ''} "
                f"{', '.join(map(str, died))} (see the error: usually memory): give the "
                "kernel more memory (LocalConfig(limits=ResourceLimits(memory=...)) or a "
                "--profile with more), or sample the rows")
        if state.result.stop_reason.startswith("time budget"):
            advice.append(f"the time budget ended the loop after {len(iterations)} "
                          "iteration(s): raise --time-budget SECONDS for more")
        return advice

    def _save(self, state: RunState, **fields: Any) -> Path:
        """Set ``fields`` and write the manifest, with the steps and timings so far (a run
        killed later keeps them for ``resume``)."""
        return state.manifest.write(
            **fields, timings=self._timings(state), updated=_now(),
            steps=[*state.prior_steps, *(s.to_dict() for s in state.steps.records)])

    @staticmethod
    def _timings(state: RunState) -> dict[str, float]:
        """Seconds per phase, a resumed run's earlier sessions included."""
        timings = dict(state.prior_timings)
        for phase, seconds in state.steps.phase_timings().items():
            timings[phase] = round(timings.get(phase, 0.0) + seconds, 4)
        return timings

    def _finish_manifest(self, state: RunState, final: bool) -> None:
        result = state.result
        if final:
            state.manifest.update(status=result.status)
        calls = call_summary(state.run_dir / LOG_NAME)  # model-backed councils' calls
        if calls is not None:
            state.manifest.update(llm=calls)
        result.manifest_path = self._save(
            state, finished=_now(), stop_reason=result.stop_reason,
            wall_time=round(time.perf_counter() - state.started, 4))


def _warm_host_imports() -> None:
    """Import scikit-learn (the split and the metrics need it) in the background while the
    main thread reads and validates the data and the kernels start: about a second saved."""

    def warm() -> None:
        try:
            import sklearn.metrics
            import sklearn.model_selection  # noqa: F401
        except Exception:
            pass

    threading.Thread(target=warm, name="deepthinker-imports", daemon=True).start()


def run_deepthinker_workflow(
    data_path: str | Path,
    objective: str,
    *,
    task_type: str = "classification",
    target_column: str | None = None,
    max_iterations: int = 5,
    quality_threshold: float = 8.0,
    patience: int | None = 2,
    random_seed: int = 42,
    test_split_ratio: float = 0.2,
    execution_timeout: float | None = None,
    time_budget: float | None = None,
    backend: str = "local",
    docker_config: DockerConfig | None = None,
    **runner_kwargs: Any,
) -> WorkflowResult:
    """One call: configure, run, return the result (see :class:`WorkflowRunner`).

    Args:
        data_path: a CSV, JSON (records or lines) or Parquet file.
        objective: what the model should achieve, in words.
        task_type: ``classification`` or ``regression``.
        target_column: the column to predict; default the last one.
        max_iterations: at most this many coding iterations.
        quality_threshold: stop once an iteration scores this (0..10).
        patience: stop after this many iterations without improvement (``None``: never).
        random_seed: the split's and the models' seed.
        test_split_ratio: the held-out share of the rows (0.05..0.5).
        execution_timeout: seconds per cell (``None``: the kernel config's, else a share of
            ``time_budget``, else a limit that follows the data's size).
        time_budget: seconds for the whole run (``None``: no budget).
        backend: a registered kernel backend (``local``, ``docker``) or an alias.
        docker_config: the Docker kernels' configuration (the seed API's name; or pass
            ``kernel_config`` for any backend).
        **runner_kwargs: passed to :class:`WorkflowRunner` (``councils``, ``runs_dir``,
            ``run_id``, ``pool_size``, ``progress``, ``kernel_config``, ``metric_weight``,
            ``scan``, ``policy``, ``simulate``, ``report``).
    """
    data_config = DataConfig(
        data_path=data_path, task_type=task_type, target_column=target_column,
        test_split_ratio=test_split_ratio, random_seed=random_seed,
        execution_timeout=execution_timeout,
        execution_backend=backend,
        docker_config=docker_config,
    )
    iteration_config = IterationConfig(max_iterations=max_iterations,
                                       quality_threshold=quality_threshold, patience=patience,
                                       time_budget=time_budget)
    return WorkflowRunner(data_config, iteration_config, **runner_kwargs).run(objective)


__all__ = ["PRELOAD", "WorkflowRunner", "run_deepthinker_workflow"]
