"""Wall time of one 8-run batch on a LocalCluster of 1 worker vs 2 workers, side by side, and
the same batch through ``deepthinker-nb batch --scheduler`` to a ``dask scheduler`` and
``dask worker`` processes this script starts and stops.

    .venv/bin/python benchmarks/bench_batch.py [--runs 8] [--workers 2] [--repeat 1]

Each run: the bundled iris dataset, one coding iteration, no simulation and no report, a pool
of one kernel (local backend). Target: 2 workers >= 1.5x faster than 1 on a 2-core machine.
CPU seconds per run (kernels, and the host side: the Dask processes) are printed beside the
wall times: they do not stretch when other processes share the machine. Equal CPU per run on 1
and 2 workers means nothing contends; then what bounds the speed-up is how many CPUs one run
keeps busy on its own (its kernels start while another notebook runs), printed too. The
machine's load average is printed: on a shared machine other processes stretch every wall
time, so compare the columns of one run, not runs of different days.
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
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import yaml


class CpuMeter:
    """CPU seconds (user + system) of this process's descendants while it is open: the Dask
    workers (and nannies, scheduler) and every kernel under them, sampled every 0.1 s by pid
    (a process's last 0.1 s before it ends is not seen: kernels live for seconds, so the
    error is a few percent). CPU seconds do not stretch when other processes share the
    machine, so they compare configurations where wall times cannot."""

    INTERVAL = 0.1

    def __init__(self) -> None:
        self._seen: dict[tuple[int, float], tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="cpu-meter")

    def __enter__(self) -> CpuMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            self._sample()

    def _sample(self) -> None:
        for process in psutil.Process().children(recursive=True):
            try:
                key = (process.pid, process.create_time())
                times = process.cpu_times()
                kind = self._seen[key][0] if key in self._seen else _kind(process)
            except psutil.Error:
                continue
            self._seen[key] = (kind, times.user + times.system)

    def seconds(self) -> dict[str, float]:
        """CPU seconds by kind: ``kernel`` (kernels and their sandboxes), ``host`` (the
        rest: Dask's processes, which run the workflow's host side)."""
        totals = {"kernel": 0.0, "host": 0.0}
        for kind, cpu in self._seen.values():
            totals[kind] += cpu
        return totals


def _kind(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    kernel = "deepthinker_nb.kernel.launcher" in command or process.name() == "bwrap"
    return "kernel" if kernel else "host"


def spec(runs: int) -> dict[str, Any]:
    return {"name": "bench", "datasets": ["iris"], "seeds": list(range(1, runs + 1)),
            "iterations": [{"max_iterations": 1}],
            "settings": {"simulate": False, "report": False, "pool_size": 1}}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def local_cluster(runs: int, workers: int) -> dict[str, Any]:
    """Cluster start and batch seconds, CPU seconds of the batch and mean phase times of its
    runs on a LocalCluster of ``workers`` processes."""
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
            client_cpu = time.process_time()
            with CpuMeter() as meter:
                result = run_batch(spec(runs), client=client, out=out, progress=False)
            done = time.perf_counter()
            client_cpu = time.process_time() - client_cpu
        assert result.completed == runs, result.summary()
        phases = phase_means([Path(row.run_dir) for row in result.rows if row.run_dir])
    cpu = meter.seconds()
    return {"start": ready - started, "batch": done - ready, "load": before,
            "run_mean": sum(r.duration or 0 for r in result.rows) / runs,
            "cpu_kernel": cpu["kernel"] / runs, "cpu_host": (cpu["host"] + client_cpu) / runs,
            "phases": phases}


def phase_means(run_dirs: list[Path]) -> dict[str, float]:
    """Mean seconds of each phase of the workflow (the manifests' ``timings``)."""
    totals: dict[str, list[float]] = {}
    for run_dir in run_dirs:
        timings = json.loads((run_dir / "manifest.json").read_text()).get("timings") or {}
        for phase, seconds in timings.items():
            totals.setdefault(phase, []).append(float(seconds))
    return {phase: statistics.mean(v) for phase, v in totals.items() if statistics.mean(v) >= 0.05}


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
            with CpuMeter() as meter:  # the scheduler, the workers, their kernels, the CLI
                done = subprocess.run(
                    [sys.executable, "-m", "deepthinker_nb.cli", "batch", str(spec_file),
                     "--scheduler", address, "--out", str(folder / "out"), "--quiet"],
                    capture_output=True, text=True)
            finished = time.perf_counter()
        if done.returncode != 0:
            raise SystemExit(f"batch --scheduler failed:\n{done.stdout}\n{done.stderr}")
        rows = len((folder / "out" / "results.csv").read_text().splitlines()) - 1
        assert rows == runs, done.stdout
    cpu = meter.seconds()
    return {"start": ready - started, "batch": finished - ready, "load": before,
            "summary": done.stdout.splitlines()[0], "cpu_kernel": cpu["kernel"] / runs,
            "cpu_host": cpu["host"] / runs}


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
    print(f"{'':34} {'start':>7} {'batch':>8} {'per run':>8} {'CPU s/run':>10} "
          f"{'(kernels':>8} {'host)':>6}  load before")
    rows = [(label, row) for one, many in pairs
            for label, row in (("LocalCluster, 1 worker", one),
                               (f"LocalCluster, {args.workers} workers", many))]
    rows.append((f"--scheduler, {args.workers} dask workers (CLI)", remote))
    for label, row in rows:
        per_run = f"{row['run_mean']:7.1f}s" if "run_mean" in row else f"{'':>8}"
        print(f"{label:34} {row['start']:6.1f}s {row['batch']:7.1f}s {per_run} "
              f"{row['cpu_kernel'] + row['cpu_host']:9.2f}s {row['cpu_kernel']:7.2f}s "
              f"{row['cpu_host']:5.2f}s  {row['load']}")
    for label, row in rows:
        if "phases" in row:
            print(f"phases of a run, {label}: " + ", ".join(
                f"{phase} {seconds:.1f}s" for phase, seconds in row["phases"].items()))
    for one, many in pairs:
        busy = (one["cpu_kernel"] + one["cpu_host"]) / (one["batch"] / args.runs)
        growth = ((many["cpu_kernel"] + many["cpu_host"])
                  / (one["cpu_kernel"] + one["cpu_host"]) - 1) * 100
        print(f"one run keeps {busy:.2f} CPUs busy on 1 worker, so {args.workers} workers can "
              f"be at most {min(args.workers, os.cpu_count() or 1) / busy:.2f}x faster; CPU "
              f"per run with {args.workers} workers: {growth:+.0f}% (contention would show here)")
    speedups = sorted(one["batch"] / many["batch"] for one, many in pairs)
    many_batch = statistics.median(many["batch"] for _, many in pairs)
    print(f"speed-up {args.workers} workers vs 1: "
          + ", ".join(f"{x:.2f}x" for x in speedups)
          + f" (median {statistics.median(speedups):.2f}x; target >= 1.5x); --scheduler vs "
            f"LocalCluster of {args.workers}: {remote['batch'] / many_batch:.2f}x the time "
            "(includes the CLI's start)")


if __name__ == "__main__":
    main()
