"""The notebooks a run leaves, cell by cell, and what the host reads back out of them.

Builders: ``research.ipynb``, ``iterations/NN.ipynb``, ``simulation.ipynb`` and ``run.ipynb``
(plus the host-only cells appended to the executed run.ipynb). Readers: the printed output of
tagged cells, how a tagged section ended, each cell's scan record, and a failure told in words
a coder can act on.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from deepthinker_nb.notebook.builder import CellSpec, build_notebook, parameters_source
from deepthinker_nb.notebook.execute import NotebookRun
from deepthinker_nb.notebook.io import read_notebook, write_notebook
from deepthinker_nb.workflow.councils.base import CodeProposal, Scenario
from deepthinker_nb.workflow.data import DataProfile, SplitData
from deepthinker_nb.workflow.metrics import MetricResult
from deepthinker_nb.workflow.result import IterationRecord, WorkflowResult

PREDICTIONS_FILE = "predictions.csv"
FEEDBACK_LIMIT = 4000
"""Characters of output or traceback a council is shown; the notebook keeps everything."""


def clip(text: str, limit: int = FEEDBACK_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, keeping its start and its end."""
    return text if len(text) <= limit else text[:limit // 2] + "\n...\n" + text[-limit // 2:]


def kernel_parameters(split: SplitData, random_seed: int, work: Path,
                      data_dir: Path) -> dict[str, Any]:
    """The parameters cell of a notebook that reads ``data_dir`` and writes its predictions
    into ``work``."""
    return {
        "DATA_PATH": str(data_dir / "train.csv"),
        "TEST_FEATURES_PATH": str(data_dir / "test_features.csv"),
        "PREDICTIONS_PATH": str(work / PREDICTIONS_FILE),
        "TARGET": split.target,
        "TASK_TYPE": split.task_type,
        "RANDOM_SEED": random_seed,
    }


# -- the notebooks ---------------------------------------------------------------------------------
def research_notebook(cells: list[str], parameters: dict[str, Any],
                      kernel_name: str) -> NotebookNode:
    return build_notebook(
        [CellSpec("## Research\n\nReconnaissance on the training rows, in the kernel.",
                  "markdown"), *(CellSpec(c, tags=("research",)) for c in cells)],
        parameters=parameters,
        kernel_name=kernel_name,
    )


def iteration_notebook(index: int, proposal: CodeProposal, cells: list[str],
                       parameters: dict[str, Any], kernel_name: str,
                       run_id: str) -> NotebookNode:
    header = f"## Iteration {index}: {proposal.model or 'code'}\n\n{proposal.rationale}"
    return build_notebook(
        [CellSpec(header, "markdown"), *(CellSpec(c, tags=("model",)) for c in cells)],
        parameters=parameters,
        kernel_name=kernel_name,
        metadata={"deepthinker": {"run_id": run_id, "iteration": index}},
    )


@dataclass(frozen=True)
class ScenarioSection:
    """One scenario's section of simulation.ipynb: its own parameters cell (the scenario's data
    dir and work dir), then the best code. Its cells are tagged ``scenario-<number>``."""

    number: int
    scenario: Scenario
    parameters: dict[str, Any]

    @property
    def tag(self) -> str:
        return f"scenario-{self.number}"


def simulation_notebook(sections: list[ScenarioSection], best: IterationRecord,
                        kernel_name: str) -> NotebookNode:
    """One section per scenario; a failing section does not stop the next (its model cells
    are tagged ``raises-exception``). The best iteration's diagnostic cells are left out."""
    cells: list[CellSpec] = [CellSpec(
        "# Simulation\n\nThe best code re-run on copies of the data perturbed on the host; "
        "the host computes each scenario's metrics.", "markdown")]
    for section in sections:
        scenario = section.scenario
        cells.append(CellSpec(f"## Scenario {section.number}: {scenario.name}\n\n"
                              f"{scenario.description}", "markdown"))
        cells.append(CellSpec(parameters_source(section.parameters),
                              tags=(section.tag, "scenario-parameters")))
        cells += [CellSpec(c, tags=(section.tag, "model", "raises-exception"))
                  for i, c in enumerate(best.cells) if i not in best.diagnostic_cells]
    return build_notebook(cells, kernel_name=kernel_name)


@dataclass(frozen=True)
class CandidateSection:
    """One council member's candidate in ``iterations/NN.ipynb``: its executed notebook (or
    its code, when it never ran), its status and its host metrics."""

    member: str
    model: str
    approach: str
    status: str
    score: float
    metrics: dict[str, float]
    error: str | None
    rationale: str
    notebook: NotebookNode | None
    cells: list[str]


def council_notebook(index: int, sections: list[CandidateSection], winner: str, primary: str,
                     kernel_name: str, run_id: str) -> NotebookNode:
    """``iterations/NN.ipynb`` of a council: one section per candidate (its own parameters
    cell, then its cells as executed, outputs kept; tagged ``candidate-<member>`` and
    ``raises-exception`` so a re-run goes on past a failing candidate), then why the winner
    won: the primary metric side by side."""
    nb = build_notebook(
        [CellSpec(f"## Iteration {index}: a council of {len(sections)} coders\n\nEach "
                  "candidate ran in its own kernel and work dir; the host metric picks the "
                  "winner.", "markdown")],
        kernel_name=kernel_name,
        metadata={"deepthinker": {"run_id": run_id, "iteration": index, "winner": winner,
                                  "candidates": [s.member for s in sections]}})
    for s in sections:
        tag = f"candidate-{s.member}"
        shown = ", ".join(f"{k} {v:.4f}" for k, v in s.metrics.items()) or (
            (s.error or "").splitlines()[0][:200] if s.error else "")
        mark = " (winner)" if s.member == winner else ""
        nb.cells.append(nbformat.v4.new_markdown_cell(
            f"### Candidate `{s.member}`{mark}: {s.model}, {s.approach or 'code'}\n\n"
            f"Status **{s.status}**, host score **{s.score:.2f}**/10. {shown}\n\n"
            f"{s.rationale}".rstrip()))
        executed = [c for c in s.notebook.cells if c.cell_type == "code"] if s.notebook else [
            nbformat.v4.new_code_cell(c) for c in s.cells]
        for number, cell in enumerate(executed):
            cell = copy.deepcopy(cell)
            tags = [t for t in cell.metadata.get("tags", []) if t != "parameters"]
            if "parameters" in cell.metadata.get("tags", []):
                tags.append("candidate-parameters")
            else:
                tags.append("raises-exception")
            cell.metadata["tags"] = [tag, *tags]
            cell["id"] = re.sub(r"[^A-Za-z0-9_-]", "_", f"{s.member}-{number}")[-64:]
            nb.cells.append(cell)
    ranked = sorted(sections, key=lambda s: -s.score)
    rows = [f"| candidate | model | status | {primary} | host score |", "|---|---|---|---|---|"]
    for s in ranked:
        value = s.metrics.get(primary)
        rows.append(f"| {'**' + s.member + '**' if s.member == winner else s.member} | "
                    f"{s.model} | {s.status} | {'-' if value is None else f'{value:.4f}'} | "
                    f"{s.score:.2f} |")
    best = next(s for s in sections if s.member == winner)
    runner_up = next((s for s in ranked if s.member != winner and s.status == "ok"), None)
    if best.status != "ok":
        why = ("No candidate wrote valid predictions; the iteration failed and "
               f"`{winner}`'s attempt is what the coders are told about next.")
    else:
        why = (f"`{winner}` won: its held-out {primary} of "
               f"{best.metrics.get(primary, float('nan')):.4f} is the best the host measured")
        why += (f" (next: `{runner_up.member}` with "
                f"{runner_up.metrics.get(primary, float('nan')):.4f})." if runner_up
                else "; no other candidate wrote valid predictions.")
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "### Why the winner won\n\n" + "\n".join(rows) + "\n\n" + why))
    nbformat.validate(nb)
    return nb


def run_notebook(result: WorkflowResult, profile: DataProfile, research_cells: list[str],
                 parameters: dict[str, Any], kernel_name: str) -> NotebookNode:
    """run.ipynb: the plan, the research cells, the research summary, the best code, the
    evaluation table and a score plot."""
    best = result.best
    assert best is not None and result.plan is not None
    cells: list[CellSpec] = [
        CellSpec(f"# DeepThinker run `{result.run_id}`\n\n**Objective:** {result.objective}"
                 f"\n\n### Data\n\n{profile.to_markdown()}\n\nThe held-out test labels "
                 "stay on the host: this notebook sees only the training rows and the test "
                 "features.", "markdown"),
        CellSpec(result.plan.to_markdown(), "markdown"),
    ]
    if research_cells:
        cells.append(CellSpec("## Research", "markdown"))
        cells += [CellSpec(c, tags=("research",)) for c in research_cells]
    if result.research is not None:
        cells.append(CellSpec(result.research.to_markdown(), "markdown"))
    cells.append(CellSpec(f"## Best code: iteration {best.index} ({best.model})\n\n"
                          f"{best.rationale}", "markdown"))
    cells += [CellSpec(c, tags=("model",)) for c in best.cells]
    cells.append(CellSpec(evaluation_markdown(result), "markdown"))
    cells.append(CellSpec(score_plot_cell(result), tags=("evaluation",)))
    return build_notebook(cells, parameters=parameters, kernel_name=kernel_name,
                          metadata={"deepthinker": {"run_id": result.run_id}})


def append_host_results(path: Path, result: WorkflowResult, run_metrics: dict[str, float],
                        metric_result: MetricResult | None) -> None:
    """Append what only the host knows (it needs the labels) to the executed run.ipynb: the
    simulation report and the reproduction check."""
    executed = read_notebook(path)
    if result.simulation is not None:
        executed.cells.append(nbformat.v4.new_markdown_cell(
            result.simulation.to_markdown()
            + "\n\nEach scenario's cells are in `simulation.ipynb`."))
    executed.cells.append(host_evaluation_cell(result, run_metrics, metric_result))
    executed.metadata.setdefault("deepthinker", {}).update({
        "run_id": result.run_id, "host_metrics": run_metrics,
        "loop_best_metrics": result.best_metrics, "reproduced": result.reproduced,
    })
    nbformat.validate(executed)
    write_notebook(executed, path)


def append_markdown(path: Path, text: str) -> None:
    """Append a host-written markdown cell to the executed notebook at ``path``."""
    executed = read_notebook(path)
    executed.cells.append(nbformat.v4.new_markdown_cell(text))
    nbformat.validate(executed)
    write_notebook(executed, path)


# -- host-written cells ----------------------------------------------------------------------------
def evaluation_markdown(result: WorkflowResult) -> str:
    rows = ["| iteration | model | status | score | metrics |", "|---|---|---|---|---|"]
    for r in result.iterations:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in r.metrics.items()) or (
            (r.error or "").splitlines()[0][:80] if r.error else "")
        mark = " **(best)**" if r.index == result.best_iteration else ""
        rows.append(f"| {r.index}{mark} | {r.model} | {r.status} | {r.score:.2f} | {metrics} |")
    return ("## Evaluation\n\nHeld-out metrics computed on the host from each iteration's "
            f"predictions (stop: {result.stop_reason}).\n\n" + "\n".join(rows))


def host_evaluation_cell(result: WorkflowResult, run_metrics: dict[str, float],
                         metric_result: MetricResult | None) -> NotebookNode:
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


def score_plot_cell(result: WorkflowResult) -> str:
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


# -- reading executed notebooks --------------------------------------------------------------------
def tagged_outputs(nb: NotebookNode, tag: str) -> list[str]:
    """The printed output (streams and ``text/plain`` results) of each code cell tagged
    ``tag``."""
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


def section_status(run: NotebookRun | None, tag: str) -> tuple[str, str | None]:
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


def scan_records(run: NotebookRun | None) -> list[dict[str, Any]]:
    """Per executed cell: index, status, the scanner's verdict and findings."""
    if run is None:
        return []
    return [{"cell": c.index, "status": c.status, "verdict": c.verdict,
             "findings": c.scan.get("findings", [])} for c in run.cells]


def failure_text(run: NotebookRun, timeout: float) -> str:
    """Why a notebook did not end ``ok``, as the coder is told it."""
    cell = run.failed_cell
    where = f"cell {run.failed_cell_index}" if run.failed_cell_index is not None else "a cell"
    if run.status == "timeout":
        return (f"{where} exceeded the time limit of {timeout:g}s and was stopped (do less "
                "work per cell: sample rows, fewer folds, a cheaper model)")
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
    return clip(f"{where} raised {error.ename}: {error.evalue}\n{tail}".strip())


__all__ = [
    "FEEDBACK_LIMIT", "PREDICTIONS_FILE", "CandidateSection", "ScenarioSection",
    "append_host_results", "append_markdown", "clip", "council_notebook",
    "evaluation_markdown", "failure_text", "host_evaluation_cell", "iteration_notebook",
    "kernel_parameters", "research_notebook", "run_notebook", "scan_records", "score_plot_cell",
    "section_status", "simulation_notebook", "tagged_outputs",
]
