"""The CLI: exec runs files cell by cell with honest exit codes; kernels installs our specs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

CLI = [sys.executable, "-m", "deepthinker_nb.cli"]


def run_cli(*args: str, stdin: str | None = None, env: dict | None = None, cwd=None):
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "analysis.py"
    path.write_text("# %%\nprint('first')\n# %% [markdown]\n# Notes\n# %%\nx = 6 * 7\nx\n")
    return path


def test_exec_runs_every_cell_streams_output_and_exits_zero(script):
    done = run_cli("exec", str(script), "--no-scan")
    assert done.returncode == 0, done.stderr
    assert "first" in done.stdout and "42" in done.stdout


def test_exec_writes_the_executed_notebook(script, tmp_path):
    out = tmp_path / "out.ipynb"
    assert run_cli("exec", str(script), "--no-scan", "--output", str(out)).returncode == 0
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds == ["code", "markdown", "code"]
    assert nb.cells[2].outputs[0]["data"]["text/plain"] == "42"


def test_exec_stops_at_the_first_failing_cell_with_exit_one(tmp_path):
    path = tmp_path / "fails.py"
    path.write_text("# %%\n1/0\n# %%\nprint('never')\n")
    done = run_cli("exec", str(path), "--no-scan")
    assert done.returncode == 1
    assert "never" not in done.stdout
    assert "cell 1 failed" in done.stderr and "ZeroDivisionError" in done.stderr


def test_exec_reads_stdin_and_notebooks(tmp_path):
    assert run_cli("exec", "-", "--no-scan", stdin="print(2 + 3)\n").stdout.strip() == "5"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('from nb')")])
    path = tmp_path / "in.ipynb"
    nbformat.write(nb, path)
    done = run_cli("exec", str(path), "--no-scan")
    assert done.returncode == 0 and "from nb" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("exec", "/no/such/file.py"), "no such file"),
        (("exec", "__BAD__"), "cannot read notebook"),
        (("exec", "__TXT__"), "expected a .py or .ipynb"),
        (("exec", "-", "--backend", "nope"), "unknown kernel backend 'nope'; available: docker, local"),
        (("kernels", "install", "--name", "nope", "--prefix", "__TMP__"), "unknown kernelspec"),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_two(tmp_path, args, message):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{ not json")
    txt = tmp_path / "notes.txt"
    txt.write_text("hi")
    args = tuple(a.replace("__BAD__", str(bad)).replace("__TXT__", str(txt))
                 .replace("__TMP__", str(tmp_path)) for a in args)
    done = run_cli(*args, stdin="")
    assert done.returncode == 2
    assert message in done.stderr
    error_lines = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1


def test_kernels_install_makes_papermill_run_a_notebook(tmp_path):
    prefix = tmp_path / "prefix"
    done = run_cli("kernels", "install", "--prefix", str(prefix))
    assert done.returncode == 0, done.stderr
    env = {**os.environ, "JUPYTER_PATH": str(prefix / "share" / "jupyter")}
    listed = subprocess.run([sys.executable, "-m", "jupyter_client.kernelspecapp", "list",
                             "--json"], capture_output=True, text=True, env=env)
    names = json.loads(listed.stdout)["kernelspecs"]
    assert "deepthinker-local" in names and "deepthinker-docker" in names
    assert "deepthinker-local" in run_cli("kernels", "list", env=env).stdout

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("value = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(value * 10)"),
    ], metadata={"kernelspec": {"name": "deepthinker-local", "language": "python",
                                "display_name": "deepthinker local"},
                 "language_info": {"name": "python"}})
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    papermill = Path(sys.executable).parent / "papermill"
    done = subprocess.run([str(papermill), str(src), str(out), "-k", "deepthinker-local",
                           "-p", "value", "4"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    executed = nbformat.read(out, as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "40\n"
