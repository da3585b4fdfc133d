"""execute_notebook: papermill + engine in managed kernels, every way a run can end."""

from __future__ import annotations

import nbformat

from deepthinker_nb import KernelPool
from deepthinker_nb.notebook import build_notebook, execute_notebook


def test_ok_run_with_parameters_in_session_workdir(tmp_path, text_of):
    work = tmp_path / "work"
    nb = build_notebook(["import os\nprint(os.getcwd())", "open('out.txt', 'w').write(str(N))",
                         "N * 2"], parameters={"N": 1})
    run = execute_notebook(nb, tmp_path / "out.ipynb", parameters={"N": 21}, workdir=work)
    assert run.status == "ok", run.summary()
    assert run.success and run.failed_cell_index is None and run.error is None
    nbformat.validate(nbformat.read(run.path, as_version=4))
    assert (work / "out.txt").read_text() == "21"
    assert text_of(run.notebook.cells[2]).strip() == str(work.resolve())
    assert run.cell_text(4) == "42\n"
    # parameters, injected-parameters and 3 cells, each with a timing and a verdict
    assert [c.index for c in run.cells] == [0, 1, 2, 3, 4]
    assert run.cells[1].tags == ("injected-parameters",)
    assert all(c.status == "ok" and c.duration is not None and c.verdict == "pass"
               for c in run.cells)
    assert "ok" in run._repr_html_()


def test_error_run_reports_failed_cell(tmp_path):
    run = execute_notebook(build_notebook(["a = 1", "raise ValueError('boom')", "b = 2"]),
                           tmp_path / "o.ipynb")
    assert run.status == "error"
    assert run.failed_cell_index == 1
    assert run.error.ename == "ValueError" and run.error.evalue == "boom"
    assert any("ValueError" in line for line in run.error.traceback)
    assert run.failed_cell.source == "raise ValueError('boom')"
    assert [c.status for c in run.cells] == ["ok", "error"]
    nbformat.validate(nbformat.read(run.path, as_version=4))


def test_blocked_run(tmp_path):
    work = tmp_path / "work"
    code = "open('x.txt', 'w').write('1')\nimport subprocess\nsubprocess.run(['true'])"
    run = execute_notebook(build_notebook(["a = 1", code]), tmp_path / "o.ipynb", workdir=work)
    assert run.status == "blocked"
    assert run.failed_cell_index == 1
    assert run.error.ename == "SecurityError"
    assert run.cells[1].verdict == "blocked"
    assert not (work / "x.txt").exists()


def test_timeout_run(tmp_path):
    run = execute_notebook(build_notebook(["import time\ntime.sleep(30)"]),
                           tmp_path / "o.ipynb", timeout=1.5)
    assert run.status == "timeout", run.summary()
    assert run.error.ename == "CellTimeoutError"
    assert run.duration < 20
    nbformat.validate(nbformat.read(run.path, as_version=4))


def test_died_run(tmp_path):
    run = execute_notebook(build_notebook(["import os\nos.kill(os.getpid(), 9)", "x = 1"]),
                           tmp_path / "o.ipynb", timeout=30, scan=False)
    assert run.status == "died", run.summary()
    assert run.failed_cell_index == 0
    assert run.error.ename == "DeadKernelError"
    assert "signal 9" in run.error.evalue or "SIGKILL" in run.error.evalue, run.error.evalue
    nbformat.validate(nbformat.read(run.path, as_version=4))


def test_pooled_runs_get_fresh_kernels(tmp_path, pool):
    first = execute_notebook(build_notebook(["leak = 1"]), tmp_path / "a.ipynb", pool=pool)
    second = execute_notebook(build_notebook(["print('leak' in globals())"]),
                              tmp_path / "b.ipynb", pool=pool)
    assert first.status == second.status == "ok"
    assert second.cell_text(0) == "False\n"


def test_notebook_from_path_and_file_input_untouched(tmp_path):
    src = tmp_path / "in.ipynb"
    nbformat.write(build_notebook(["print('hi')"]), src)
    before = src.read_text()
    run = execute_notebook(src, tmp_path / "sub" / "out.ipynb")
    assert run.status == "ok" and run.cell_text(0) == "hi\n"
    assert src.read_text() == before


def test_kernel_that_cannot_start_still_leaves_the_notebook(tmp_path):
    import pytest

    from deepthinker_nb.errors import DeepThinkerError

    with pytest.raises(DeepThinkerError):
        execute_notebook(build_notebook(["1"]), tmp_path / "o.ipynb", backend="no-such-backend")
    nb = nbformat.read(tmp_path / "o.ipynb", as_version=4)
    nbformat.validate(nb)
    assert "no-such-backend" in nb.metadata.deepthinker["error"]


def test_pool_keeps_serving_after_failed_runs(tmp_path):
    # A pooled kernel keeps the in-kernel scanner its pool started it with: scan=False here.
    with KernelPool(size=1, backend="local", scan=False) as pool:
        timeout = execute_notebook(build_notebook(["import time\ntime.sleep(30)"]),
                                   tmp_path / "t.ipynb", pool=pool, timeout=1)
        died = execute_notebook(build_notebook(["import os\nos.kill(os.getpid(), 9)"]),
                                tmp_path / "d.ipynb", pool=pool, scan=False)
        after = execute_notebook(build_notebook(["print('still serving')"]),
                                 tmp_path / "a.ipynb", pool=pool)
    assert (timeout.status, died.status, after.status) == ("timeout", "died", "ok")
    assert after.cell_text(0) == "still serving\n"
