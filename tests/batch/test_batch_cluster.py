"""Batches on a real ``distributed.LocalCluster`` (worker processes, TCP): a 6-run batch over
two workers, re-running it, a worker killed mid-batch, a cancelled task, a bad spec, and run
dirs sent back to a client that shares no storage with its workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
from batch_helpers import (
    fail_kernel_starts,
    fast_spec,
    kernel_processes,
    restore_kernel_starts,
)

from deepthinker_nb.batch import SpecError, load_spec, run_batch
from deepthinker_nb.batch.storage import attempt_dirs, is_finished
from deepthinker_nb.batch.task import RunTask, execute_run

IRIS = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "iris.csv"


def _one_complete_dir_per_run(out: Path, result: Any) -> None:
    for row in result.rows:
        finished = [p for p in attempt_dirs(out, row.run) if is_finished(p, row.run.config_hash)]
        assert finished == [row.run_dir], row.run.label


@pytest.fixture(scope="module")
def six_runs(module_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("batch")
    events: list[Any] = []
    result = run_batch(fast_spec(6), client=module_client, out=out, progress=events.append)
    return out, result, events


def test_six_runs_over_two_workers(six_runs: Any) -> None:
    out, result, events = six_runs
    assert [row.status for row in result.rows] == ["complete"] * 6, result.summary()
    assert len({row.worker for row in result.rows}) == 2  # both workers ran runs
    assert not any(row.cached for row in result.rows)
    assert all(row.best_score is not None and row.metrics for row in result.rows)
    for table in (pd.read_csv(out / "results.csv"), pd.read_parquet(out / "results.parquet")):
        assert len(table) == 6
        assert sorted(table["seed"]) == [1, 2, 3, 4, 5, 6]
        assert set(table["status"]) == {"complete"}
        assert table["run_key"].is_unique
        assert {"best_score", "duration", "dataset", "max_iterations", "backend", "council",
                "metric_accuracy"} <= set(table.columns)
    report = (out / "report.html").read_text()
    assert "data:image/png;base64," in report and report.count('<tr class="complete">') == 6
    _one_complete_dir_per_run(out, result)
    # Progress: the dashboard link first, then started / finished runs and the best score.
    assert "dashboard: http" in events[0].message
    assert events[-1].done == 6 and events[-1].running == 0
    assert events[-1].best_score == max(row.best_score for row in result.rows)
    assert any(e.running == 2 for e in events)
    frame = result.to_frame()
    assert len(frame) == 6 and "<table>" in result._repr_html_()


def test_rerun_skips_finished_runs(six_runs: Any, module_client: Any) -> None:
    out, first, _ = six_runs
    dirs_before = sorted(p.name for p in out.iterdir() if p.is_dir())
    again = run_batch(fast_spec(7), client=module_client, out=out, progress=False)
    assert [row.cached for row in again.rows] == [True] * 6 + [False]
    assert [row.status for row in again.rows] == ["complete"] * 7
    # The six finished runs keep their dirs; only the seventh is new.
    assert [row.run_dir for row in again.rows[:6]] == [row.run_dir for row in first.rows]
    dirs_after = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert set(dirs_after) - set(dirs_before) == {again.rows[6].run_dir.name}
    assert len(pd.read_csv(out / "results.csv")) == 7


def test_bad_spec_is_rejected_before_anything_is_submitted(module_client: Any,
                                                           tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: bad\n"
                    "datasets:\n"
                    "  - iris\n"
                    "  - no-such-dataset\n"
                    "seeds: [1, 2]\n")
    tasks_before = module_client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
    with pytest.raises(SpecError) as caught:
        run_batch(spec, client=module_client, out=tmp_path / "out")
    message = str(caught.value)
    assert message.startswith(f"{spec}:4: datasets[1]: unknown dataset 'no-such-dataset'")
    assert "\n" not in message
    assert not module_client.futures
    assert module_client.run_on_scheduler(
        lambda dask_scheduler: len(dask_scheduler.tasks)) == tasks_before
    assert not (tmp_path / "out").exists()


def test_run_dirs_come_back_without_shared_storage(module_client: Any, tmp_path: Path) -> None:
    """shared=False: the dataset file is shipped to the worker, the run dir is written there
    and sent back, and its paths are rewritten to where it landed."""
    data = tmp_path / "flowers.csv"
    shutil.copy(IRIS, data)
    spec = fast_spec(1)
    spec["datasets"] = [{"path": str(data), "target": "species"}]
    out = tmp_path / "out"
    result = run_batch(spec, client=module_client, out=out, shared=False, progress=False)
    (row,) = result.rows
    assert row.status == "complete", row.error
    assert row.run_dir.parent == out and row.run_dir.name.endswith("-a1")
    manifest = json.loads((row.run_dir / "manifest.json").read_text())
    assert manifest["data_config"]["data_path"] == str(data)
    # Relative to the run dir (a relocatable run) or absolute: either way, where it landed.
    assert row.run_dir / manifest["reproduce"]["workdir"] == row.run_dir / "work" / "run"
    assert not (row.run_dir / "source").exists()  # the labelled source never enters a run dir
    assert (row.run_dir / "run.ipynb").is_file()
    assert is_finished(row.run_dir, row.run.config_hash)


def test_kernels_that_cannot_start_are_the_worker_s_problem(module_client: Any,
                                                             tmp_path: Path) -> None:
    """A run whose notebooks found no kernel on its worker is not failed on its merits: the
    error reaches Dask, which runs it again (here each worker fails its next three kernel
    starts, as many as a pool tries before it gives up; retries=2 allows three attempts)."""
    module_client.run(fail_kernel_starts, 3)
    try:
        result = run_batch(fast_spec(1), client=module_client, out=tmp_path, progress=False)
    finally:
        module_client.run(restore_kernel_starts)
    (row,) = result.rows
    assert row.status == "complete", result.summary()
    assert (row.attempt or 0) >= 2, row  # the first attempt found no kernel, a later one ran
    earlier = [p for p in attempt_dirs(tmp_path, row.run) if p != row.run_dir]
    assert earlier and not any(is_finished(p) for p in earlier)


def test_killed_worker_run_is_retried_and_counted_once(client: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    started = threading.Event()
    box: dict[str, Any] = {}

    def progress(status: Any) -> None:
        if status.running:
            started.set()

    def batch() -> None:
        try:
            box["result"] = run_batch(fast_spec(4), client=client, out=out, progress=progress)
        except BaseException as exc:  # reported by the assertion below
            box["error"] = exc

    pids = client.run(os.getpid)
    thread = threading.Thread(target=batch)
    thread.start()
    try:
        assert started.wait(120), "no run started"
        # Kill a worker whose run has its kernel up (its workflow is under way).
        victim, kernels = None, []
        deadline = time.monotonic() + 120
        while not kernels and time.monotonic() < deadline:
            for address, keys in client.processing().items():
                if keys and address in pids:
                    found = kernel_processes(pids[address])
                    if found:
                        victim, kernels = address, found
                        break
            time.sleep(0.1)
        assert victim is not None, "no worker ever had a kernel running"
        os.kill(pids[victim], signal.SIGKILL)
        # The dead worker's kernels go with it (their launcher watches its host).
        _gone, alive = psutil.wait_procs(kernels, timeout=30)
        assert not [k for k in alive if _running(k)]
    finally:
        thread.join(300)
    assert "error" not in box, box.get("error")
    result = box["result"]
    assert [row.status for row in result.rows] == ["complete"] * 4, result.summary()
    assert any((row.attempt or 0) >= 2 for row in result.rows)  # the killed run, again
    _one_complete_dir_per_run(out, result)
    stale = [p for row in result.rows for p in attempt_dirs(out, row.run) if p != row.run_dir]
    assert stale and not any(is_finished(p) for p in stale)
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 4 and table["run_key"].is_unique


def test_cancelled_task_stops_its_kernels(client: Any, tmp_path: Path) -> None:
    """Cancelling the future reaches the run in the worker's thread: its kernels stop now,
    not when the workflow would have ended, and the worker lives on."""
    (run,) = load_spec(fast_spec(1, pool_size=2) | {"iterations": [{"max_iterations": 5,
                                                                     "quality_threshold": 10,
                                                                     "patience": 0}]}).runs
    key = "deepthinker-test-cancel"
    task = RunTask(run, "test", key, str(tmp_path), shared=True)
    future = client.submit(execute_run, task, key=key, pure=False)
    pids = client.run(os.getpid)
    kernels: list[psutil.Process] = []
    deadline = time.monotonic() + 120
    while not kernels and time.monotonic() < deadline:
        kernels = [k for pid in pids.values() for k in kernel_processes(pid)]
        time.sleep(0.1)
    assert kernels, "the run's kernels never started"
    future.cancel()
    _gone, alive = psutil.wait_procs(kernels, timeout=30)
    assert not [k for k in alive if _running(k)]
    assert all(psutil.pid_exists(pid) for pid in pids.values())
    (run_dir,) = attempt_dirs(tmp_path, run)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(kernel_processes(p) for p in pids.values()):
        time.sleep(0.2)  # the run's thread may start nothing new after its cancellation
    assert not any(kernel_processes(pid) for pid in pids.values())
    assert not is_finished(run_dir)


def test_closed_worker_stops_its_kernels_and_the_run_moves(client: Any, tmp_path: Path) -> None:
    """Scaling down (a worker retired and closed mid-run): the run's kernels stop with it,
    and Dask runs the task again on the other worker, in a new attempt dir."""
    (run,) = load_spec(fast_spec(1)).runs
    key = "deepthinker-test-retire"
    future = client.submit(execute_run, RunTask(run, "test", key, str(tmp_path), shared=True),
                           key=key, pure=False)
    pids = client.run(os.getpid)
    victim, kernels = None, []
    deadline = time.monotonic() + 120
    while not kernels and time.monotonic() < deadline:
        for address, pid in pids.items():
            found = kernel_processes(pid)
            if found:
                victim, kernels = address, found
        time.sleep(0.1)
    assert victim is not None, "the run's kernels never started"
    client.retire_workers([victim], close_workers=True)
    _gone, alive = psutil.wait_procs(kernels, timeout=30)
    assert not [k for k in alive if _running(k)]
    outcome = future.result(timeout=240)
    assert outcome.error is None and outcome.worker != victim
    first, second = attempt_dirs(tmp_path, run)
    assert not is_finished(first) and is_finished(second, run.config_hash)
    assert outcome.run_dir == str(second)


def _running(process: psutil.Process) -> bool:
    """Still running: a zombie (ended, its exit status not yet collected) does not count."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
