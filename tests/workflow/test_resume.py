"""A run killed mid-iteration resumes from its last finished iteration, keeping what finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepthinker_nb.cli import main

VENV_BIN = Path(sys.executable).parent


def _kill_during_iteration(out: Path, iteration: int) -> Path:
    """Start ``deepthinker-nb demo``, SIGKILL it while ``iteration`` runs, return the run dir."""
    log = out.parent / "run.log"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            [str(VENV_BIN / "deepthinker-nb"), "demo", "--out", str(out), "--max-iterations",
             "2", "--patience", "0", "--pool-size", "1"],
            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        try:
            deadline = time.monotonic() + 240
            while f"iteration {iteration}: running" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the host dies: no cleanup code runs
            proc.wait()
    (run_dir,) = out.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory) -> Path:
    return _kill_during_iteration(tmp_path_factory.mktemp("killed") / "runs", 2)


def test_a_killed_run_is_incomplete_with_its_finished_iteration(killed_run):
    manifest = json.loads((killed_run / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert [i["index"] for i in manifest["iterations"]] == [1]


def test_resume_completes_and_keeps_what_finished(killed_run, capsys):
    recorded = json.loads((killed_run / "manifest.json").read_text())
    before = recorded["iterations"][0]
    notebook = (killed_run / "iterations" / "01.ipynb").read_bytes()

    assert main(["resume", str(killed_run), "--quiet"]) == 0
    assert "complete" in capsys.readouterr().out

    manifest = json.loads((killed_run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert [i["index"] for i in manifest["iterations"]] == [1, 2]
    assert manifest["iterations"][0] == before, "a finished iteration is kept as it was"
    assert (killed_run / "iterations" / "01.ipynb").read_bytes() == notebook
    assert manifest["resumed"][0]["after_iteration"] == 1
    assert manifest["reproduced"] is True
    assert manifest["seeds"] == recorded["seeds"]
    assert manifest["dataset"]["sha256"] == recorded["dataset"]["sha256"]
    steps = [s["name"] for s in manifest["steps"]]
    assert steps.count("load and validate") == 2, "both sessions' steps are kept"


def test_resume_scores_match_an_uninterrupted_run(killed_run, tmp_path):
    """Same split, same seeds: the resumed iterations score what a run without the kill does."""
    resumed = json.loads((killed_run / "manifest.json").read_text())
    if resumed["status"] != "complete":
        pytest.skip("needs test_resume_completes_and_keeps_what_finished first")
    subprocess.run([str(VENV_BIN / "deepthinker-nb"), "demo", "--out", str(tmp_path), "--quiet",
                    "--max-iterations", "2", "--patience", "0", "--pool-size", "1"],
                   check=True, capture_output=True, timeout=300)
    (fresh,) = tmp_path.iterdir()
    whole = json.loads((fresh / "manifest.json").read_text())
    assert [i["metrics"] for i in resumed["iterations"]] == [
        i["metrics"] for i in whole["iterations"]]


def test_a_complete_run_does_not_resume(killed_run, capsys):
    manifest = json.loads((killed_run / "manifest.json").read_text())
    if manifest["status"] != "complete":
        pytest.skip("needs the resumed run")
    assert main(["resume", str(killed_run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "reproduce" in err[0]


def test_resume_of_an_unknown_run_is_one_line(tmp_path, capsys):
    assert main(["resume", "no-such-run", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--dir" in err[0]
