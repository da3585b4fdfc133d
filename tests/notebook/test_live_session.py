"""Session: interactive cells are scanned, run and recorded at once; a notebook is continued."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading

import nbformat
import pytest
from nbformat import v4

from deepthinker_nb.cli.session import read_cells
from deepthinker_nb.kernel.results import CellResult, ErrorInfo, RichOutput
from deepthinker_nb.notebook import Session
from deepthinker_nb.notebook.live import SessionInputError, compare_replay, save_images
from deepthinker_nb.notebook.outputs import normalize_output
from deepthinker_nb.untrusted import UntrustedFileError


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
                          input="x = 3\nx * 3\n", capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "9" in done.stdout
    assert len(nbformat.read(path, as_version=4).cells) == 2


def test_interrupt_soon_ends_the_running_cell_and_keeps_the_kernel_state(tmp_path):
    with Session(tmp_path / "nb.ipynb", workdir=tmp_path) as session:
        session.run("kept = 'state'")
        started = threading.Event()
        timer = threading.Thread(target=lambda: started.wait(30) and session.interrupt_soon())
        timer.start()
        result = session.run("import time\nprint('begun', flush=True)\ntime.sleep(60)",
                             on_stdout=lambda text: started.set())
        timer.join()
        assert result.error.ename == "KeyboardInterrupt" and result.stdout == "begun\n"
        assert session.run("kept").result.text == "'state'"
    assert not (tmp_path / ".home").exists()

    with Session(tmp_path / "nb.ipynb", workdir=tmp_path) as session:  # not a 60 s replay
        assert len(session.replayed) == 2
        assert [str(d) for d in session.replay_differences] == [
            "cell 2: not replayed: interrupted (Ctrl-C) when recorded"]


def test_a_home_dir_that_was_there_before_the_session_is_left_alone(tmp_path):
    (tmp_path / ".home").mkdir()
    (tmp_path / ".home" / "mine").write_text("keep")
    with Session(tmp_path / "nb.ipynb", workdir=tmp_path) as session:
        session.run("1")
    assert (tmp_path / ".home" / "mine").read_text() == "keep"


def test_an_invalid_notebook_is_refused_before_any_kernel_starts(tmp_path):
    path = tmp_path / "bad.ipynb"
    path.write_text("{")
    session = Session(path, workdir=tmp_path)
    with pytest.raises(SessionInputError, match=r"bad\.ipynb: cannot be continued"):
        session.start()
    assert not session.kernel.started and path.read_text() == "{"


def test_volatile_parts_of_an_output_are_ignored():
    assert normalize_output("<object at 0x7f3a2b1c9d10> took 0.0123 s, 15ms [12:01:02]") == \
        normalize_output("<object at 0x7f00deadbeef> took 3 s, 7 ms [23:59:59]")
    assert normalize_output("Cell In[3], line 1") == normalize_output("Cell In[17], line 1")
    assert normalize_output("3 apples") != normalize_output("4 apples")


def _recorded(*outputs, status="ok"):
    cell = v4.new_code_cell("code")
    cell.outputs = list(outputs)
    cell.metadata["deepthinker"] = {"status": status}
    return cell


def test_a_replay_is_compared_by_success_error_and_text():
    printed = v4.new_output("stream", name="stdout", text="0x7f0000001234 a\n")
    same = CellResult("ok", stdout="0x7f9999999999 a\n")
    assert compare_replay(_recorded(printed), same) is None
    assert compare_replay(_recorded(printed), CellResult("ok", stdout="b\n")) == \
        "output differs: recorded '0x? a', now 'b'"
    failed = v4.new_output("error", ename="KeyError", evalue="k", traceback=[])
    assert compare_replay(_recorded(failed, status="error"), same) == \
        "failed when recorded (KeyError), succeeds now"
    now_fails = CellResult("error", error=ErrorInfo("ValueError", "bad"))
    assert compare_replay(_recorded(), now_fails) == \
        "succeeded when recorded, fails now: ValueError: bad"
    assert compare_replay(_recorded(), CellResult("ok", stderr="a warning\n")) is None


def test_images_are_not_written_through_a_planted_link(tmp_path):
    (tmp_path / "target").mkdir()
    os.symlink(tmp_path / "target", tmp_path / "nb_files")
    png = RichOutput("display_data", {"image/png": "iVBORw0KGgo=", "text/plain": "<Image>"})
    with pytest.raises(UntrustedFileError):
        save_images(CellResult("ok", outputs=[png]), tmp_path / "nb.ipynb", 1)
    assert list((tmp_path / "target").iterdir()) == []


def test_an_image_that_cannot_be_saved_does_not_end_the_session(tmp_path):
    (tmp_path / "target").mkdir()
    os.symlink(tmp_path / "target", tmp_path / "nb_files")
    show = ("from IPython.display import Image, display; "
            "display(Image(data=b'\\x89PNG\\r\\n\\x1a\\n'))")
    with Session(tmp_path / "nb.ipynb", workdir=tmp_path) as session:
        assert session.run(show).success
        assert session.images == [] and "nb_files" in session.images_problem
        assert session.run("2 + 2").result.text == "4"
    cells = nbformat.read(tmp_path / "nb.ipynb", as_version=4).cells
    assert "image/png" in cells[0].outputs[0]["data"]
    assert list((tmp_path / "target").iterdir()) == []
