"""End-to-end runs in real kernels through real papermill: the run directory and its record."""

from __future__ import annotations

import json

import nbformat
import pytest

from deepthinker_nb.config import DataConfig
from deepthinker_nb.workflow import WorkflowRunner, run_deepthinker_workflow
from deepthinker_nb.workflow.data import DataError, load_and_split
from deepthinker_nb.workflow.datasets import bundled_dataset
from deepthinker_nb.workflow.metrics import MetricComputer

pytestmark = pytest.mark.slow


def _host_metrics(config: DataConfig, predictions) -> dict:
    split = load_and_split(config)
    return MetricComputer(split.task_type, split.test_labels, split.classes).compute(
        predictions).metrics


def _check_run_dir(result, config):
    run_dir = result.run_dir
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and result.status == "complete"
    assert manifest["best_iteration"] == result.best_iteration
    assert manifest["dataset"]["sha256"] == load_and_split(config).dataset_sha256
    assert manifest["kernel"]["backend"] == "local"
    assert manifest["packages"]["scikit-learn"]
    assert {"data", "planning", "research", "coding", "recording"} <= set(manifest["timings"])
    assert len(manifest["iterations"]) == len(result.iterations)
    for record in result.iterations:
        assert record.notebook_path.name == f"{record.index:02d}.ipynb"
        nbformat.validate(nbformat.read(record.notebook_path, as_version=4))
        assert all(s["verdict"] == "pass" for s in record.scan)
    # The data dir holds only what the kernel may see.
    assert sorted(p.name for p in (run_dir / "data").iterdir()
                  if p.is_file()) == ["test_features.csv", "train.csv"]
    # run.ipynb re-executed end to end reproduces the loop's best metrics.
    run_nb = nbformat.read(run_dir / "run.ipynb", as_version=4)
    nbformat.validate(run_nb)
    assert result.reproduced is True and manifest["reproduced"] is True
    assert run_nb.metadata["deepthinker"]["host_metrics"] == result.best_metrics
    assert manifest["run_notebook"]["metrics"] == result.best_metrics
    assert _host_metrics(config, run_dir / "work" / "run" / "predictions.csv") == \
        result.best_metrics
    # The best iteration is the one with the highest score.
    assert result.quality_score == max(r.score for r in result.iterations)
    assert result.best.score == result.quality_score
    return manifest


def test_classification_end_to_end(tmp_path, monkeypatch):
    from deepthinker_nb.kernel.pool import AsyncKernelPool

    kernel_starts = []
    start_one = AsyncKernelPool._start_one

    async def counted_start(pool):
        kernel_starts.append(pool)
        await start_one(pool)

    monkeypatch.setattr(AsyncKernelPool, "_start_one", counted_start)
    dataset = bundled_dataset("churn")
    config = DataConfig(dataset.path, target_column=dataset.target, execution_timeout=60)
    events = []
    from deepthinker_nb.config import IterationConfig

    result = WorkflowRunner(config, IterationConfig(max_iterations=2), runs_dir=tmp_path,
                            pool_size=2, progress=events.append).run(dataset.objective)
    print("\n" + result.summary())
    manifest = _check_run_dir(result, config)
    assert [r.model for r in result.iterations] == ["logistic_regression", "random_forest"]
    assert {e.phase for e in events} >= {"planning", "research", "coding", "simulation",
                                         "recording", "report", "done"}
    research = nbformat.read(result.run_dir / "research.ipynb", as_version=4)
    assert any(o.get("data", {}).get("image/png") for c in research.cells
               for o in c.get("outputs", [])), "the research plot is in the notebook"
    assert result.research.status == "ok"
    sim = manifest["simulation"]
    assert {r["scenario"]["kind"] for r in sim["results"]} == {
        "label_noise", "missing_values", "subgroup", "shift"}
    assert all(r["status"] == "ok" and r["delta"] is not None for r in sim["results"])
    html = (result.run_dir / "report.html").read_text()
    assert "Reproduction check" in html and "data:image/png;base64" in html
    assert "<table>" in result._repr_html_()
    for label in ("proba_no", "proba_yes"):
        assert label in (result.run_dir / "work" / "01" / "predictions.csv").read_text()
    # research, each iteration, simulation, run.ipynb: one kernel each, none warmed for nobody
    assert len(kernel_starts) == 1 + len(result.iterations) + 1 + 1


def test_regression_end_to_end(tmp_path):
    dataset = bundled_dataset("diabetes")
    result = run_deepthinker_workflow(
        dataset.path, dataset.objective, task_type="regression", target_column=dataset.target,
        max_iterations=2, runs_dir=tmp_path, pool_size=2, report=False,
    )
    print("\n" + result.summary())
    config = DataConfig(dataset.path, task_type="regression", target_column=dataset.target)
    _check_run_dir(result, config)
    assert set(result.best_metrics) == {"rmse", "mae", "r2"}
    assert result.simulation is not None and len(result.simulation.results) == 4


def test_bad_data_fails_before_any_kernel_or_run_dir(tmp_path, write_csv):
    import pandas as pd

    path = write_csv(pd.DataFrame({"x": range(30), "y": ["a"] * 30}))
    runner = WorkflowRunner(DataConfig(path), runs_dir=tmp_path / "runs")
    with pytest.raises(DataError, match="at least 2"):
        runner.run("anything")
    assert not (tmp_path / "runs").exists()


def test_one_runner_runs_twice_into_two_complete_run_dirs(iris_config, make_runner):
    """A run's state belongs to the run: the same runner runs again into a new, complete run
    directory, and nothing of the first run leaks into the second."""
    runner = make_runner(iris_config, max_iterations=1, simulate=True)
    first = runner.run("iris, first run")
    assert runner.run_dir == first.run_dir
    second = runner.run("iris, second run")
    assert runner.run_dir == second.run_dir
    assert first.run_id != second.run_id and first.run_dir != second.run_dir
    for result, objective in ((first, "iris, first run"), (second, "iris, second run")):
        manifest = _check_run_dir(result, iris_config)
        assert manifest["run_id"] == result.run_id == result.run_dir.name
        assert manifest["objective"] == result.objective == objective
        assert len(result.iterations) == len(manifest["iterations"]) == 1
        assert [s["name"] for s in manifest["steps"]].count("plan") == 1
        assert manifest["simulation"]["results"] and result.simulation is not None
        assert sorted(p.name for p in (result.run_dir / "iterations").iterdir()) == ["01.ipynb"]
        assert result.iterations[0].notebook_path.parent.parent == result.run_dir
        run_nb = nbformat.read(result.run_dir / "run.ipynb", as_version=4)
        assert run_nb.metadata["deepthinker"]["run_id"] == result.run_id
        # parameters, relative to the notebook's folder (the run dir may move)
        assert "DATA_PATH = 'data/train.csv'" in run_nb.cells[0].source
        assert any(objective in c.source for c in run_nb.cells if c.cell_type == "markdown")
        assert (result.run_dir / "simulation.ipynb").exists()
