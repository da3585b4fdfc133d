"""``deepthinker-nb session`` as a researcher lives in it: driven through a real terminal
(pexpect) or a pipe, with real local kernels."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import nbformat
import pexpect
import pytest

CLI = [sys.executable, "-m", "deepthinker_nb.cli", "session"]
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"  # a terminal's bracketed paste


def spawn(*args: str, cwd: Path) -> pexpect.spawn:
    env = dict(os.environ, TERM="xterm")
    child = pexpect.spawn(CLI[0], [*CLI[1:], *args], cwd=str(cwd), env=env, encoding="utf-8",
                          timeout=60, dimensions=(50, 200))
    child.expect(r"In \[1\]: ")
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def session(*args: str, cwd: Path, cells: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, input=cells, capture_output=True, text=True,
                          timeout=120)


def outputs(cell) -> dict:
    """A recorded cell's stdout text and error name."""
    stdout = "".join(o.text for o in cell.outputs if o.output_type == "stream"
                     and o.name == "stdout")
    errors = [o.ename for o in cell.outputs if o.output_type == "error"]
    return {"stdout": stdout, "error": errors[0] if errors else None}


def test_ctrl_c_interrupts_the_running_cell_and_the_kernel_keeps_its_state(tmp_path):
    child = spawn("nb.ipynb", cwd=tmp_path)
    child.sendline("x = 41")
    child.expect(r"In \[2\]: ")
    child.send(PASTE_START + "import time\nfor i in range(100): print(i, flush=True); "
               "time.sleep(0.1)" + PASTE_END + "\r")
    child.expect(r"\.\.\.: ")  # a loop waits for the empty line that ends it
    child.send("\r")
    child.expect("\r\n2\r\n")
    child.sendintr()
    child.expect("KeyboardInterrupt")
    child.expect(r"In \[3\]: ")
    child.sendline("print(x + 1)")
    child.expect("42")
    child.expect(r"In \[4\]: ")
    child.sendeof()
    assert finish(child) == 0

    cells = nbformat.read(tmp_path / "nb.ipynb", as_version=4).cells
    assert len(cells) == 3 and cells[0].source == "x = 41"
    interrupted = outputs(cells[1])
    assert interrupted["error"] == "KeyboardInterrupt"
    assert interrupted["stdout"].startswith("0\n1\n2\n") and "99\n" not in interrupted["stdout"]
    assert outputs(cells[2]) == {"stdout": "42\n", "error": None}
    assert not (tmp_path / ".home").exists(), "the kernel's HOME is removed at the end"


def test_ctrl_c_at_the_prompt_clears_the_line_and_twice_at_an_empty_prompt_quits(tmp_path):
    child = spawn("nb.ipynb", cwd=tmp_path)
    child.send("raise SystemExit('typed, never run')")
    child.expect("never run'\\)")
    child.sendintr()  # clears the line
    child.expect(r"In \[1\]: ")
    child.send("also_typed")
    child.expect("also_typed")
    child.sendintr()  # the prompt was not empty: clears again, does not quit
    child.expect(r"In \[1\]: ")
    child.sendline("1 + 1")
    child.expect("Out\\[1\\]: 2")
    child.expect(r"In \[2\]: ")
    child.sendintr()
    child.expect(r"In \[2\]: ")
    child.sendintr()  # a second Ctrl-C at the empty prompt
    child.expect("recorded in nb.ipynb")
    assert finish(child) == 0
    cells = nbformat.read(tmp_path / "nb.ipynb", as_version=4).cells
    assert [c.source for c in cells] == ["1 + 1"]


def test_the_kernel_works_in_the_current_dir_and_leaves_no_junk_there(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    done = session("../nb.ipynb", cwd=project,
                   cells="open('out.txt', 'w').write('by the kernel')\nimport os; os.getcwd()\n")
    assert done.returncode == 0, done.stderr
    assert (project / "out.txt").read_text() == "by the kernel"
    assert str(project) in done.stdout
    assert sorted(p.name for p in project.iterdir()) == ["out.txt"]


def test_workdir_flag_chooses_the_kernel_dir(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    done = session("nb.ipynb", "--workdir", "elsewhere", cwd=tmp_path,
                   cells="open('out.txt', 'w').write('x')\n")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "elsewhere" / "out.txt").exists()
    assert not (tmp_path / "out.txt").exists()


def test_a_missing_workdir_is_a_one_line_error_and_is_not_created(tmp_path):
    done = session("nb.ipynb", "--workdir", "typo", cwd=tmp_path, cells="1\n")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "--workdir typo: does not exist" in done.stderr
    assert not (tmp_path / "typo").exists() and not (tmp_path / "nb.ipynb").exists()


def test_a_replay_that_differs_from_the_recording_is_reported_cell_by_cell(tmp_path):
    (tmp_path / "data.txt").write_text("alpha")
    (tmp_path / "gone.txt").write_text("here")
    cells = "\n".join([
        "x = 1",                                               # 1: same
        "print(open('data.txt').read())",                      # 2: prints something else
        "open('flag.txt').read()",                             # 3: failed, succeeds now
        "print(object())",                                     # 4: only an address differs
        "import time; t = time.time(); print(f'took {time.time() - t:.6f} s')",  # 5: timing
        "print(open('gone.txt').read())",                      # 6: succeeded, fails now
        "1 / 0",                                               # 7: fails as recorded
    ]) + "\n"
    assert session("nb.ipynb", cwd=tmp_path, cells=cells).returncode == 0
    (tmp_path / "data.txt").write_text("beta")
    (tmp_path / "flag.txt").write_text("set")
    (tmp_path / "gone.txt").unlink()

    done = session("nb.ipynb", cwd=tmp_path, cells="x + 1\n")
    assert done.returncode == 0, done.stderr
    report = [line.strip() for line in done.stderr.splitlines()]
    assert "replayed 7 cell(s) of nb.ipynb; 3 differ from the recording:" in report
    differing = [line for line in report if line.startswith("cell ")]
    assert differing[:2] == [
        "cell 2: output differs: recorded 'alpha', now 'beta'",
        "cell 3: failed when recorded (FileNotFoundError), succeeds now",
    ]
    assert differing[2].startswith("cell 6: succeeded when recorded, fails now: "
                                   "FileNotFoundError: [Errno 2] No such file")
    assert len(differing) == 3
    assert "2" in done.stdout
    assert len(nbformat.read(tmp_path / "nb.ipynb", as_version=4).cells) == 8


def _png(width: int, shade: int) -> bytes:
    """A small valid grey PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    header = width.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    rows = b"".join(b"\x00" + bytes([shade]) * width for _ in range(width))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def test_images_are_saved_beside_the_notebook_and_their_paths_printed(tmp_path):
    first, second = _png(4, 10), _png(8, 200)
    cells = ("x = 1\n"
             "from IPython.display import Image, display; "
             f"display(Image(data={first!r})); display(Image(data={second!r}))\n")
    done = session("plots.ipynb", cwd=tmp_path, cells=cells)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "plots_files"
    assert (folder / "cell2_1.png").read_bytes() == first
    assert (folder / "cell2_2.png").read_bytes() == second
    assert "[image saved to plots_files/cell2_1.png]" in done.stdout
    assert "[image saved to plots_files/cell2_2.png]" in done.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["cell2_1.png", "cell2_2.png"]


@pytest.mark.parametrize("content", ["not json at all", '{"cells": "no notebook"}', "[1, 2]"])
def test_an_invalid_notebook_is_a_one_line_error_and_stays_as_it_was(tmp_path, content):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    done = session("broken.ipynb", cwd=tmp_path, cells="1\n")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("deepthinker-nb: error: broken.ipynb: cannot be continued, "
                               "not a valid notebook")
    assert "give the session a new notebook name" in lines[0]
    assert path.read_text() == content
    assert not (tmp_path / ".home").exists()



def test_ctrl_c_during_the_replay_stops_it_and_the_prompt_comes(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 5"),
        nbformat.v4.new_code_cell("open('started', 'w').close()\nimport time\ntime.sleep(60)"),
        nbformat.v4.new_code_cell("y = 6"),
    ])
    nbformat.write(notebook, tmp_path / "nb.ipynb")
    env = dict(os.environ, TERM="xterm")
    child = pexpect.spawn(CLI[0], [*CLI[1:], "nb.ipynb"], cwd=str(tmp_path), env=env,
                          encoding="utf-8", timeout=60, dimensions=(50, 200))
    child.expect(r"replaying 3 cell\(s\) of nb.ipynb")
    for _ in range(1200):  # the replayed cell shows nothing: wait until the kernel is in it
        if (tmp_path / "started").exists():
            break
        time.sleep(0.05)
    child.sendintr()
    child.expect("stopped at cell 2 by Ctrl-C")
    child.expect(r"In \[4\]: ")
    child.sendline("x, 'y' in globals()")
    child.expect(r"Out\[4\]: \(5, False\)")
    child.sendeof()
    assert finish(child) == 0
