"""Reading real runs: what list_runs and load_run say agrees with what the run recorded."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from deepthinker_nb.runs import list_runs, load_run

pytestmark = pytest.mark.slow


def test_list_runs_summarises_every_run_newest_first(real_runs) -> None:
    summaries = list_runs(real_runs.runs_dir)
    assert [s.id for s in summaries] == [real_runs.short.run_id, real_runs.full.run_id]
    for summary, result, max_iterations in ((summaries[0], real_runs.short, 1),
                                            (summaries[1], real_runs.full, 2)):
        assert summary.status == summary.label == "complete"
        assert summary.dataset == "churn.csv" and summary.target == "churned"
        assert summary.task == "classification" and summary.backend == "local"
        assert summary.best_iteration == result.best_iteration
        assert summary.best_score == pytest.approx(result.quality_score, abs=1e-4)
        assert summary.primary_metric == "balanced_accuracy"
        assert summary.primary_value == pytest.approx(
            result.best_metrics["balanced_accuracy"], abs=1e-6)
        assert (summary.iterations_done, summary.max_iterations) == (
            len(result.iterations), max_iterations)
        assert summary.duration is not None and summary.duration > 0
        recorded = json.loads((result.run_dir / "manifest.json").read_text())["started"]
        assert summary.to_dict()["started"] == recorded


def test_load_run_reads_iterations_config_and_paths(real_runs) -> None:
    result = real_runs.full
    run = load_run(result.run_id[:-2], real_runs.runs_dir)  # a unique prefix
    assert run.path == result.run_dir
    assert [(it.index, it.model, it.status) for it in run.iterations] == [
        (r.index, r.model, r.status) for r in result.iterations]
    assert run.scores() == pytest.approx([r.score for r in result.iterations], abs=1e-4)
    assert all(it.notebook is not None and it.notebook.is_file() for it in run.iterations)
    assert run.config["data_config"]["random_seed"] == 42
    assert run.config["iteration_config"]["max_iterations"] == 2
    assert run.config["councils"]["coder"]
    assert run.stop_reason == result.stop_reason
    assert run.simulation == result.simulation.summary
    assert {"manifest", "run notebook", "research notebook", "iteration 1", "iteration 2",
            "simulation notebook", "report"} <= set(run.paths)
    assert all(path.is_relative_to(result.run_dir) for path in run.paths.values())
    html = run._repr_html_()
    assert result.run_id in html and "<table>" in html


def test_a_short_run_without_report_lists_only_the_files_it_has(real_runs) -> None:
    run = load_run(real_runs.short.run_dir, real_runs.runs_dir)
    assert "report" not in run.paths and "simulation notebook" not in run.paths
    assert run.simulation is None


def test_a_copied_run_is_read_inside_the_copy(real_runs, tmp_path: Path) -> None:
    # Older manifests hold absolute paths into the original run dir: read in a copy, they
    # still name the copy's files once the original is gone.
    original = real_runs.short.run_dir
    copy = tmp_path / "moved" / original.name
    shutil.copytree(original, copy)
    text = (copy / "manifest.json").read_text()
    gone = str(tmp_path / "gone" / original.name)
    (copy / "manifest.json").write_text(text.replace(str(original), gone))
    run = load_run(copy, tmp_path)
    assert run.iterations[0].notebook == copy / "iterations" / "01.ipynb"
    assert all(path.is_relative_to(copy) for path in run.paths.values())


def test_reading_runs_loads_neither_pandas_nor_matplotlib(real_runs) -> None:
    import subprocess

    code = ("import sys; from deepthinker_nb.runs import list_runs, load_run, compare_runs;"
            f"runs = list_runs({str(real_runs.runs_dir)!r});"
            f"compare_runs([r.id for r in runs], {str(real_runs.runs_dir)!r});"
            "print(len(runs), 'pandas' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["2", "False", "False"]
