"""The papermill engine on a Docker kernel: the backend is a parameter, nothing else changes."""

from __future__ import annotations

import nbformat
import pytest

from deepthinker_nb.notebook import build_notebook, execute_notebook

pytestmark = [pytest.mark.docker, pytest.mark.slow]




def test_execute_notebook_on_docker_kernel(tmp_path, docker_engine):
    nb = build_notebook(["import platform\nprint(platform.system())", "2 + N"],
                        parameters={"N": 1}, kernel_name="deepthinker-docker")
    run = execute_notebook(nb, tmp_path / "out.ipynb", parameters={"N": 40}, backend="docker",
                           timeout=60)
    assert run.status == "ok", run.summary()
    assert run.kernel_name == "deepthinker-docker"
    assert run.cell_text(3) == "42\n"
    nbformat.validate(nbformat.read(run.path, as_version=4))


def test_blocked_cell_on_docker_kernel(tmp_path, docker_engine):
    run = execute_notebook(build_notebook(["import subprocess\nsubprocess.run(['id'])"],
                                          kernel_name="deepthinker-docker"),
                           tmp_path / "out.ipynb", backend="docker", timeout=60)
    assert run.status == "blocked" and run.error.ename == "SecurityError"


def test_papermill_cli_with_docker_kernel(tmp_path, docker_engine):
    import subprocess
    import sys
    from pathlib import Path

    src = tmp_path / "in.ipynb"
    nbformat.write(build_notebook(["import os\nprint(os.getcwd())", "6 * 7"],
                                  kernel_name="deepthinker-docker"), src)
    papermill_bin = Path(sys.executable).parent / "papermill"
    proc = subprocess.run([str(papermill_bin), str(src), str(tmp_path / "out.ipynb"),
                           "--engine", "deepthinker", "-k", "deepthinker-docker"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    cells = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
    assert [c.metadata.deepthinker["status"] for c in cells] == ["ok", "ok"]
    assert cells[1].outputs[0].data["text/plain"] == "42"
