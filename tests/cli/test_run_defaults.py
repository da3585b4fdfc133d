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


def test_quiet_shows_only_what_comes_before_the_run_starts():
    stream = io.StringIO()
    display = ChoicesDisplay(stream)
    for phase, message in [("data", "target `y` (the last column)"), ("kernel", "starting"),
                           ("data", "120 training rows"), ("coding", "iteration 1")]:
        display(ProgressEvent(phase, message))
    assert stream.getvalue() == "data: target `y` (the last column)\n"
