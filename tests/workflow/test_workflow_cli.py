"""``deepthinker-nb run`` / ``demo``: progress on stderr, summary on stdout, exit codes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from deepthinker_nb.cli import main
from deepthinker_nb.workflow.datasets import bundled_dataset


def test_run_prints_progress_and_summary(tmp_path, capsys):
    dataset = bundled_dataset("iris")
    code = main(["run", "--data", str(dataset.path), "--target", dataset.target,
                 "--max-iterations", "2", "--quality-threshold", "9.9", "--out",
                 str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "coding" in err and "iteration 1" in err and "score" in err
    assert "best: iteration" in out and "report:" in out
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["iterations"]) == 2
    assert (run_dir / "report.html").exists()


def test_demo_quiet(tmp_path, capsys):
    code = main(["demo", "--dataset", "wine", "--quiet", "--max-iterations", "1",
                 "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0 and err == "" and "run " in out


@pytest.mark.parametrize("argv, message", [
    (["run", "--data", "/no/such/file.csv"], "does not exist"),
    (["run", "--data", "{csv}", "--target", "nope"], "not in the data"),
    (["run", "--data", "{csv}", "--task", "regression", "--target", "label"], "not numeric"),
    (["run", "--data", "{csv}", "--max-iterations", "0"], "--max-iterations"),
    (["run", "--data", "{csv}", "--profile", "NOPE", "--backend", "docker"], "has no profile"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    csv = tmp_path / "d.csv"
    pd.DataFrame({"x": range(40), "label": ["a", "b"] * 20}).to_csv(csv, index=False)
    code = main([a.replace("{csv}", str(csv)) for a in argv] + ["--out", str(tmp_path / "r")])
    _out, err = capsys.readouterr()
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("deepthinker-nb: error:")]
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "r").exists()
