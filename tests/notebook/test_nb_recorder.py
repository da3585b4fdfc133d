from __future__ import annotations

import os

import nbformat
import pytest

from deepthinker_nb.kernel.results import CellResult, ErrorInfo, RichOutput
from deepthinker_nb.notebook import NotebookRecorder, cell_result_to_outputs
from deepthinker_nb.scanner import Finding, ScanReport, Severity


def _rich(text, out=0, err=0, kind="display_data", count=None):
    return RichOutput(kind, {"text/plain": text}, {}, execution_count=count,
                      stdout_offset=out, stderr_offset=err)


def test_streams_interleave_with_rich_outputs_in_arrival_order():
    result = CellResult(
        status="ok", execution_count=3,
        stdout="before\nbetween\nafter\n", stderr="warn\n",
        outputs=[_rich("FIG1", out=7), _rich("FIG2", out=15, err=5), _rich("42", out=15, err=5,
                                                                           kind="execute_result")],
    )
    outputs = cell_result_to_outputs(result)
    summary = [(o.output_type, o.get("name"), o.get("text") or o.get("data", {}).get("text/plain"))
               for o in outputs]
    assert summary == [
        ("stream", "stdout", "before\n"),
        ("display_data", None, "FIG1"),
        ("stream", "stdout", "between\n"),
        ("stream", "stderr", "warn\n"),
        ("display_data", None, "FIG2"),
        ("execute_result", None, "42"),
        ("stream", "stdout", "after\n"),
    ]
    assert outputs[5].execution_count == 3


def test_offsets_beyond_truncated_text_are_clamped():
    result = CellResult(status="ok", stdout="abc", outputs=[_rich("X", out=999)],
                        stdout_truncated=True)
    outputs = cell_result_to_outputs(result)
    assert [o.output_type for o in outputs] == ["stream", "display_data"]


def test_error_timeout_died_and_blocked_outputs():
    err = CellResult(status="error", error=ErrorInfo("ValueError", "bad", ["tb1", "tb2"]))
    assert cell_result_to_outputs(err)[-1].ename == "ValueError"
    timeout = CellResult(status="timeout", timeout_action="interrupted")
    assert cell_result_to_outputs(timeout)[-1].ename == "CellTimeoutError"
    died = CellResult(status="died", death_reason="killed by signal 9")
    assert cell_result_to_outputs(died)[-1].evalue == "killed by signal 9"

    report = ScanReport([Finding("subprocess", Severity.CRITICAL, "no", 1, 0, "x")])
    blocked = CellResult(status="blocked", scan_report=report)
    out = cell_result_to_outputs(blocked)
    assert len(out) == 1 and out[0].ename == "SecurityError" and "subprocess" in out[0].evalue
    assert out[0].evalue == report.summary()  # the one line every road shows


def test_recorder_round_trip_with_real_kernel(tmp_path):
    from deepthinker_nb.kernel import KernelSession

    path = tmp_path / "session.ipynb"
    with KernelSession("local") as session:
        recorder = NotebookRecorder(path, kernel_name=session.kernel_name)
        assert nbformat.read(path, as_version=4).cells == []  # written at once
        code = ("import sys\nfrom IPython.display import display\nprint('one')\n"
                "display('shown')\nprint('two')\nsys.stderr.write('err')\n21 * 2")
        recorder.record(code, session.execute(code))
        recorder.record("1/0", session.execute("1/0"))
        blocked_code = "import subprocess\nsubprocess.run(['true'])"
        recorder.record(blocked_code, session.execute(blocked_code))

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "deepthinker-local"
    first, second, third = nb.cells
    kinds = [(o.output_type, o.get("name")) for o in first.outputs]
    assert kinds == [("stream", "stdout"), ("display_data", None), ("stream", "stdout"),
                     ("stream", "stderr"), ("execute_result", None)]
    assert first.outputs[-1].data["text/plain"] == "42"
    assert first.metadata.deepthinker["status"] == "ok"
    assert first.metadata.deepthinker["duration"] > 0
    assert first.metadata.deepthinker["scan"]["verdict"] == "pass"
    assert second.outputs[-1].ename == "ZeroDivisionError"
    assert second.metadata.deepthinker["status"] == "error"
    assert third.metadata.deepthinker["status"] == "blocked"
    assert third.metadata.deepthinker["scan"]["findings"]
    assert third.outputs[-1].ename == "SecurityError"

    # Resuming keeps what was recorded.
    again = NotebookRecorder(path)
    assert len(again) == 3


def test_recorder_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "n.ipynb"
    recorder = NotebookRecorder(path, kernel_name="python3")
    recorder.record("x = 1", CellResult(status="ok", execution_count=1, stdout="hi\n"))
    before = path.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        recorder.record("y = 2", CellResult(status="ok", execution_count=2))
    monkeypatch.undo()
    assert path.read_text() == before  # the old file is intact, no half-written notebook
    assert [p.name for p in tmp_path.iterdir()] == ["n.ipynb"]  # the temp file is gone
    nbformat.validate(nbformat.read(path, as_version=4))
