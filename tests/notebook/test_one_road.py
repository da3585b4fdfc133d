"""One road for a cell: a notebook cell run by the papermill engine and the same code sent to a
``KernelSession`` end the same way and are recorded alike, because the engine runs every cell
through ``AsyncKernelSession.execute``."""

from __future__ import annotations

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from deepthinker_nb.kernel import KernelSession
from deepthinker_nb.notebook import build_notebook, cell_result_to_outputs, execute_notebook
from deepthinker_nb.notebook.recorder import cell_result_metadata

IGNORES_INTERRUPT = (  # generated code that swallows every exception does this
    "import time\n"
    "open('started', 'w').close()\n"
    "while True:\n"
    "    try:\n"
    "        time.sleep(60)\n"
    "    except BaseException:\n"
    "        pass"
)

CASES = {
    "ok": ("print('hello')\n6 * 7", True),
    "error": ("print('before')\n1 / 0", True),
    "timeout": ("import time\nprint('waiting', flush=True)\ntime.sleep(30)", True),
    "blocked": ("import subprocess\nsubprocess.run(['true'])", True),
    # The scanner stops self-kills; with it off the sandbox kernel dies by its own hand.
    "died": ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", False),
}
TIMEOUT = 2.0


def _content(nb):
    """The notebook's own cells, without the error marker papermill puts before a failure."""
    return [c for c in nb.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]


def _comparable(outputs):
    """Outputs without what differs by nature between two runs (tracebacks' colours, counts)."""
    out = []
    for o in outputs:
        o = dict(o)
        o.pop("execution_count", None)
        if o["output_type"] == "error":
            o["traceback"] = []
        out.append(o)
    return out


@pytest.mark.parametrize("status", list(CASES))
def test_notebook_cell_and_session_cell_give_the_same_record(tmp_path, status):
    code, scan = CASES[status]
    with KernelSession("local", workdir=tmp_path / "s", scan=scan) as session:
        result = session.execute(code, timeout=TIMEOUT)
    run = execute_notebook(build_notebook([code]), tmp_path / "out.ipynb",
                           workdir=tmp_path / "n", scan=scan, timeout=TIMEOUT)

    assert result.status == status
    assert run.status == status
    [cell] = _content(run.notebook)
    recorded = cell.metadata.deepthinker
    expected = cell_result_metadata(result)
    for key in ("status", "scan", "timeout_action", "restarted", "truncated"):
        assert recorded.get(key) == expected.get(key), key
    assert ("death_reason" in recorded) == ("death_reason" in expected)
    assert _comparable(cell.outputs) == _comparable(cell_result_to_outputs(result))
    if status != "ok":
        assert run.error is not None and run.error.ename == result.error.ename


def test_engine_restarts_a_pooled_kernel_that_ignores_the_interrupt(tmp_path, pool):
    session = pool.acquire()
    try:
        session.execute("marker = 'old kernel'")
        pid = session.kernel_pid
        nb = build_notebook([IGNORES_INTERRUPT, "print('never')"])
        out = tmp_path / "out.ipynb"
        with pytest.raises(PapermillExecutionError) as info:
            papermill.execute_notebook(nb, str(out), engine_name="deepthinker", session=session,
                                       execution_timeout=2, progress_bar=False)
        assert info.value.ename == "CellTimeoutError"
        cell = _content(nbformat.read(out, as_version=4))[0]
        meta = cell.metadata.deepthinker
        assert meta["status"] == "timeout"
        assert meta["timeout_action"] == "restarted" and meta["restarted"] is True
        assert "did not respond to the interrupt" in cell.outputs[-1].evalue
        # The lent session has a fresh, working kernel: the old state is gone.
        assert session.kernel_pid != pid
        assert session.execute("print('marker' in dir())").stdout == "False\n"
    finally:
        pool.release(session)


def test_engine_started_kernel_that_ignores_the_interrupt_is_stopped(tmp_path):
    nb = build_notebook([IGNORES_INTERRUPT], kernel_name="deepthinker-local")
    out = tmp_path / "out.ipynb"
    with pytest.raises(PapermillExecutionError):
        papermill.execute_notebook(nb, str(out), engine_name="deepthinker", execution_timeout=2,
                                   progress_bar=False, cwd=str(tmp_path))
    assert (tmp_path / "started").exists()  # it really ran, in papermill's cwd
    meta = _content(nbformat.read(out, as_version=4))[0].metadata.deepthinker
    assert meta["status"] == "timeout" and meta["timeout_action"] == "restarted"


def test_a_pooled_session_gate_remembers_earlier_cells(tmp_path, pool):
    """The lent session's own gate checks the notebook: an alias made in one cell is known
    when a later cell uses it (a fresh gate per notebook would not know it)."""
    session = pool.acquire()
    try:
        session.execute("import os as o")
        run_alias = build_notebook(["run = o.system", "run('true')"])
        with pytest.raises(PapermillExecutionError) as info:
            papermill.execute_notebook(run_alias, str(tmp_path / "out.ipynb"),
                                       engine_name="deepthinker", session=session,
                                       progress_bar=False)
        assert info.value.ename == "SecurityError"
    finally:
        pool.release(session)


def test_notebook_records_the_kernels_language_info(tmp_path):
    run = execute_notebook(build_notebook(["1 + 1"]), tmp_path / "out.ipynb",
                           workdir=tmp_path)
    assert run.notebook.metadata.language_info["name"] == "python"


def test_a_kernel_manager_not_of_a_session_is_refused_with_the_fix(tmp_path):
    from jupyter_client import KernelManager

    with pytest.raises(Exception, match="session=") as info:
        papermill.execute_notebook(build_notebook(["1"]), str(tmp_path / "out.ipynb"),
                                   engine_name="deepthinker", km=KernelManager(),
                                   progress_bar=False)
    assert "\n" not in str(info.value)
