"""The DeepThinker workflow: plan, research, code in a loop, simulate, record, report.

``WorkflowRunner.run`` reads as its phases; each step goes through a ``StepExecutor`` (timing,
retries, error capture) and each kernel execution is a papermill notebook in the run directory::

    runs/<run-id>/
      data/              train.csv, test_features.csv (+ scenarios/<name>/): the kernel's data
      work/              PREDICTIONS_PATH of every execution (NN/, simulation/<name>/, run/)
      research.ipynb     reconnaissance cells as executed in the kernel
      iterations/NN.ipynb
      simulation/<name>.ipynb
      run.ipynb          the whole run, re-executed end to end by papermill
      report.html        nbconvert export of run.ipynb
      manifest.json      written at the start ("incomplete"), after every iteration, at the end

The test labels are never written anywhere: they live in this process's memory (``SplitData``).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

from deepthinker_nb.config import DataConfig, IterationConfig, LocalConfig
from deepthinker_nb.errors import ConfigError
from deepthinker_nb.kernel.backend import get_backend
from deepthinker_nb.untrusted import UntrustedFileError, make_untrusted_dir
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
    load_and_split,
    load_and_validate,
    write_split_files,
)
from deepthinker_nb.workflow.metrics import (
    PRIMARY_METRIC,
    MetricComputer,
    MetricResult,
    PredictionError,
    blend_score,
)
from deepthinker_nb.workflow.result import IterationRecord, ProgressEvent, WorkflowResult
from deepthinker_nb.workflow.scenarios import apply_scenario
from deepthinker_nb.workflow.steps import StepExecutor, StepRecord

PRELOAD = (
    "import numpy, pandas, sklearn.compose, sklearn.ensemble, sklearn.impute, "
    "sklearn.linear_model, sklearn.model_selection, sklearn.pipeline, sklearn.preprocessing"
)
PREDICTIONS_FILE = "predictions.csv"
FEEDBACK_LIMIT = 4000
"""Characters of output or traceback a council is shown; the notebook keeps everything."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _clip(text: str, limit: int = FEEDBACK_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit // 2] + "\n...\n" + text[-limit // 2:]


class WorkflowRunner:
    """Runs the DeepThinker workflow on one dataset; ``run(objective)`` returns the result."""

    def __init__(
        self,
        data_config: DataConfig,
        iteration_config: IterationConfig | None = None,
        councils: Councils | dict[str, Any] | None = None,
        backend: str | None = None,
        runs_dir: str | Path = "runs",
        run_id: str | None = None,
        docker_config: Any = None,
        pool_size: int = 1,
        progress: Callable[[ProgressEvent], None] | None = None,
        *,
        kernel_config: Any = None,
        metric_weight: float = 1.0,
        scan: bool = True,
        policy: Any = None,
        simulate: bool = True,
        report: bool = True,
    ) -> None:
        if not isinstance(data_config, DataConfig):
            raise ConfigError("WorkflowRunner: data_config must be a DataConfig")
        self.data_config = data_config
        self.iteration_config = iteration_config or IterationConfig()
        self.councils = Councils.coerce(councils)
        # The registry knows the backends (and the "subprocess" alias); no list here.
        self.backend = get_backend(backend or data_config.backend).name
        self.docker_config = docker_config or data_config.docker_config
        self.kernel_config = kernel_config if kernel_config is not None else (
            self.docker_config if self.backend == "docker" else None)
        self.runs_dir = Path(runs_dir)
        self.run_id = run_id
        self.pool_size = pool_size
        self.progress = progress
        if not 0.0 <= metric_weight <= 1.0:
            raise ConfigError("metric_weight: must be between 0 and 1")
        self.metric_weight = metric_weight
        self.scan = scan
        self.policy = policy
        self.simulate = simulate
        self.report = report

    # -- the run ---------------------------------------------------------------------------------
    def run(self, objective: str) -> WorkflowResult:
        if not isinstance(objective, str) or not objective.strip():
            raise ConfigError("objective: describe what the model should achieve")
        started = time.perf_counter()
        _warm_host_imports()
        steps = StepExecutor()
        self._steps = steps
        self._started = started
        # Data first: a bad dataset is a clear error before any directory or kernel exists.
        validated = steps.run("data", "load and validate", load_and_validate, self.data_config,
                              raise_errors=True).result
        run_id = self.run_id or (datetime.now().strftime("%Y%m%d-%H%M%S") + "-"
                                 + secrets.token_hex(3))
        run_dir = (self.runs_dir / run_id).resolve()
        if (run_dir / "manifest.json").exists():
            raise ConfigError(f"run dir {run_dir} already holds a run; choose another run_id")
        for sub in ("data", "work", "iterations"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        self.run_dir = run_dir
        # Kernels warm up in the background while the host splits the data and plans.
        pool = None
        try:
            pool = self._start_pool(run_dir)
            split = steps.run("data", "split", load_and_split, self.data_config, validated,
                              raise_errors=True).result
        except BaseException as exc:
            if pool is not None:
                pool.close()
            from deepthinker_nb.report import write_manifest

            write_manifest(run_dir, {"run_id": run_id, "status": "failed", "objective": objective,
                                     "error": f"{type(exc).__name__}: {exc}",
                                     "steps": [r.to_dict() for r in steps.records]})
            raise
        self.split = split
        self.computer = MetricComputer(split.task_type, split.test_labels, split.classes)
        split.write(run_dir / "data")
        result = WorkflowResult(run_id, run_dir, "incomplete", objective)
        self.result = result
        self._manifest = self._initial_manifest(run_id, objective, split)
        self._write_manifest()
        self._emit("data", f"{split.profile.n_train} training rows, {split.profile.n_test} "
                   f"held-out test rows; run dir {run_dir}")

        try:
            result.plan = self._planning(objective, split)
            result.research = self._research(pool, result.plan, split)
            self._coding_loop(pool, objective, result, split)
            # Only the simulation and run.ipynb are left: warm no kernel beyond those.
            pool.expect(self._notebooks_left(0, result.best is not None))
            if result.best is not None:
                self._simulate_and_record(pool, result, split)
            result.status = "complete" if result.best is not None else "failed"
        except BaseException as exc:
            if isinstance(exc, Exception):
                self._manifest["status"] = "failed"
                self._manifest["error"] = f"{type(exc).__name__}: {exc}"
                self._finish_manifest(result, final=False)
            raise
        finally:
            pool.close()
        if self.report and result.run_notebook is not None:
            self._report(result)
        result.wall_time = time.perf_counter() - started
        result.timings = steps.phase_timings()
        self._finish_manifest(result, final=True)
        self._emit("done", f"{result.status}: best iteration {result.best_iteration}, score "
                   f"{result.quality_score:.2f}", best_score=result.quality_score)
        return result

    # -- phases ----------------------------------------------------------------------------------
    def _planning(self, objective: str, split: SplitData) -> Plan:
        self._emit("planning", "planning from the objective and the data profile")
        step = self._steps.run("planning", "plan", self.councils.planner.plan, objective,
                               split.profile, raise_errors=True)
        plan = step.result
        self._manifest["plan"] = plan.to_dict()
        return plan

    def _research(self, pool: Any, plan: Plan, split: SplitData) -> ResearchSummary:
        from deepthinker_nb.notebook import CellSpec, build_notebook

        self._emit("research", "reconnaissance cells in the kernel")
        researcher = self.councils.researcher
        step = self._steps.run("research", "research cells", researcher.cells, plan, split.profile)
        cells = step.result if step.ok else []
        self._research_cells = list(cells or [])
        outputs: list[str] = []
        status = "error" if not step.ok else "ok"
        if cells:
            nb = build_notebook(
                [CellSpec("## Research\n\nReconnaissance on the training rows, in the kernel.",
                          "markdown"), *(CellSpec(c, tags=("research",)) for c in cells)],
                parameters=self._parameters(self.run_dir / "work" / "research"),
                kernel_name=self._kernel_name(),
            )
            run, _failure = self._execute("research", "research notebook", pool, nb,
                                          self.run_dir / "research.ipynb",
                                          self.run_dir / "work" / "research")
            status = run.status if run is not None else "error"
            outputs = _tagged_outputs(run.notebook, "research") if run is not None else []
            self._manifest["research"] = {"status": status, "notebook": "research.ipynb",
                                          "scan": _scan_records(run)}
            if status != "ok":
                self._research_cells = []  # run.ipynb must not stop at a failing recon cell
        summary_step = self._steps.run("research", "summarise", researcher.summarise, plan,
                                       split.profile, [_clip(o) for o in outputs])
        summary = summary_step.result if summary_step.ok else ResearchSummary(
            findings=[f"summary failed: {summary_step.error}"], status="error")
        if status != "ok" and summary.status == "ok":
            summary.status = status
        self._manifest.setdefault("research", {})["summary"] = summary.to_dict()
        return summary

    def _coding_loop(self, pool: Any, objective: str, result: WorkflowResult,
                     split: SplitData) -> None:
        config = self.iteration_config
        history: list[Attempt] = []
        best_score = -1.0
        stall = 0
        for index in range(1, config.effective_max_iterations + 1):
            record = self._iteration(pool, objective, result, split, index, history,
                                     max(best_score, 0.0))
            result.iterations.append(record)
            history.append(Attempt(record.index, record.cells, record.model, record.status,
                                   record.error, record.metrics, record.score, record.feedback))
            if record.ok and record.score > best_score:
                improved = record.score >= best_score + config.min_improvement
                best_score = record.score
                result.best_iteration = record.index
                result.quality_score = record.score
                result.best_metrics = dict(record.metrics)
                stall = 0 if improved else stall + 1
            else:
                stall += 1
            self._manifest["iterations"] = [r.to_dict() for r in result.iterations]
            self._manifest["best_iteration"] = result.best_iteration
            self._manifest["metrics"] = result.best_metrics
            self._manifest["quality_score"] = result.quality_score
            self._write_manifest()
            self._emit("coding", f"iteration {index}: {record.status}, score {record.score:.2f} "
                       f"({record.model})", iteration=index, score=record.score,
                       best_score=result.quality_score, status=record.status)
            if record.ok and record.score >= config.quality_threshold:
                result.stop_reason = f"quality threshold {config.quality_threshold} reached"
                break
            if index >= config.effective_max_iterations:
                result.stop_reason = f"max iterations ({config.effective_max_iterations})"
                break
            if config.patience is not None and stall >= config.patience:
                result.stop_reason = f"no improvement in {stall} iterations (patience)"
                break
        self._manifest["stop_reason"] = result.stop_reason

    def _iteration(self, pool: Any, objective: str, result: WorkflowResult, split: SplitData,
                   index: int, history: list[Attempt], best_score: float) -> IterationRecord:
        from deepthinker_nb.notebook import CellSpec, build_notebook

        started = time.perf_counter()
        self._emit("coding", f"iteration {index}: writing code", iteration=index)
        request = CodeRequest(objective, result.plan, result.research, split.profile, index,
                              list(history), self.iteration_config.quality_threshold)
        step = self._steps.run("coding", f"propose {index}", self.councils.coder.propose, request)
        if not step.ok or not isinstance(step.result, CodeProposal) or not step.result.cells:
            error = step.error or "the coder returned no cells"
            return IterationRecord(index, [], "", "", "error", f"coder failed: {error}",
                                   feedback=f"The coder failed: {error}",
                                   duration=time.perf_counter() - started)
        proposal: CodeProposal = step.result
        cells = [str(c) for c in proposal.cells]
        work = self.run_dir / "work" / f"{index:02d}"
        predictions = work / PREDICTIONS_FILE
        try:
            parameters = self._parameters(work)
        except UntrustedFileError as exc:  # an earlier kernel planted something in its place
            return IterationRecord(index, cells, proposal.model, proposal.rationale, "error",
                                   f"work dir refused: {exc}",
                                   feedback=f"The work dir was refused: {exc}",
                                   duration=time.perf_counter() - started)
        header = f"## Iteration {index}: {proposal.model or 'code'}\n\n{proposal.rationale}"
        nb = build_notebook(
            [CellSpec(header, "markdown"), *(CellSpec(c, tags=("model",)) for c in cells)],
            parameters=parameters,
            kernel_name=self._kernel_name(),
            metadata={"deepthinker": {"run_id": self.result.run_id, "iteration": index}},
        )
        path = self.run_dir / "iterations" / f"{index:02d}.ipynb"
        self._emit("coding", f"iteration {index}: running {proposal.model or 'code'}",
                   iteration=index)
        run, failure = self._execute("coding", f"execute {index}", pool, nb, path, work)
        status, error, metric_result, stdout = self._outcome(run, failure, predictions,
                                                             self.computer)
        metric_score = metric_result.score if metric_result is not None else 0.0
        evaluation = self._evaluate(objective, result.plan, proposal, index, status, error,
                                    metric_result, metric_score, stdout, best_score)
        score = (blend_score(metric_score, evaluation.score, self.metric_weight)
                 if metric_result is not None else 0.0)
        return IterationRecord(
            index, cells, proposal.model, proposal.rationale, status, error,
            dict(metric_result.metrics) if metric_result else {}, score, metric_score,
            evaluation.feedback, time.perf_counter() - started, path, _scan_records(run), stdout,
            tuple(i for i in proposal.diagnostic_cells if isinstance(i, int)),
        )

    def _evaluate(self, objective: str, plan: Plan | None, proposal: CodeProposal, index: int,
                  status: str, error: str | None, metric_result: MetricResult | None,
                  metric_score: float, stdout: str, best_score: float) -> Evaluation:
        request = EvaluationRequest(objective, plan, proposal, index, status, error,
                                    metric_result, metric_score, _clip(stdout), best_score,
                                    self.iteration_config.quality_threshold)
        step = self._steps.run("evaluation", f"evaluate {index}",
                               self.councils.evaluator.evaluate, request)
        if step.ok and isinstance(step.result, Evaluation):
            return step.result
        return Evaluation(None, f"(evaluator failed: {step.error}) metric score "
                          f"{metric_score:.2f}")

    def _simulation(self, pool: Any, result: WorkflowResult, split: SplitData) -> SimulationReport:
        """Re-run the best code on host-perturbed copies of the data, one section per scenario
        of ``simulation.ipynb`` (one kernel; a failing section does not stop the next)."""
        from deepthinker_nb.notebook import CellSpec, build_notebook, parameters_source

        best = result.best
        assert best is not None
        simulator = self.councils.simulator
        primary = PRIMARY_METRIC[split.task_type]
        step = self._steps.run("simulation", "scenarios", simulator.scenarios, result.plan,
                               split.profile)
        scenarios = list(step.result or []) if step.ok else []
        outcomes: dict[int, ScenarioResult] = {}
        sections: list[tuple[int, Any, Any, Path]] = []
        cells: list[CellSpec] = [CellSpec(
            "# Simulation\n\nThe best code re-run on copies of the data perturbed on the host; "
            "the host computes each scenario's metrics.", "markdown")]
        for number, scenario in enumerate(scenarios, 1):
            try:
                data = apply_scenario(scenario, split, self.data_config.random_seed + number)
            except Exception as exc:
                outcomes[number] = ScenarioResult(scenario, "error",
                                                  error=f"{type(exc).__name__}: {exc}")
                continue
            safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in scenario.name)
            data_dir = self.run_dir / "data" / "scenarios" / safe
            write_split_files(data_dir, data.train, data.test_features)
            work = self.run_dir / "work" / "simulation" / safe
            try:
                parameters = self._parameters(work, data_dir)
            except UntrustedFileError as exc:  # a kernel planted something in its place
                outcomes[number] = ScenarioResult(scenario, "error",
                                                  error=f"work dir refused: {exc}")
                continue
            tag = f"scenario-{number}"
            cells.append(CellSpec(f"## Scenario {number}: {scenario.name}\n\n"
                                  f"{scenario.description}", "markdown"))
            cells.append(CellSpec(parameters_source(parameters),
                                  tags=(tag, "scenario-parameters")))
            cells += [CellSpec(c, tags=(tag, "model", "raises-exception"))
                      for i, c in enumerate(best.cells) if i not in best.diagnostic_cells]
            sections.append((number, scenario, data, work))
        run = None
        if sections:
            self._emit("simulation", f"{len(sections)} scenarios in simulation.ipynb")
            nb = build_notebook(cells, kernel_name=self._kernel_name())
            run, _failure = self._execute("simulation", "simulation notebook", pool, nb,
                                          self.run_dir / "simulation.ipynb",
                                          self.run_dir / "work" / "simulation")
        for number, scenario, data, work in sections:
            status, error = _section_status(run, f"scenario-{number}")
            metric_result = None
            if status == "ok":
                computer = MetricComputer(split.task_type, data.test_labels, split.classes)
                try:
                    metric_result = computer.compute(work / PREDICTIONS_FILE,
                                                     root=self.run_dir / "work")
                except PredictionError as exc:
                    status, error = "invalid_predictions", str(exc)
            metrics = dict(metric_result.metrics) if metric_result else {}
            delta = (round(metrics[primary] - result.best_metrics[primary], 6)
                     if metric_result is not None else None)
            outcomes[number] = ScenarioResult(
                scenario, status, metrics, metric_result.score if metric_result else 0.0, delta,
                error, len(data.test_labels), "simulation.ipynb")
        ordered = [outcomes[n] for n in sorted(outcomes)]
        step = self._steps.run("simulation", "report", simulator.report, primary,
                               dict(result.best_metrics), ordered)
        report = step.result if step.ok else SimulationReport(primary, result.best_metrics,
                                                              ordered, f"({step.error})")
        self._manifest["simulation"] = report.to_dict()
        self._manifest["simulation"]["scan"] = _scan_records(run)
        self._write_manifest()
        return report

    def _notebooks_left(self, iterations: int, has_best: bool, research: bool = False) -> int:
        """At most how many notebooks are still to run, one pooled kernel each: research,
        ``iterations`` more iterations, then (when an iteration succeeded) the simulation and
        run.ipynb."""
        return int(research) + iterations + (int(self.simulate) + 1 if has_best else 0)

    def _simulate_and_record(self, pool: Any, result: WorkflowResult, split: SplitData) -> None:
        """The simulation and the re-execution of run.ipynb need only the best code: with a
        pool of two or more (told that only these two notebooks are left, so no kernel is
        starting for nobody) or with Docker they run side by side; with one kernel the second
        would wait for a cold start. The simulation's results join run.ipynb afterwards either
        way, as the host-written markdown they are."""
        from concurrent.futures import ThreadPoolExecutor

        parallel = self.simulate and (self.pool_size >= 2 or self.backend == "docker")
        if not parallel:
            result.simulation = self._simulation(pool, result, split) if self.simulate else None
            run_metrics, metric_result = self._record_run(pool, result, split)
            self._finish_run_notebook(result, run_metrics, metric_result)
            return
        with ThreadPoolExecutor(2, thread_name_prefix="deepthinker-phase") as phases:
            simulation = (phases.submit(self._simulation, pool, result, split)
                          if self.simulate else None)
            recording = phases.submit(self._record_run, pool, result, split)
            if simulation is not None:
                result.simulation = simulation.result()
            run_metrics, metric_result = recording.result()
        self._finish_run_notebook(result, run_metrics, metric_result)

    def _record_run(self, pool: Any, result: WorkflowResult, split: SplitData
                    ) -> tuple[dict[str, float], MetricResult | None]:
        """Build run.ipynb (plan, research, best code, evaluation) and re-execute it."""
        from deepthinker_nb.notebook import CellSpec, build_notebook

        self._emit("recording", "re-executing the whole run as run.ipynb")
        best = result.best
        assert best is not None and result.plan is not None
        cells: list[CellSpec] = [
            CellSpec(f"# DeepThinker run `{result.run_id}`\n\n**Objective:** {result.objective}"
                     f"\n\n### Data\n\n{split.profile.to_markdown()}\n\nThe held-out test labels "
                     "stay on the host: this notebook sees only the training rows and the test "
                     "features.", "markdown"),
            CellSpec(result.plan.to_markdown(), "markdown"),
        ]
        if self._research_cells:
            cells.append(CellSpec("## Research", "markdown"))
            cells += [CellSpec(c, tags=("research",)) for c in self._research_cells]
        if result.research is not None:
            cells.append(CellSpec(result.research.to_markdown(), "markdown"))
        cells.append(CellSpec(f"## Best code: iteration {best.index} ({best.model})\n\n"
                              f"{best.rationale}", "markdown"))
        cells += [CellSpec(c, tags=("model",)) for c in best.cells]
        cells.append(CellSpec(_evaluation_markdown(result), "markdown"))
        cells.append(CellSpec(_score_plot_cell(result), tags=("evaluation",)))
        work = self.run_dir / "work" / "run"
        try:
            parameters = self._parameters(work)
        except UntrustedFileError as exc:  # a kernel planted something in its place
            self._manifest["run_notebook"] = {"path": None, "status": "error",
                                              "error": f"work dir refused: {exc}",
                                              "metrics": {}, "reproduced": False}
            self._manifest["reproduced"] = result.reproduced = False
            return {}, None
        nb = build_notebook(cells, parameters=parameters,
                            kernel_name=self._kernel_name(),
                            metadata={"deepthinker": {"run_id": result.run_id}})
        path = self.run_dir / "run.ipynb"
        run, failure = self._execute("recording", "run.ipynb", pool, nb, path, work)
        status, error, metric_result, _ = self._outcome(run, failure, work / PREDICTIONS_FILE,
                                                        self.computer)
        run_metrics = dict(metric_result.metrics) if metric_result else {}
        from deepthinker_nb.report.reproduce import compare_metrics

        mismatches = compare_metrics(result.best_metrics, run_metrics) if run_metrics else {
            "status": (status, error)}
        result.reproduced = status == "ok" and not mismatches
        result.run_notebook = path
        self._manifest["run_notebook"] = {
            "path": "run.ipynb", "status": status, "error": error, "metrics": run_metrics,
            "reproduced": result.reproduced,
            "mismatches": {k: list(v) for k, v in mismatches.items()},
            "scan": _scan_records(run),
        }
        self._manifest["reproduced"] = result.reproduced
        return run_metrics, metric_result

    def _finish_run_notebook(self, result: WorkflowResult, run_metrics: dict[str, float],
                             metric_result: MetricResult | None) -> None:
        """Append what only the host knows (it needs the labels) to the executed run.ipynb."""
        from deepthinker_nb.notebook.io import read_notebook, write_notebook

        path = self.run_dir / "run.ipynb"
        if result.run_notebook is not None and path.exists():
            executed = read_notebook(path)
            if result.simulation is not None:
                executed.cells.append(nbformat.v4.new_markdown_cell(
                    result.simulation.to_markdown()
                    + "\n\nEach scenario's cells are in `simulation.ipynb`."))
            executed.cells.append(_host_evaluation_cell(result, run_metrics, metric_result))
            executed.metadata.setdefault("deepthinker", {}).update({
                "run_id": result.run_id, "host_metrics": run_metrics,
                "loop_best_metrics": result.best_metrics, "reproduced": result.reproduced,
            })
            nbformat.validate(executed)
            write_notebook(executed, path)

    def _report(self, result: WorkflowResult) -> None:
        from deepthinker_nb.report import export_html

        self._emit("report", "exporting report.html")
        step = self._steps.run("report", "export html", export_html, result.run_notebook,
                               self.run_dir / "report.html")
        if step.ok:
            result.report_path = Path(step.result)

    # -- helpers ---------------------------------------------------------------------------------
    def _start_pool(self, run_dir: Path) -> Any:
        """A warm pool for local kernels. Docker kernels start per notebook instead, with the
        notebook's own ``work/`` dir mounted read-write (a pooled kernel's working dir is a
        private temp dir, and the container sees nothing else it could write predictions to)."""
        from deepthinker_nb.kernel import KernelPool

        if self.backend == "docker":
            return _NoPool()
        self._emit("kernel", f"starting a {self.backend} kernel pool")

        # Each notebook writes its predictions under run_dir/work/: the local kernels'
        # file-system jail must let them, and nothing else outside their own working dirs.
        work = run_dir / "work"
        work.mkdir(parents=True, exist_ok=True)
        config = self.kernel_config or LocalConfig()
        config = dataclasses.replace(
            config, extra_write_paths=(*config.extra_write_paths, str(work)))

        def start() -> Any:
            pool = KernelPool(self.pool_size, self.backend, config, preload=PRELOAD,
                              data_dirs=[run_dir / "data"], scan=self.scan,
                              policy=self._scan_policy(work))
            pool.expect(self._notebooks_left(self.iteration_config.effective_max_iterations,
                                             has_best=True, research=True))
            return pool.start()

        return self._steps.run("kernel", "start pool", start, raise_errors=True).result

    def _execute(self, phase: str, name: str, pool: Any, nb: Any, path: Path,
                 workdir: Path) -> Any:
        from deepthinker_nb.notebook import execute_notebook

        if isinstance(pool, _NoPool):
            kernel = {"backend": self.backend, "config": self.kernel_config, "workdir": workdir,
                      "data_dirs": (self.run_dir / "data",)}
        else:
            kernel = {"pool": pool}
        step: StepRecord = self._steps.run(
            phase, name, execute_notebook, nb, path, **kernel,
            timeout=self.data_config.execution_timeout, scan=self.scan,
            policy=self._scan_policy(workdir))
        if not step.ok:
            return None, step.error
        return step.result, None

    def _scan_policy(self, workdir: Path) -> Any:
        """The scanner's file-access policy for one notebook: read the data dir, write only this
        notebook's own ``work/`` dir (where PREDICTIONS_PATH points), nothing else. The pool's
        kernels, which serve every notebook of the run, get it for the run's whole ``work/``:
        the scanner inside them checks what the notebook's gate let through."""
        from deepthinker_nb.scanner.policy import ScanPolicy

        data = str(self.run_dir / "data")
        if self.policy is None:
            return ScanPolicy.coder(work_dir=str(workdir), data_dirs=(data,))
        return self.policy.with_(work_dir=str(workdir),
                                 data_dirs=tuple(dict.fromkeys((*self.policy.data_dirs, data))))

    def _outcome(self, run: Any, failure: str | None, predictions: Path,
                 computer: MetricComputer) -> tuple[str, str | None, MetricResult | None, str]:
        """(status, error for the coder, host metrics, printed output) of one execution."""
        if run is None:
            return "error", f"execution failed: {failure}", None, ""
        stdout = "".join(_tagged_outputs(run.notebook, "model"))
        if run.status != "ok":
            return run.status, _failure_text(run, self.data_config.execution_timeout), None, stdout
        try:
            metric_result = computer.compute(predictions, root=self.run_dir / "work")
        except PredictionError as exc:
            return "invalid_predictions", str(exc), None, stdout
        return "ok", None, metric_result, stdout

    def _parameters(self, work: Path, data_dir: Path | None = None) -> dict[str, Any]:
        # work/ is kernel-writable: a symlink planted where this dir belongs is refused, not
        # followed. No backend needs it world-writable: a Docker kernel runs as the owner of
        # its working dir, or in a private mirror of it (kernel/docker/ownership.py).
        make_untrusted_dir(work, root=self.run_dir / "work")
        data_dir = data_dir or self.run_dir / "data"
        return {
            "DATA_PATH": str(data_dir / "train.csv"),
            "TEST_FEATURES_PATH": str(data_dir / "test_features.csv"),
            "PREDICTIONS_PATH": str(work / PREDICTIONS_FILE),
            "TARGET": self.split.target,
            "TASK_TYPE": self.split.task_type,
            "RANDOM_SEED": self.data_config.random_seed,
        }

    def _kernel_name(self) -> str:
        return get_backend(self.backend).kernel_name

    def _describe_backend(self) -> dict[str, Any]:
        try:
            return get_backend(self.backend).describe(self.kernel_config)
        except Exception as exc:  # a manifest must not fail a run
            return {"backend": self.backend, "describe_error": str(exc)}

    def _emit(self, phase: str, message: str, **fields: Any) -> None:
        if self.progress is None:
            return
        try:
            self.progress(ProgressEvent(phase, message, elapsed=time.perf_counter()
                                        - self._started, **fields))
        except Exception:
            pass  # a broken display must not break the run

    # -- manifest --------------------------------------------------------------------------------
    def _initial_manifest(self, run_id: str, objective: str, split: SplitData) -> dict[str, Any]:
        from deepthinker_nb.report import package_versions

        config = asdict(self.data_config)
        config["data_path"] = str(split.source)
        return {
            "run_id": run_id,
            "status": "incomplete",
            "started": _now(),
            "objective": objective,
            "data_config": config,
            "iteration_config": asdict(self.iteration_config),
            "seeds": {"split": split.seed, "model": self.data_config.random_seed},
            "dataset": {
                "path": str(split.source), "sha256": split.dataset_sha256,
                "target": split.target, "task_type": split.task_type,
                "n_train": split.profile.n_train, "n_test": split.profile.n_test,
                "profile": split.profile.to_dict(),
                "files": {"train": "data/train.csv", "test_features": "data/test_features.csv"},
                "test_labels": "held in host memory only; re-derived from the source file, "
                               "seed and test_split_ratio when needed",
            },
            "councils": self.councils.describe(),
            "metric_weight": self.metric_weight,
            "scan": self.scan,
            "backend": self.backend,
            "kernel": self._describe_backend(),
            "packages": package_versions(),
            "iterations": [],
            "best_iteration": None,
            "metrics": {},
            "reproduce": {
                "backend": self.backend, "data_dirs": [str(self.run_dir / "data")],
                "timeout": self.data_config.execution_timeout,
                "metrics_fn": "deepthinker_nb.workflow.reproduce:host_metrics",
                # The re-run's kernel works where PREDICTIONS_PATH points (and the scan gate
                # lets it write there, nowhere else).
                "workdir": str(self.run_dir / "work" / "run"),
            },
        }

    def _write_manifest(self) -> Path:
        from deepthinker_nb.report import write_manifest

        self._manifest["timings"] = self._steps.phase_timings()
        self._manifest["updated"] = _now()
        return write_manifest(self.run_dir, self._manifest)

    def _finish_manifest(self, result: WorkflowResult, final: bool) -> None:
        if final:
            self._manifest["status"] = result.status
        self._manifest["finished"] = _now()
        self._manifest["stop_reason"] = result.stop_reason
        self._manifest["wall_time"] = round(time.perf_counter() - self._started, 4)
        self._manifest["steps"] = [s.to_dict() for s in self._steps.records]
        result.manifest_path = self._write_manifest()


def _warm_host_imports() -> None:
    """Import scikit-learn (the split and the metrics need it) in the background while the
    main thread reads and validates the data and the kernels start: about a second saved."""
    import threading

    def warm() -> None:
        try:
            import sklearn.metrics
            import sklearn.model_selection  # noqa: F401
        except Exception:
            pass

    threading.Thread(target=warm, name="deepthinker-imports", daemon=True).start()


class _NoPool:
    """Stands in for a pool when every notebook starts its own kernel (Docker)."""

    def expect(self, remaining: int | None) -> None:
        pass

    def close(self) -> None:
        pass


# -- notebook helpers ------------------------------------------------------------------------------
def _tagged_outputs(nb: Any, tag: str) -> list[str]:
    texts = []
    for cell in getattr(nb, "cells", []):
        if cell.cell_type != "code" or tag not in cell.get("metadata", {}).get("tags", []):
            continue
        parts = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(str(output.get("text", "")))
            elif "text/plain" in output.get("data", {}):
                parts.append(str(output["data"]["text/plain"]) + "\n")
        texts.append("".join(parts))
    return texts


def _section_status(run: Any, tag: str) -> tuple[str, str | None]:
    """How the cells tagged ``tag`` ended: ok, the first failure, or ``skipped``."""
    if run is None:
        return "error", "the simulation notebook could not be executed"
    tagged = [c for c in run.notebook.cells
              if c.cell_type == "code" and tag in c.get("metadata", {}).get("tags", [])]
    for cell in tagged:
        status = cell.get("metadata", {}).get("deepthinker", {}).get("status")
        if status is None:
            return "skipped", "an earlier section stopped the notebook"
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if status != "ok" or errors:
            detail = f"{errors[0].get('ename')}: {errors[0].get('evalue')}" if errors else status
            return (status if status != "ok" else "error"), detail
    return "ok", None


def _scan_records(run: Any) -> list[dict[str, Any]]:
    if run is None:
        return []
    return [{"cell": c.index, "status": c.status, "verdict": c.verdict,
             "findings": c.scan.get("findings", [])} for c in run.cells]


def _failure_text(run: Any, timeout: float) -> str:
    cell = run.failed_cell
    where = f"cell {run.failed_cell_index}" if run.failed_cell_index is not None else "a cell"
    if run.status == "timeout":
        return f"{where} exceeded the time limit of {timeout:g}s and was stopped"
    if run.status == "died":
        detail = f": {run.error}" if run.error else ""
        return f"the kernel died while running {where}{detail} (memory, os._exit or a crash)"
    if run.status == "blocked":
        findings = (cell.scan.get("findings", []) if cell is not None else [])
        text = "; ".join(f"{f.get('rule_id', '?')}: {f.get('message', '')}"
                         for f in findings if isinstance(f, dict)) or str(run.error or "")
        return f"the security scanner blocked {where}: {text}"
    error = run.error
    if error is None:
        return f"{where} failed"
    tail = "\n".join(error.traceback[-12:]) if error.traceback else ""
    return _clip(f"{where} raised {error.ename}: {error.evalue}\n{tail}".strip())


def _evaluation_markdown(result: WorkflowResult) -> str:
    rows = ["| iteration | model | status | score | metrics |", "|---|---|---|---|---|"]
    for r in result.iterations:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in r.metrics.items()) or (
            (r.error or "").splitlines()[0][:80] if r.error else "")
        mark = " **(best)**" if r.index == result.best_iteration else ""
        rows.append(f"| {r.index}{mark} | {r.model} | {r.status} | {r.score:.2f} | {metrics} |")
    return ("## Evaluation\n\nHeld-out metrics computed on the host from each iteration's "
            f"predictions (stop: {result.stop_reason}).\n\n" + "\n".join(rows))


def _host_evaluation_cell(result: WorkflowResult, run_metrics: dict[str, float],
                          metric_result: MetricResult | None) -> Any:
    lines = ["## Reproduction check (host)", "",
             "Metrics of the predictions written by this notebook, computed on the host:", ""]
    lines += [f"- {k}: {v:.6f}" for k, v in run_metrics.items()] or ["- (no valid predictions)"]
    lines += ["", f"Equal to the coding loop's best iteration ({result.best_iteration}): "
              f"**{'yes' if result.reproduced else 'no'}**."]
    confusion = metric_result.confusion if metric_result is not None else {}
    if confusion:
        labels = confusion["labels"]
        lines += ["", "Confusion matrix on the held-out rows (rows: true, columns: predicted):",
                  "", "| true \\ predicted | " + " | ".join(map(str, labels)) + " |",
                  "|---" * (len(labels) + 1) + "|"]
        lines += [f"| **{label}** | " + " | ".join(str(v) for v in row) + " |"
                  for label, row in zip(labels, confusion["matrix"], strict=True)]
    return nbformat.v4.new_markdown_cell("\n".join(lines))


def _score_plot_cell(result: WorkflowResult) -> str:
    """A kernel cell plotting the host's scores per iteration (numbers only, no labels)."""
    scores = {r.index: round(r.score, 4) for r in result.iterations}
    return "\n".join([
        "# Quality score per iteration (computed on the host during the coding loop).",
        "import matplotlib.pyplot as plt",
        "",
        f"scores = {scores!r}",
        f"best = {result.best_iteration!r}",
        "fig, ax = plt.subplots(figsize=(5, 3))",
        'ax.plot(list(scores), list(scores.values()), "o-")',
        'ax.plot([best], [scores[best]], "r*", markersize=14, label="best")',
        'ax.set(xlabel="iteration", ylabel="quality score (0..10)", ylim=(0, 10.2),',
        '       xticks=list(scores), title="Score per iteration")',
        "ax.legend()",
        "plt.show()",
    ])


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
    execution_timeout: float = 30.0,
    backend: str = "local",
    docker_config: Any = None,
    **runner_kwargs: Any,
) -> WorkflowResult:
    """One call: configure, run, return the result (see :class:`WorkflowRunner`)."""
    data_config = DataConfig(
        data_path=data_path, task_type=task_type, target_column=target_column,
        test_split_ratio=test_split_ratio, random_seed=random_seed,
        execution_timeout=execution_timeout,
        execution_backend="docker" if backend == "docker" else "subprocess",
        docker_config=docker_config,
    )
    iteration_config = IterationConfig(max_iterations=max_iterations,
                                       quality_threshold=quality_threshold, patience=patience)
    return WorkflowRunner(data_config, iteration_config, **runner_kwargs).run(objective)


__all__ = ["PRELOAD", "WorkflowRunner", "run_deepthinker_workflow"]
