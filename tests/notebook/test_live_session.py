"""Session: interactive cells are scanned, run and recorded at once; a notebook is continued."""

from __future__ import annotations

import io
import subprocess
import sys

import nbformat

from deepthinker_nb.cli.session import read_cells
from deepthinker_nb.notebook import Session


def test_each_cell_is_on_disk_before_run_returns(tmp_path):
    path = tmp_path / "work.ipynb"
    with Session(path) as session:
        session.run("value = 21")
        assert len(nbformat.read(path, as_version=4).cells) == 1
        result = session.run("value * 2")
        assert result.result.text == "42"
        session.markdown("a note")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert [c.cell_type for c in nb.cells] == ["code", "code", "markdown"]
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "42"


def test_blocked_cells_are_recorded_with_their_findings_and_never_run(tmp_path):
    path = tmp_path / "work.ipynb"
    marker = tmp_path / "created"
    with Session(path) as session:
        result = session.run(f"import subprocess\nsubprocess.run(['touch', '{marker}'])")
    assert result.status == "blocked" and not marker.exists()
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.outputs[0]["ename"] == "SecurityError"
    assert cell.metadata["deepthinker"]["scan"]


def test_continuing_a_notebook_replays_it_then_appends(tmp_path):
    path = tmp_path / "work.ipynb"
    with Session(path) as session:
        session.run("total = 10")
        session.run("undefined_name")  # failed when recorded
    with Session(path) as session:
        assert len(session.replayed) == 2
        assert session.run("total + 1").result.text == "11"
    assert len(nbformat.read(path, as_version=4).cells) == 3


def test_prompt_input_is_split_into_complete_cells():
    text = "a = 1\nfor i in range(2):\n    print(i)\n\nb = (1,\n 2)\n%matplotlib inline\n"
    assert list(read_cells(io.StringIO(text), prompt=False)) == [
        "a = 1", "for i in range(2):\n    print(i)", "b = (1,\n 2)", "%matplotlib inline",
    ]


def test_session_cli_records_piped_cells(tmp_path):
    path = tmp_path / "cli.ipynb"
    done = subprocess.run([sys.executable, "-m", "deepthinker_nb.cli", "session", str(path)],
                          input="x = 3\nx * 3\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "9" in done.stdout
    assert len(nbformat.read(path, as_version=4).cells) == 2
