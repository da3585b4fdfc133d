"""The host trusts nothing the kernel wrote: whatever a cell plants where the host will read, the
run goes on, each iteration fails with an error naming the problem, and no host file is read
through it (its content appears nowhere in the run dir, the result or the coder's feedback).

The scanner is off: these cells would be blocked by it, and the host must hold without it.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

import pytest
from wf_helpers import MAJORITY_CELL, ScriptedCoder

pytestmark = pytest.mark.slow


def _regular_files(root: Path) -> list[Path]:
    """Every regular file under ``root``; links are not followed (the planted ones point at the
    secret) and FIFOs are not opened."""
    files = []
    for folder, _dirs, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(folder) / name
            if stat.S_ISREG(path.lstat().st_mode):
                files.append(path)
    return files


@pytest.mark.timeout(280)
def test_planted_links_fifos_and_devices_fail_iterations_and_leak_nothing(
        iris_config, make_runner, tmp_path):
    secret = f"deepthinker-secret-{secrets.token_hex(8)}"
    host_dir = tmp_path / "host"  # outside the runs dir: a host file the kernel must not reach
    host_dir.mkdir()
    host_file = host_dir / "notes.txt"
    host_file.write_text(f"{secret}\n")
    # A predictions file the host would accept, were it read through a planted directory link.
    (host_dir / "predictions.csv").write_text(
        "row_id,prediction\n" + "".join(f"{i},{secret}\n" for i in range(200)))
    host_before = sorted((p.name, p.stat().st_mode) for p in host_dir.iterdir())

    plant_symlink = (
        "import os\n"
        f"os.symlink({str(host_file)!r}, PREDICTIONS_PATH)\n"
        "# and, where iteration 4 will write, a link to the host dir\n"
        "work = os.path.dirname(os.path.dirname(PREDICTIONS_PATH))\n"
        f"os.symlink({str(host_dir)!r}, os.path.join(work, '04'))\n"
    )
    plant_fifo = "import os\nos.mkfifo(PREDICTIONS_PATH)\n"
    plant_dev_zero = "import os\nos.symlink('/dev/zero', PREDICTIONS_PATH)\n"
    coder = ScriptedCoder(plant_symlink, plant_fifo, plant_dev_zero, MAJORITY_CELL,
                          MAJORITY_CELL)
    result = make_runner(iris_config, coder, scan=False, report=True, max_iterations=5,
                         patience=None, quality_threshold=10.0).run("classify iris")
    print("\n" + result.summary())

    statuses = [r.status for r in result.iterations]
    assert statuses == ["invalid_predictions"] * 3 + ["error", "ok"]
    errors = [r.error or "" for r in result.iterations]
    assert "was refused: a symlink" in errors[0]
    assert "was refused: not a regular file (a FIFO)" in errors[1]
    assert "was refused: a symlink" in errors[2]
    assert "work dir refused" in errors[3] and "'04' on its path is a symlink" in errors[3]
    assert result.status == "complete" and result.best_iteration == 5  # the loop went on

    # The secret is nowhere: not in any file of the run dir, not in what the host returned,
    # not in what the coder was shown.
    files = _regular_files(result.run_dir)
    assert {"manifest.json", "run.ipynb", "report.html", "01.ipynb"} <= {p.name for p in files}
    leaked = [p for p in files if secret.encode() in p.read_bytes()]
    assert leaked == []
    assert secret not in json.dumps(result.to_dict(), default=str)
    assert secret not in result.summary()
    shown = [(a.error or "") + a.feedback for req in coder.requests for a in req.history]
    assert shown and not any(secret in text for text in shown)
    # The host dir was neither written nor chmodded through the planted link.
    assert sorted((p.name, p.stat().st_mode) for p in host_dir.iterdir()) == host_before


@pytest.mark.timeout(280)
def test_links_planted_where_later_notebooks_work_are_refused_not_followed(
        iris_config, make_runner, tmp_path):
    """A pooled local kernel may write anywhere under work/: links it leaves where the
    simulation and run.ipynb will work fail those notebooks, and the host creates nothing in
    the directory they point to."""
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "notes.txt").write_text("host notes\n")
    host_before = sorted((p.name, p.stat().st_mode) for p in host_dir.iterdir())
    plant = MAJORITY_CELL + (
        "import os\n"
        "work = os.path.dirname(os.path.dirname(PREDICTIONS_PATH))\n"
        f"os.symlink({str(host_dir)!r}, os.path.join(work, 'run'))\n"
        f"os.symlink({str(host_dir)!r}, os.path.join(work, 'simulation'))\n"
    )
    result = make_runner(iris_config, ScriptedCoder(plant), scan=False, simulate=True,
                         max_iterations=1).run("classify iris")
    print("\n" + result.summary())

    assert [r.status for r in result.iterations] == ["ok"]
    assert result.status == "complete" and result.best_iteration == 1
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["run_notebook"]["status"] == "error"
    assert "'run' on its path is a symlink" in manifest["run_notebook"]["error"]
    assert result.reproduced is False and result.run_notebook is None
    scenarios = result.simulation.results
    assert scenarios and all(s.status == "error" and "'simulation' on its path is a symlink"
                             in (s.error or "") for s in scenarios)
    assert sorted((p.name, p.stat().st_mode) for p in host_dir.iterdir()) == host_before
