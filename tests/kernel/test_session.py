"""KernelSession: a cell runs, and its result says exactly what happened."""

from __future__ import annotations

import time

from deepthinker_nb import CellResult, KernelSession


def test_ok_cell_returns_value_streams_and_execution_count(session):
    result = session.execute("x = 41\nprint('hello')\nimport sys; print('warn', file=sys.stderr)\nx + 1")
    assert result.status == "ok" and result.success
    assert result.stdout == "hello\n"
    assert result.stderr == "warn\n"
    assert result.result is not None and result.result.text == "42"
    assert result.execution_count == 1
    assert result.duration > 0
    assert not result.truncated


def test_state_is_kept_between_cells(session):
    session.execute("data = [1, 2, 3]")
    assert session.execute("sum(data)").result.text == "6"


def test_rich_outputs_keep_their_mime_bundles(session):
    code = (
        "from IPython.display import HTML, JSON, display\n"
        "display(HTML('<b>bold</b>'))\n"
        "display(JSON({'a': 1}))\n"
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3]); plt.show()\n"
    )
    result = session.execute(code, timeout=60)
    assert result.status == "ok", result.summary()
    mimes = [set(o.data) for o in result.outputs]
    assert any("text/html" in m for m in mimes)
    assert any("application/json" in m for m in mimes)
    assert any("image/png" in m for m in mimes)
    assert all(o.output_type == "display_data" for o in result.outputs)


def test_error_carries_name_value_and_plain_traceback(session):
    result = session.execute("def f():\n    raise ValueError('bad value')\nf()")
    assert result.status == "error" and not result.success
    assert result.error.ename == "ValueError"
    assert result.error.evalue == "bad value"
    assert result.error.traceback, "traceback expected"
    assert not any("\x1b[" in line for line in result.error.traceback), "ANSI codes must be gone"
    assert "raise ValueError" in result.error.traceback_text


def test_streaming_callbacks_fire_while_the_cell_runs(session):
    seen: list[tuple[float, str]] = []
    start = time.monotonic()
    result = session.execute(
        "import time, sys\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')\n"
        "print('oops', file=sys.stderr)\nfrom IPython.display import display; display(7)",
        on_stdout=lambda text: seen.append((time.monotonic() - start, "out:" + text)),
        on_stderr=lambda text: seen.append((time.monotonic() - start, "err:" + text)),
        on_output=lambda output: seen.append((time.monotonic() - start, "rich:" + output.text)),
    )
    assert result.status == "ok"
    first_time = next(t for t, text in seen if "first" in text)
    assert first_time < result.duration - 1.0, "first chunk must arrive before the cell ends"
    kinds = {text.split(":")[0] for _, text in seen}
    assert kinds == {"out", "err", "rich"}


def test_async_callbacks_are_awaited(session):
    got = []

    async def collect(text):
        got.append(text)

    session.execute("print('async ok')", on_stdout=collect)
    assert "".join(got) == "async ok\n"


def test_cell_result_displays_in_a_notebook(session):
    result = session.execute("print('<shown>')\n1/0")
    html = result._repr_html_()
    assert "error" in html and "&lt;shown&gt;" in html and "ZeroDivisionError" in html
    markdown = result._repr_markdown_()
    assert markdown.startswith("**error**") and "ZeroDivisionError" in markdown


def test_result_serialises_to_plain_data(session):
    data = session.execute("print(1)").to_dict()
    assert data["status"] == "ok" and data["stdout"] == "1\n"
    assert isinstance(CellResult(**{k: v for k, v in data.items() if k not in (
        "outputs", "error", "scan_report")}), CellResult)


def test_restart_gives_fresh_state_in_same_workdir(session):
    session.execute("v = 1\nopen('kept.txt', 'w').write('x')")
    workdir = session.workdir
    session.restart()
    assert session.execute("v").status == "error"
    assert session.workdir == workdir
    assert (workdir / "kept.txt").exists()


def test_owned_workdir_is_removed_on_shutdown():
    s = KernelSession(scan=False).start()
    workdir = s.workdir
    assert workdir.is_dir()
    s.shutdown()
    assert not workdir.exists()


def test_given_workdir_is_kernel_cwd_and_is_kept(tmp_workdir):
    with KernelSession(scan=False, workdir=tmp_workdir) as s:
        assert s.execute("import os; os.getcwd()").result.text.strip("'") == str(tmp_workdir)
        s.execute("open('out.txt', 'w').write('done')")
    assert (tmp_workdir / "out.txt").read_text() == "done"


def test_non_string_code_is_a_type_error(session):
    import pytest

    with pytest.raises(TypeError):
        session.execute(123)  # type: ignore[arg-type]


def test_a_second_client_of_the_same_kernel_does_not_steal_replies(session):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("shared = 'from other client'")])
    NotebookClient(nb, km=session.kernel_manager, timeout=30).execute()
    result = session.execute("shared", timeout=10)
    assert result.status == "ok" and result.result.text == "'from other client'"


def test_the_gate_remembers_aliases_across_cells(tmp_path):
    marker = tmp_path / "ran"
    with KernelSession("local", workdir=tmp_path) as s:
        assert s.execute("import os\nrun = os.system").status == "blocked"
        assert s.execute("import os as o").success
        assert s.execute(f"o.system('touch {marker}')").status == "blocked"
        assert not marker.exists()


def test_files_in_the_working_dir_may_be_used_by_absolute_path(tmp_path):
    with KernelSession("local", workdir=tmp_path) as s:
        result = s.execute(f"open({str(tmp_path / 'out.txt')!r}, 'w').write('ok')")
        assert result.success, result.summary()
        assert s.execute("open('/etc/hostname').read()").status == "blocked"


def test_a_display_updated_by_id_shows_its_last_state(tmp_path):
    """``display(..., display_id=True).update(...)`` redraws in place, as in JupyterLab."""
    code = ("from IPython.display import display\n"
            "handle = display('step 1', display_id=True)\n"
            "for step in (2, 3):\n"
            "    handle.update(f'step {step}')\n"
            "display('after')")
    with KernelSession("local", workdir=tmp_path) as session:
        result = session.execute(code)
    assert result.status == "ok"
    assert [o.text for o in result.outputs] == ["'step 3'", "'after'"]
