"""Run dirs a real run rarely leaves: killed, failed at the start, broken or odd manifests.
Each is listed with a status that says what it is, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from runs_helpers import iteration, manifest, write_run

from deepthinker_nb.runs import list_runs, load_run, load_summary


@pytest.fixture()
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def test_an_incomplete_run_with_finished_iterations_is_resumable(runs_dir: Path) -> None:
    run_dir = write_run(runs_dir, "killed", manifest(
        "killed", status="incomplete", updated="2026-11-20T10:02:30+00:00",
        iterations=[iteration(1, 6.5)]))
    summary = load_summary(run_dir)
    assert (summary.status, summary.label, summary.resumable) == (
        "incomplete", "resumable", True)
    assert summary.iterations_text == "1/3"
    assert summary.duration == 150.0  # from started to the last update
    assert summary.best_score is None  # no best chosen yet


def test_an_incomplete_run_without_iterations_is_just_incomplete(runs_dir: Path) -> None:
    summary = load_summary(write_run(runs_dir, "early", manifest("early", status="incomplete")))
    assert (summary.label, summary.resumable) == ("incomplete", False)


def test_a_run_that_failed_at_the_start_shows_its_error(runs_dir: Path) -> None:
    # What the runner writes when the data cannot even be split.
    run_dir = write_run(runs_dir, "failed", {
        "run_id": "failed", "status": "failed", "objective": "x",
        "error": "DataError: column 'y' not found", "steps": []})
    summary = load_summary(run_dir)
    assert summary.status == "failed" and summary.error == "DataError: column 'y' not found"
    assert (summary.dataset, summary.best_score, summary.iterations_text) == (None, None, "0/?")
    run = load_run(run_dir)
    assert run.iterations == [] and run.config == {}


def test_a_failed_iteration_keeps_its_error_and_no_score(runs_dir: Path) -> None:
    run_dir = write_run(runs_dir, "mixed", manifest(
        "mixed", best_iteration=2, quality_score=7.0, metrics={"r2": 0.7, "rmse": 2.8},
        iterations=[iteration(1, None, status="timeout", error="cell 3 ran out of time"),
                    iteration(2, 7.0)]))
    run = load_run(run_dir)
    assert [(it.status, it.score, it.error) for it in run.iterations] == [
        ("timeout", None, "cell 3 ran out of time"), ("ok", 7.0, None)]
    assert run.summary.primary_metric == "r2" and run.summary.primary_value == 0.7
    assert run.iterations[1].primary_value == pytest.approx(0.7)


@pytest.mark.parametrize("text, reason", [
    ("{not json", "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"status": "complete"', "not valid JSON"),  # truncated
    ("\udcff", "not valid"),
])
def test_a_broken_manifest_is_unreadable_and_says_why(runs_dir: Path, text: str,
                                                       reason: str) -> None:
    run_dir = runs_dir / "broken"
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    summary = load_summary(run_dir)
    assert summary.status == summary.label == "unreadable"
    assert reason in summary.error and "\n" not in summary.error
    assert load_run(run_dir).summary.status == "unreadable"


def test_fields_of_the_wrong_type_read_as_absent(runs_dir: Path) -> None:
    run_dir = write_run(runs_dir, "odd", manifest(
        "odd", started="yesterday", iterations=["one", {"index": "2", "score": "high",
                                                        "metrics": [1], "duration": True}],
        iteration_config=[3], dataset="sales", best_iteration=1.5, quality_score=float("nan"),
        data_config={"data_path": 5}, wall_time=-1))
    summary = load_summary(run_dir)
    assert summary.status == "complete"
    assert (summary.started, summary.dataset, summary.best_score, summary.max_iterations,
            summary.duration) == (None, None, None, None, None)
    run = load_run(run_dir)
    assert [(it.index, it.status, it.score) for it in run.iterations] == [
        (1, "unknown", None), (2, "unknown", None)]


def test_a_manifest_without_status_is_unreadable(runs_dir: Path) -> None:
    summary = load_summary(write_run(runs_dir, "nostatus", {"run_id": "nostatus"}))
    assert summary.status == "unreadable" and "no status" in summary.error


def test_a_symlinked_manifest_is_refused_not_followed(runs_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text('{"status": "complete"}')
    run_dir = runs_dir / "linked"
    run_dir.mkdir(parents=True)
    os.symlink(elsewhere, run_dir / "manifest.json")
    summary = load_summary(run_dir)
    assert summary.status == "unreadable" and "manifest.json" in summary.error


def test_notebook_paths_relative_to_the_run_dir_and_absolute_ones(runs_dir: Path,
                                                                   tmp_path: Path) -> None:
    elsewhere = tmp_path / "kept" / "02.ipynb"
    elsewhere.parent.mkdir()
    elsewhere.write_text("{}")
    run_dir = write_run(runs_dir, "paths", manifest("paths", iterations=[
        iteration(1, 5.0), iteration(2, 6.0, notebook=str(elsewhere)),
        iteration(3, 6.0, notebook=str(tmp_path / "gone" / "paths" / "iterations" / "03.ipynb")),
    ], research={"notebook": "research.ipynb"}, run_notebook={"path": "run.ipynb"}))
    for name in ("iterations/01.ipynb", "iterations/03.ipynb", "research.ipynb", "run.ipynb"):
        (run_dir / name).write_text("{}")
    run = load_run(run_dir)
    assert run.iterations[0].notebook == run_dir / "iterations" / "01.ipynb"
    assert run.iterations[1].notebook == elsewhere  # absolute and still there: kept
    assert run.iterations[2].notebook == run_dir / "iterations" / "03.ipynb"  # moved run
    assert run.paths["research notebook"] == run_dir / "research.ipynb"
    assert run.paths["run notebook"] == run_dir / "run.ipynb"
    assert "report" not in run.paths


def test_the_list_is_newest_first_and_keeps_unreadable_runs(runs_dir: Path) -> None:
    write_run(runs_dir, "a-old", manifest("a-old", started="2026-11-01T08:00:00+00:00"))
    write_run(runs_dir, "b-new", manifest("b-new", started="2026-11-25T08:00:00+00:00"))
    write_run(runs_dir, "c-mid", manifest("c-mid", started="2026-11-10T08:00:00"))
    write_run(runs_dir, "d-broken", "{")
    (runs_dir / "not-a-run").mkdir()
    (runs_dir / "stray.txt").write_text("x")
    ids = [s.id for s in list_runs(runs_dir)]
    # the broken one has no start time: it sorts by its manifest's mtime (now, so first)
    assert ids == ["d-broken", "b-new", "c-mid", "a-old"]
    assert list_runs(runs_dir.parent / "absent") == []


def test_html_views_escape_what_the_manifest_says(runs_dir: Path) -> None:
    write_run(runs_dir, "html", manifest(
        "html", dataset={"path": "/d/<b>.csv", "target": "<script>alert(1)</script>"}))
    runs = list_runs(runs_dir)
    for html in (runs._repr_html_(), runs[0]._repr_html_(), load_run("html", runs_dir)
                 ._repr_html_()):
        assert "<script>" not in html and "&lt;script&gt;" in html
    assert runs._repr_html_().count("<tr>") == 2  # header and the one run
