"""``deepthinker-nb runs``, ``runs show`` and ``runs compare`` as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runs_helpers import manifest, write_run

from deepthinker_nb.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_the_table_lists_runs_newest_first(real_runs, capsys) -> None:
    code, out, _ = _run(capsys, "runs", "--dir", str(real_runs.runs_dir))
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["ID", "STARTED", "DATASET"]
    assert [row.split()[0] for row in rows] == [real_runs.short.run_id, real_runs.full.run_id]
    full = rows[1]
    for text in ("churn.csv", "churned", "classification", "local", "complete",
                 f"{real_runs.full.quality_score:.2f}", "balanced_accuracy=", "2/2"):
        assert text in full


@pytest.mark.slow
def test_json_lists_the_same_runs(real_runs, capsys) -> None:
    code, out, _ = _run(capsys, "runs", "--dir", str(real_runs.runs_dir), "--json")
    runs = json.loads(out)
    assert code == 0 and [r["id"] for r in runs] == [real_runs.short.run_id,
                                                     real_runs.full.run_id]
    assert runs[1]["best_iteration"] == real_runs.full.best_iteration


@pytest.mark.slow
def test_show_prints_one_run_in_full(real_runs, capsys) -> None:
    result = real_runs.full
    # --dir before the subcommand works as well as after it
    code, out, _ = _run(capsys, "runs", "--dir", str(real_runs.runs_dir), "show",
                        result.run_id[:-1])
    assert code == 0
    assert out.splitlines()[0] == f"run {result.run_id}"
    for text in ("config", "data_config.random_seed: 42", "iteration_config.max_iterations: 2",
                 "councils.coder:", "kernel.backend: local", "iterations",
                 f"best: iteration {result.best_iteration}", f"stopped: {result.stop_reason}",
                 f"simulation: {result.simulation.summary}", "paths",
                 f"report: {result.run_dir / 'report.html'}"):
        assert text in out
    for record in result.iterations:
        assert record.model in out and f"{record.score:.2f}" in out
    code, again, _ = _run(capsys, "runs", "show", result.run_id, "--dir",
                          str(real_runs.runs_dir))
    assert code == 0 and again == out


@pytest.mark.slow
def test_compare_prints_differences_and_draws_a_png(real_runs, capsys, tmp_path: Path) -> None:
    plot = tmp_path / "scores.png"
    code, out, _ = _run(capsys, "runs", "compare", real_runs.full.run_id,
                        str(real_runs.short.run_dir), "--dir", str(real_runs.runs_dir),
                        "--plot", str(plot))
    assert code == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = out.splitlines()
    seed = next(line for line in lines if line.startswith("data_config.random_seed"))
    assert seed.split() == ["data_config.random_seed", "42", "7"]
    assert not any(line.startswith("data_config.target_column") for line in lines)
    assert any(line.startswith("balanced_accuracy") for line in lines)
    assert any(line.startswith("score it.2") for line in lines)
    chart = lines.index(next(line for line in lines if line.startswith("score by iteration")))
    assert real_runs.full.run_id in lines[chart + 1] and real_runs.short.run_id in lines[chart + 2]
    assert lines[-1] == f"plot: {plot}"


def test_an_unknown_run_is_exit_2_and_one_line(tmp_path: Path, capsys) -> None:
    for argv in (("runs", "show", "nope"), ("runs", "compare", "nope", "other")):
        code, out, err = _run(capsys, *argv, "--dir", str(tmp_path))
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1
        assert "'nope'" in err and "--dir" in err and "deepthinker-nb runs" in err


def test_bad_compare_input_is_exit_2(tmp_path: Path, capsys) -> None:
    write_run(tmp_path, "r1", manifest("r1"))
    write_run(tmp_path, "r2", manifest("r2"))
    code, _, err = _run(capsys, "runs", "compare", "r1", "--dir", str(tmp_path))
    assert code == 2 and "at least two" in err
    code, _, err = _run(capsys, "runs", "compare", "r1", "r2", "--dir", str(tmp_path),
                        "--plot", str(tmp_path / "chart.pdf"))
    assert code == 2 and "--plot" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "chart.pdf").exists()


def test_broken_and_resumable_runs_in_the_table(tmp_path: Path, capsys) -> None:
    write_run(tmp_path, "20261101-broken", "{oops")
    write_run(tmp_path, "20261102-killed", manifest(
        "20261102-killed", status="incomplete",
        iterations=[{"index": 1, "status": "ok", "score": 4.0}]))
    code, out, _ = _run(capsys, "runs", "--dir", str(tmp_path))
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "resumable" in rows["20261102-killed"] and "1/3" in rows["20261102-killed"]
    assert "unreadable" in rows["20261101-broken"]
    assert any(line.startswith("20261101-broken: manifest.json is not valid JSON")
               for line in out.splitlines())
    code, out, _ = _run(capsys, "runs", "show", "20261101", "--dir", str(tmp_path))
    assert code == 0 and "status: unreadable" in out and "not valid JSON" in out


def test_an_empty_runs_dir_says_how_to_make_a_run(tmp_path: Path, capsys) -> None:
    code, out, _ = _run(capsys, "runs", "--dir", str(tmp_path / "none"))
    assert code == 0 and "no runs in" in out and "deepthinker-nb run" in out
    code, out, _ = _run(capsys, "runs", "--dir", str(tmp_path / "none"), "--json")
    assert json.loads(out) == []


def test_manifest_text_cannot_drive_the_terminal(tmp_path: Path, capsys) -> None:
    write_run(tmp_path, "esc", manifest(
        "esc", dataset={"path": "/d/x.csv", "target": "\x1b[2J\x1b[31mred\rover"},
        stop_reason="done\x07"))
    for argv in (("runs",), ("runs", "show", "esc")):
        code, out, _ = _run(capsys, *argv, "--dir", str(tmp_path))
        assert code == 0 and "?[31mred?over" in out
        assert not any(ch in out for ch in "\x1b\r\x07")


def test_show_says_how_to_continue_a_resumable_run(tmp_path: Path, capsys) -> None:
    write_run(tmp_path, "killed", manifest(
        "killed", status="incomplete", resumed=[{"at": "2026-11-20T11:00:00+00:00",
                                                 "after_iteration": 1}],
        iterations=[{"index": 1, "status": "ok", "score": 4.0}]))
    code, out, _ = _run(capsys, "runs", "show", "killed", "--dir", str(tmp_path))
    assert code == 0 and "status: resumable" in out and "resumed: 1 time(s)" in out
    assert f"deepthinker-nb resume killed --dir {tmp_path.resolve()}" in out
