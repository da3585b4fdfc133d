"""Wall time of one 8-run batch on a LocalCluster of 1 worker vs 2 workers, side by side, and
the same batch through ``deepthinker-nb batch --scheduler`` to a ``dask scheduler`` and
``dask worker`` processes this script starts and stops.

    .venv/bin/python benchmarks/bench_batch.py [--runs 8] [--workers 2] [--repeat 1]

Each run: the bundled iris dataset, one coding iteration, no simulation and no report, a pool
of one kernel (local backend). Target: 2 workers >= 1.5x faster than 1 on a 2-core machine.
A run spends most of its time starting kernels and waiting on them, so a single worker leaves
CPU idle; two workers use it. The machine's load average is printed: on a shared machine other
processes stretch every number, so compare the columns of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


def spec(runs: int) -> dict[str, Any]:
    return {"name": "bench", "datasets": ["iris"], "seeds": list(range(1, runs + 1)),
            "iterations": [{"max_iterations": 1}],
            "settings": {"simulate": False, "report": False, "pool_size": 1}}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def local_cluster(runs: int, workers: int) -> dict[str, Any]:
    """(cluster start, batch) seconds on a LocalCluster of ``workers`` processes."""
    import distributed

    from deepthinker_nb.batch import run_batch

    before = load()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=":0",
                                      silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as client:
            ready = time.perf_counter()
            result = run_batch(spec(runs), client=client, out=out, progress=False)
            done = time.perf_counter()
    assert result.completed == runs, result.summary()
    return {"start": ready - started, "batch": done - ready, "load": before,
            "run_mean": sum(r.duration or 0 for r in result.rows) / runs}


@contextlib.contextmanager
def dask_processes(workers: int, folder: Path) -> Iterator[str]:
    """A ``dask scheduler`` and ``workers`` ``dask worker`` processes; yields the address."""
    dask = Path(sys.executable).with_name("dask")
    scheduler_file = folder / "scheduler.json"
    started: list[subprocess.Popen[bytes]] = []
    logs = open(folder / "dask.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        started.append(subprocess.Popen(
            [str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--dashboard-address", ":0", "--scheduler-file", str(scheduler_file)],
            stdout=logs, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(workers):
            started.append(subprocess.Popen(
                [str(dask), "worker", address, "--nthreads", "1", "--nworkers", "1",
                 "--dashboard-address", ":0"],
                stdout=logs, stderr=subprocess.STDOUT, start_new_session=True))
        import distributed

        with distributed.Client(address) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for process in reversed(started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(started):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        logs.close()


def through_scheduler(runs: int, workers: int) -> dict[str, Any]:
    """The CLI with ``--scheduler`` (its time includes the CLI's process start)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec_file = folder / "bench.yaml"
        spec_file.write_text(yaml.safe_dump(spec(runs)))
        started = time.perf_counter()
        with dask_processes(workers, folder) as address:
            ready = time.perf_counter()
            before = load()
            done = subprocess.run(
                [sys.executable, "-m", "deepthinker_nb.cli", "batch", str(spec_file),
                 "--scheduler", address, "--out", str(folder / "out"), "--quiet"],
                capture_output=True, text=True)
            finished = time.perf_counter()
        if done.returncode != 0:
            raise SystemExit(f"batch --scheduler failed:\n{done.stdout}\n{done.stderr}")
        rows = len((folder / "out" / "results.csv").read_text().splitlines()) - 1
        assert rows == runs, done.stdout
    return {"start": ready - started, "batch": finished - ready, "load": before,
            "summary": done.stdout.splitlines()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1,
                        help="alternate 1-worker and N-worker batches this many times")
    args = parser.parse_args()
    print(f"{args.runs}-run batch (iris, 1 iteration, no simulation/report, pool of 1 kernel); "
          f"{os.cpu_count()} CPUs")
    pairs = []
    for _ in range(args.repeat):  # alternated, so a change in the machine's load hits both
        pairs.append((local_cluster(args.runs, 1), local_cluster(args.runs, args.workers)))
    remote = through_scheduler(args.runs, args.workers)
    print(f"{'':34} {'start':>7} {'batch':>8} {'per run':>8}  load before")
    for one, many in pairs:
        print(f"{'LocalCluster, 1 worker':34} {one['start']:6.1f}s {one['batch']:7.1f}s "
              f"{one['run_mean']:7.1f}s  {one['load']}")
        print(f"{f'LocalCluster, {args.workers} workers':34} {many['start']:6.1f}s "
              f"{many['batch']:7.1f}s {many['run_mean']:7.1f}s  {many['load']}")
    print(f"{f'--scheduler, {args.workers} dask workers (CLI)':34} {remote['start']:6.1f}s "
          f"{remote['batch']:7.1f}s {'':>8}  {remote['load']}")
    speedups = sorted(one["batch"] / many["batch"] for one, many in pairs)
    many_batch = statistics.median(many["batch"] for _, many in pairs)
    print(f"speed-up {args.workers} workers vs 1: "
          + ", ".join(f"{x:.2f}x" for x in speedups)
          + f" (median {statistics.median(speedups):.2f}x; target >= 1.5x); --scheduler vs "
            f"LocalCluster of {args.workers}: {remote['batch'] / many_batch:.2f}x the time "
            "(includes the CLI's start)")


if __name__ == "__main__":
    main()
