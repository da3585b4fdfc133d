"""Nothing of the user's is changed: a kernel started by root leaves its working dir's owner and
mode (and every entry's in it) as they were, and still writes results the host can read."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from deepthinker_nb.kernel import KernelSession

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0, reason="a non-root host never changes owners; "
                                                 "these are the root host's cases"),
]

CELL = """
import os
print(os.getuid(), open("input.csv").read().split()[1], open("from_host.txt").read())
with open("result.csv", "w") as f:
    f.write("y\\n42\\n")
with open("sub/deep.txt", "w") as f:
    f.write("deep")
"""


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Owner, group and mode of ``root`` and of everything in it, by relative path."""
    out = {".": (root.stat().st_uid, root.stat().st_gid, root.stat().st_mode)}
    for path in root.rglob("*"):
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_uid, st.st_gid, st.st_mode)
    return out


def users_folder(base: Path, owner: int, mode: int) -> Path:
    work = base / f"work-{owner}-{mode:o}"
    (work / "sub").mkdir(parents=True)
    (work / "input.csv").write_text("a\n1\n")
    os.chmod(work / "input.csv", 0o640)
    for path in (work, work / "sub", work / "input.csv"):
        os.chown(path, owner, owner)
    os.chmod(work, mode)
    return work


@pytest.mark.parametrize(("owner", "mode"), [(0, 0o755), (0, 0o700), (1234, 0o755),
                                             (1234, 0o700)])
def test_a_root_host_leaves_the_working_dir_as_it_was(docker_engine, tmp_path, owner, mode):
    work = users_folder(tmp_path, owner, mode)
    before = snapshot(work)
    session = KernelSession(backend="docker", workdir=work, scan=False).start()
    try:
        provisioner = session.async_session.kernel_manager.provisioner
        assert (provisioner.mirror is not None) == (owner == 0)  # root's dir: a private copy
        (work / "from_host.txt").write_text("hello")  # the host writes between cells
        result = session.execute(textwrap.dedent(CELL))
        assert result.status == "ok", (result.error, result.stderr)
        assert result.stdout.split() == [str(owner or 1000), "1", "hello"]
        # right after the cell, before any shutdown
        assert (work / "result.csv").read_text() == "y\n42\n"
        assert (work / "sub" / "deep.txt").read_text() == "deep"
        during = snapshot(work)
    finally:
        session.shutdown()
    after = snapshot(work)
    for seen in (during, after):
        assert {k: v for k, v in seen.items() if k in before} == before
    for name in ("result.csv", "sub/deep.txt"):  # what the kernel wrote belongs to the owner
        st = (work / name).lstat()
        assert (st.st_uid, st.st_mode & 0o7022) == (owner, 0), name


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory):
    from deepthinker_nb.kernel.specs import install_kernel_specs

    prefix = tmp_path_factory.mktemp("prefix")
    install_kernel_specs(prefix=str(prefix), names=["deepthinker-docker"])
    return prefix / "share" / "jupyter"


@pytest.mark.parametrize("owner", [0, 1234])
def test_plain_papermill_leaves_its_working_folder_as_it_was(docker_engine, jupyter_path,
                                                             tmp_path, owner):
    folder = users_folder(tmp_path, owner, 0o755)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os\nopen('result.txt', 'w').write('r')\nprint(os.getuid())"))
    src, dest = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    before = snapshot(folder)
    env = dict(os.environ, JUPYTER_PATH=str(jupyter_path))
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", str(src), str(dest), "-k", "deepthinker-docker",
         "--cwd", str(folder), "--no-progress-bar"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = nbformat.read(dest, as_version=4).cells[0].outputs
    assert out[0]["text"].strip() not in ("", "0")  # it ran, and not as root
    assert snapshot(folder) == before  # papermill's kernel works in a dir of its own
