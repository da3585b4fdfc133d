"""``run`` says which target and task it chose when the user did not, even with --quiet."""

from __future__ import annotations

import io
from pathlib import Path

from deepthinker_nb.cli import main
from deepthinker_nb.cli.run import ChoicesDisplay
from deepthinker_nb.workflow.result import ProgressEvent

DATA = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "iris.csv"


def test_run_without_target_announces_the_column_and_task_it_chose(tmp_path, capsys):
    code = main(["run", "--data", str(DATA), "--out", str(tmp_path), "--max-iterations", "1",
                 "--pool-size", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0
    assert err.splitlines() == [
        "data: target `species` (the last column; --target COL picks another), task "
        "classification (inferred: 3 distinct values; --task overrides)"]


def test_quiet_shows_only_what_is_announced_before_the_run_dir_exists(tmp_path):
    class Runner:
        run_dir = None

    stream = io.StringIO()
    runner = Runner()
    display = ChoicesDisplay(stream, runner)
    display(ProgressEvent("data", "target `y` (the last column)"))
    runner.run_dir = tmp_path
    for phase, message in [("kernel", "starting"), ("data", "120 training rows"),
                           ("coding", "iteration 1")]:
        display(ProgressEvent(phase, message))
    assert stream.getvalue() == "data: target `y` (the last column)\n"


def test_a_backend_that_cannot_start_is_refused_before_any_run_dir(tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    from deepthinker_nb.kernel.docker import engine

    monkeypatch.setattr(engine, "_client", None)  # no cached client: ask DOCKER_HOST
    out = tmp_path / "runs"
    code = main(["run", "--data", str(DATA), "--backend", "docker", "--out", str(out),
                 "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("deepthinker-nb: error: ") and "Docker" in err[-1]
    assert not out.exists()
