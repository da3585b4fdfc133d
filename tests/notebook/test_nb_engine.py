"""The papermill engine ``deepthinker`` with real kernels and real papermill."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from deepthinker_nb.notebook import CellSpec, DeepThinkerEngine, build_notebook

VENV_BIN = Path(sys.executable).parent


def _content(nb):
    return [c for c in nb.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]


def test_engine_is_registered_with_papermill():
    from papermill.engines import papermill_engines

    assert papermill_engines.get_engine("deepthinker") is DeepThinkerEngine


def test_engine_imports_before_papermill_does():
    """papermill imports its registered engines while it is itself importing; the engine module
    imported first must still load (it once failed half-way there)."""
    code = ("from deepthinker_nb.notebook import DeepThinkerEngine\n"
            "from papermill.engines import papermill_engines\n"
            "assert papermill_engines.get_engine('deepthinker') is DeepThinkerEngine")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_engine_runs_deepthinker_kernel_without_installed_spec(tmp_path, text_of):
    nb = build_notebook(["x = N * 2\nprint('x is', x)", CellSpec("## note", kind="markdown"),
                         "x + 1", "import os\nprint(os.getcwd())"], parameters={"N": 1})
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        nb, str(out), parameters={"N": 20}, engine_name="deepthinker",
        kernel_name="deepthinker-local", progress_bar=False, cwd=str(tmp_path),
    )
    result = nbformat.read(out, as_version=4)
    nbformat.validate(result)
    cells = _content(result)
    assert "x is 40" in text_of(cells[2])
    assert text_of(cells[4]) == "41"
    assert text_of(cells[5]).strip() == str(tmp_path.resolve())  # papermill's cwd
    assert result.metadata.deepthinker["engine"] == "deepthinker"
    assert result.metadata.deepthinker["backend"] == "local"  # which kernel ran it
    assert result.metadata.deepthinker["kernel_name"] == "deepthinker-local"
    for cell in cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.deepthinker
        assert meta["status"] == "ok"
        assert meta["duration"] >= 0 and meta["start_time"] <= meta["end_time"]
        assert meta["scan"]["verdict"] == "pass"


def test_blocked_cell_never_reaches_the_kernel(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    blocked = ("open('made_by_blocked_cell.txt', 'w').write('x')\n"
               "import subprocess\nsubprocess.run(['true'])")
    nb = build_notebook(["open('before_block.txt', 'w').write('x')", blocked,
                         "open('after_block.txt', 'w').write('x')"],
                        kernel_name="deepthinker-local")
    out = tmp_path / "out.ipynb"
    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(nb, str(out), engine_name="deepthinker", progress_bar=False,
                                   cwd=str(work))
    assert info.value.ename == "SecurityError"
    assert (work / "before_block.txt").exists()  # the kernel runs in ``work``: a real control
    assert not (work / "made_by_blocked_cell.txt").exists()
    assert not (work / "after_block.txt").exists()  # execution stopped at the blocked cell
    result = nbformat.read(out, as_version=4)
    nbformat.validate(result)
    assert any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in result.cells)
    cells = _content(result)
    meta = cells[1].metadata.deepthinker
    assert meta["status"] == "blocked"
    assert meta["scan"]["verdict"] == "blocked"
    assert any(f["rule_id"] == "subprocess" for f in meta["scan"]["findings"])
    assert cells[1].outputs[0].ename == "SecurityError"
    assert cells[1].execution_count is None
    assert "deepthinker" not in cells[2].metadata or "status" not in cells[2].metadata.deepthinker


def test_scan_can_be_switched_off_by_engine_kwarg(tmp_path):
    nb = build_notebook(["import subprocess\nsubprocess.run(['true'])"],
                        kernel_name="deepthinker-local")
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(nb, str(out), engine_name="deepthinker", scan=False,
                               progress_bar=False, cwd=str(tmp_path))
    meta = nbformat.read(out, as_version=4).cells[0].metadata.deepthinker
    assert meta["status"] == "ok" and meta["scan"]["verdict"] == "off"


def test_pooled_kernel_manager_is_used_and_not_shut_down(tmp_path, pool):
    session = pool.acquire()
    try:
        km = session.kernel_manager
        nb = build_notebook(["shared_state = 'from papermill'"], kernel_name=session.kernel_name)
        out = tmp_path / "out.ipynb"
        papermill.execute_notebook(nb, str(out), engine_name="deepthinker", km=km,
                                   progress_bar=False)
        assert session.is_alive()
        assert session.kernel_manager is km
        # The same kernel: the session sees the notebook's variable.
        assert session.execute("print(shared_state)").stdout == "from papermill\n"
        assert nbformat.read(out, as_version=4).metadata.deepthinker["pooled_kernel"] is True
    finally:
        pool.release(session)


def test_engine_error_stops_and_is_marked(tmp_path):
    nb = build_notebook(["1/0", "print('never')"], kernel_name="deepthinker-local")
    out = tmp_path / "out.ipynb"
    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(nb, str(out), engine_name="deepthinker", progress_bar=False,
                                   cwd=str(tmp_path))
    assert info.value.ename == "ZeroDivisionError"
    cells = _content(nbformat.read(out, as_version=4))
    assert cells[0].metadata.deepthinker["status"] == "error"
    assert cells[0].metadata.papermill["exception"] is True
    assert cells[1].outputs == []


@pytest.fixture(scope="module")
def installed_kernels(tmp_path_factory):
    """The lead's ``deepthinker-nb kernels install --prefix`` into a temp prefix."""
    prefix = tmp_path_factory.mktemp("prefix")
    subprocess.run([str(VENV_BIN / "deepthinker-nb"), "kernels", "install", "--prefix",
                    str(prefix)], check=True, capture_output=True, text=True)
    assert (prefix / "share" / "jupyter" / "kernels" / "deepthinker-local" / "kernel.json").exists()
    return prefix


def _papermill_cli(args, prefix, cwd, extra_env=None):
    env = dict(os.environ, JUPYTER_PATH=str(prefix / "share" / "jupyter"))
    env.update(extra_env or {})
    return subprocess.run([str(VENV_BIN / "papermill"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def test_papermill_cli_with_engine_and_installed_kernelspec(tmp_path, installed_kernels, text_of):
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "quickstart.out.ipynb"
    proc = _papermill_cli(
        [str(root / "notebooks" / "examples" / "quickstart.ipynb"), str(out), "--engine",
         "deepthinker", "-k", "deepthinker-local", "-p", "N_SAMPLES", "120"],
        installed_kernels, tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = nbformat.read(out, as_version=4)
    nbformat.validate(result)
    assert result.metadata.papermill.parameters == {"N_SAMPLES": 120}
    code = [c for c in result.cells if c.cell_type == "code"]
    assert all(c.metadata.deepthinker["status"] == "ok" for c in code)
    assert all(c.metadata.deepthinker["scan"]["verdict"] == "pass" for c in code)
    assert "DEEPTHINKER_METRICS:" in text_of(code[-1])
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs)


def test_papermill_cli_blocked_cell_fails_with_marker(tmp_path, installed_kernels):
    nb = build_notebook(["import os\nos.system('touch pwned')"], kernel_name="deepthinker-local")
    src = tmp_path / "in.ipynb"
    nbformat.write(nb, src)
    proc = _papermill_cli([str(src), str(tmp_path / "out.ipynb"), "--engine", "deepthinker",
                           "-k", "deepthinker-local"], installed_kernels, tmp_path)
    assert proc.returncode != 0
    assert "SecurityError" in proc.stderr
    assert not (tmp_path / "pwned").exists()
    result = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert _content(result)[0].metadata.deepthinker["status"] == "blocked"


def _read_while_running(out, flag, delay):
    """Read the output notebook ``delay`` s after ``flag`` appears (the long cell started)."""
    import threading
    import time

    seen = {}

    def peek():
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(delay)
        seen["nb"] = nbformat.read(out, as_version=4)

    thread = threading.Thread(target=peek)
    thread.start()
    return thread, seen


@pytest.mark.parametrize("save_every", [0, 0.5])
def test_finished_cells_reach_disk_while_a_long_cell_runs(tmp_path, save_every, text_of):
    out = tmp_path / "out.ipynb"
    nb = build_notebook(["print('first done')",
                         "import time\nopen('started.flag', 'w').close()\ntime.sleep(3)"],
                        kernel_name="deepthinker-local")
    thread, seen = _read_while_running(out, tmp_path / "started.flag", save_every + 1.0)
    papermill.execute_notebook(nb, str(out), engine_name="deepthinker", progress_bar=False,
                               save_every=save_every, cwd=str(tmp_path))
    thread.join()
    during = seen["nb"]
    assert text_of(during.cells[0]) == "first done\n"
    assert during.cells[1].metadata.papermill["status"] == "running"
    final = nbformat.read(out, as_version=4)
    assert final.cells[1].metadata.deepthinker["status"] == "ok"
