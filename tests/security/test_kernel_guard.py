"""The scanner inside every kernel we install: cells that do not come through deepthinker-nb's
own roads (JupyterLab, VS Code, ``jupyter console``, plain papermill or nbclient) are refused
in the kernel, with a readable message, and the guard cannot be removed by an allowed cell.

Kernels here are started from the installed kernelspecs by a real Jupyter client and by plain
papermill (no ``--engine``), on both backends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from deepthinker_nb.scanner import ScanPolicy, SecurityScanner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scanner"))
from corpus_loader import load

BACKENDS = [
    pytest.param("deepthinker-local", id="local"),
    pytest.param("deepthinker-docker", id="docker", marks=pytest.mark.docker),
]

REFUSED = {
    "os.system": "import os\nos.system('touch {marker}')",
    "bang": "!touch {marker}",
    "cell magic": "%%bash\ntouch {marker}",
    "subprocess": "import subprocess\nsubprocess.run(['touch', '{marker}'])",
    "alias": "import os as o\nrun = getattr(o, 'sys' + 'tem')\nrun('touch {marker}')",
    "unix socket": "import asyncio\nasyncio.run(asyncio.open_unix_connection('/var/run/docker.sock'))",
    "host file": "open('/etc/shadow').read()",
    # the families of issue 10, one spelling each (tests/scanner has the rest)
    "event loop method": "import asyncio\nloop = asyncio.new_event_loop()\n"
                         "loop.run_until_complete(loop.subprocess_shell("
                         "asyncio.SubprocessProtocol, 'touch {marker}'))",
    "reversed name": "import os\nname = ''.join(reversed('metsys'))\n"
                     "getattr(os, name)('touch {marker}')",
    "format walk": "def f():\n    pass\nprint('{{0.__globals__}}'.format(f))",
    "code file": "%%writefile helper.py\nimport os\nos.system('touch {marker}')",
    "run a file": "import runpy\nrunpy.run_path('helper.py')",
    "ffi": "import numpy.ctypeslib as npc\nnpc.load_library('libc.so.6', '/lib')",
    "process helper": "from IPython.utils.process import system\nsystem('touch {marker}')",
}

TAMPERING = [
    "get_ipython().input_transformers_cleanup.clear()",
    "ip = get_ipython()\nip.input_transformers_cleanup[:] = []",
    "get_ipython().input_transformers_cleanup.pop(0)",
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "InteractiveShell.transform_cell = lambda self, cell: cell",
    "import gc\nguards = [o for o in gc.get_objects() if type(o).__name__ == 'KernelGuard']",
    "import sys\nsys.modules['deepthinker_nb.scanner.kernel_guard'] = None",
    "get_ipython().kernel.shell_handlers['execute_request'] = None",
    "get_ipython().input_transformer_manager.cleanup_transforms.clear()",
    "get_ipython().transform_cell = lambda cell: cell",
    "shell = get_ipython()\nsetattr(shell, 'transform_cell', str)",
    "import deepthinker_nb.scanner.kernel_guard as g\n"
    "g.KernelGuard.__call__ = lambda self, lines: lines",
    "from IPython.core.inputtransformer2 import TransformerManager\n"
    "TransformerManager.transform_cell = lambda self, cell: cell",
]


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory):
    """Both kernelspecs installed into a private prefix, as ``deepthinker-nb kernels install``."""
    from deepthinker_nb.kernel.specs import install_kernel_specs

    prefix = tmp_path_factory.mktemp("prefix")
    install_kernel_specs(prefix=str(prefix), names=["deepthinker-local", "deepthinker-docker"])
    return prefix / "share" / "jupyter"


class Client:
    """A plain jupyter_client kernel, as JupyterLab starts it from the kernelspec."""

    def __init__(self, kernel_name: str, jupyter_path: Path, cwd: Path) -> None:
        os.environ["JUPYTER_PATH"] = str(jupyter_path)
        self.km = KernelManager(kernel_name=kernel_name, kernel_spec_manager=KernelSpecManager())
        self.km.start_kernel(cwd=str(cwd))
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def run(self, code: str) -> tuple[str, str, str]:
        """(status, ename, everything shown) of one cell."""
        shown: list[str] = []
        ename = ""

        def hook(msg):
            nonlocal ename
            content = msg["content"]
            if msg["msg_type"] == "error":
                ename = content["ename"]
                shown.extend(content["traceback"])
            elif msg["msg_type"] == "stream":
                shown.append(content["text"])

        reply = self.kc.execute_interactive(code, output_hook=hook, timeout=120)
        return reply["content"]["status"], ename, "\n".join(shown)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(params=BACKENDS, scope="module")
def client(request, jupyter_path, tmp_path_factory):
    if request.param == "deepthinker-docker":
        request.getfixturevalue("docker_engine")
    saved = os.environ.get("JUPYTER_PATH")
    work = tmp_path_factory.mktemp("guarded")
    kernel = Client(request.param, jupyter_path, work)
    kernel.workdir = work
    yield kernel
    kernel.close()
    if saved is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = saved


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_jupyter_client_gets_a_readable_refusal(client, name):
    marker = f"pwned-{uuid.uuid4().hex[:8]}"
    status, ename, shown = client.run(REFUSED[name].format(marker=marker))
    assert (status, ename) == ("error", "CellRefused"), shown
    assert shown.startswith("deepthinker-nb refused this cell before running it")
    assert "BLOCKED" in shown and "Traceback" not in shown
    assert not (client.workdir / marker).exists()


def test_allowed_cells_run_as_usual(client):
    assert client.run("import pandas as pd\nprint(pd.DataFrame({'a': [1, 2]}).a.sum())")[2] == "3\n"
    assert client.run("get_ipython().ast_node_interactivity = 'all'")[0] == "ok"
    assert client.run("%matplotlib inline")[0] == "ok"


@pytest.mark.parametrize("cell", TAMPERING, ids=range(len(TAMPERING)))
def test_the_guard_cannot_be_removed_by_a_cell(client, cell):
    status, ename, _ = client.run(cell)
    assert (status, ename) == ("error", "CellRefused")
    after, after_ename, _ = client.run("import os\nos.system('true')")
    assert (after, after_ename) == ("error", "CellRefused"), "the guard is still in place"


def test_a_half_typed_cell_is_not_refused_while_typing(client):
    client.kc.is_complete("import os\nos.system(")
    reply = client.kc.get_shell_msg(timeout=30)
    assert reply["content"]["status"] == "incomplete"


def test_the_kernel_and_the_client_gate_judge_every_dangerous_cell_alike(client):
    """The whole dangerous corpus, in order, through the kernel and through the host's scanner
    (the same policy, one session each): not one verdict differs."""
    host = SecurityScanner(policy=ScanPolicy(work_dir=str(client.workdir))).session()
    differ = []
    for case in load("dangerous"):
        host_blocks = host.scan(case.code).blocked
        ename = client.run(case.code)[1] if host_blocks else ""
        if host_blocks and ename != "CellRefused":
            differ.append(case.key)
    assert differ == []


@pytest.mark.parametrize("kernel", BACKENDS)
def test_plain_papermill_refuses_the_cell_and_says_why(kernel, jupyter_path, tmp_path, request):
    if kernel == "deepthinker-docker":
        request.getfixturevalue("docker_engine")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 6 * 7\nprint(x)"),
                nbformat.v4.new_code_cell("!touch pwned"),
                nbformat.v4.new_code_cell("print('never')")]
    nb.metadata.kernelspec = {"name": kernel, "display_name": kernel, "language": "python"}
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    env = dict(os.environ, JUPYTER_PATH=str(jupyter_path))
    proc = subprocess.run([sys.executable, "-m", "papermill", str(src), str(out),
                           "--no-progress-bar"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "refused this cell" in proc.stderr
    cells = nbformat.read(out, as_version=4).cells
    code = [c for c in cells if c.cell_type == "code"]
    assert code[0].outputs[0].text == "42\n"
    error = code[1].outputs[0]
    assert error.ename == "CellRefused"
    assert "refused this cell" in "\n".join(error.traceback)
    assert code[2].outputs == []
    assert not (tmp_path / "pwned").exists()


def test_a_local_kernel_knows_the_environments_own_process_helpers(client):
    """The index of installed helpers that start processes (built once per environment by
    the bootstrap, read by kernels from the environment) guards local kernels too; the Docker
    image's packages are other ones, so there the host's gate is the one that knows them."""
    if client.km.kernel_name != "deepthinker-local":
        pytest.skip("the Docker image has no index of its own packages")
    from deepthinker_nb.scanner.envindex import main as build_index

    build_index(["--install"])  # what scripts/bootstrap.sh does; instant when it exists
    missed = [case.key for case in load("env_dangerous")
              if client.run(case.code)[1] != "CellRefused"]
    assert missed == []
