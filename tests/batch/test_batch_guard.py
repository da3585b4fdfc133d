"""A stopped run leaves no kernel behind, also on a backend whose notebooks each start a kernel
of their own (Docker: not pooled). The task guard's watcher calls ``cancel`` when Dask no
longer wants the task; here it is called directly, in this process."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nbformat
import pytest

from deepthinker_nb.batch.guard import TaskGuard
from deepthinker_nb.kernel.docker.orphans import LABEL_OWNER
from deepthinker_nb.workflow.placement import KernelPlacement


def _our_containers() -> list[str]:
    done = subprocess.run(["docker", "ps", "-q", "--filter", f"label={LABEL_OWNER}={os.getpid()}"],
                          capture_output=True, text=True, timeout=30)
    return done.stdout.split()


def test_cancel_stops_the_kernel_a_notebook_started_itself(tmp_path: Path) -> None:
    try:
        subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("no Docker engine")
    placement = KernelPlacement("docker", timeout=900)
    assert not placement.poolable  # each notebook starts its own container
    guard = TaskGuard(None)
    guard.watch(SimpleNamespace(placement=placement))
    kernels = placement.start(tmp_path, expected=1)
    work = tmp_path / "work" / "01"
    work.mkdir(parents=True)
    (tmp_path / "data").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(600)")])
    box: dict[str, Any] = {}

    def execute() -> None:
        try:
            box["run"] = kernels.execute(nb, tmp_path / "01.ipynb", work)
        except Exception as exc:  # the kernel went away under the cell: the step fails
            box["error"] = exc

    thread = threading.Thread(target=execute)
    thread.start()
    try:
        deadline = time.monotonic() + 180
        while not _our_containers() and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _our_containers(), "the notebook's kernel never had a container running"
        time.sleep(1)  # the cell is sleeping now
        guard.cancel("the task was cancelled (test)")
        thread.join(120)  # the cell would sleep ten minutes if its kernel lived on
        assert not thread.is_alive(), "the notebook still runs on its kernel"
    finally:
        kernels.close()
        thread.join(60)
    assert "error" in box or box["run"].status != "ok", box
    deadline = time.monotonic() + 60
    while _our_containers() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _our_containers()
    # A notebook after the cancellation gets no kernel at all.
    with pytest.raises(Exception, match="closed"):
        kernels.execute(nb, tmp_path / "02.ipynb", work)
