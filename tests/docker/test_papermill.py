"""The kernelspec works for any Jupyter tool: papermill's CLI with ``-k deepthinker-docker``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.docker

CELLS = [
    ("parameters", "n = 5"),
    ("", "import numpy as np, pandas as pd\n"
         "from sklearn.linear_model import LogisticRegression\n"
         "rng = np.random.default_rng(0)\n"
         "X = rng.normal(size=(200, 3)); y = (X[:, 0] + X[:, 1] > 0).astype(int)"),
    ("", "df = pd.DataFrame(X[:n], columns=list('abc')).round(3)\ndf"),
    ("", "model = LogisticRegression(random_state=0).fit(X, y)\n"
         "print(round(model.score(X, y), 4), model.coef_.round(3).tolist())"),
    ("", "import os\nprint(sum(range(n)), os.path.basename(os.getcwd()) != '')"),
]


def make_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for tag, source in CELLS:
        cell = nbformat.v4.new_code_cell(source)
        if tag:
            cell.metadata["tags"] = [tag]
        nb.cells.append(cell)
    nbformat.write(nb, path)


def outputs(path: Path) -> list:
    nb = nbformat.read(path, as_version=4)
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream":
                out.append((o["name"], o["text"]))
            elif o["output_type"] in ("execute_result", "display_data"):
                out.append(("data", o["data"].get("text/plain")))
            elif o["output_type"] == "error":
                out.append(("error", o["ename"], o["evalue"]))
    return out


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory):
    """Both kernelspecs installed into a private prefix, as `deepthinker-nb kernels install`."""
    from deepthinker_nb.kernel.specs import install_kernel_specs

    prefix = tmp_path_factory.mktemp("prefix")
    install_kernel_specs(prefix=str(prefix), names=["deepthinker-docker", "deepthinker-local"])
    return prefix / "share" / "jupyter"


def run_papermill(kernel: str, src: Path, dest: Path, jupyter_path: Path) -> None:
    env = dict(os.environ, JUPYTER_PATH=str(jupyter_path))
    cmd = [sys.executable, "-m", "papermill", str(src), str(dest), "-k", kernel, "-p", "n", "3",
           "--no-progress-bar"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_papermill_cli_docker_matches_local(docker_engine, jupyter_path, tmp_path):
    src = tmp_path / "in.ipynb"
    make_notebook(src)
    run_papermill("deepthinker-docker", src, tmp_path / "docker.ipynb", jupyter_path)
    run_papermill("deepthinker-local", src, tmp_path / "local.ipynb", jupyter_path)
    docker_out, local_out = outputs(tmp_path / "docker.ipynb"), outputs(tmp_path / "local.ipynb")
    assert docker_out == local_out, json.dumps([docker_out, local_out], indent=1)
    assert ("stdout", "3 True\n") in docker_out  # the parameter n=3 was injected
    nb = nbformat.read(tmp_path / "docker.ipynb", as_version=4)
    assert nb.metadata["papermill"]["parameters"] == {"n": 3}
    # papermill has exited: none of its containers may remain (other processes' may exist)
    from deepthinker_nb.kernel.docker.orphans import find_orphans

    assert find_orphans(docker_engine) == []
