"""Helpers of the batch tests (imported by name: conftest puts this folder on sys.path)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import distributed
import psutil


def fast_spec(seeds: int = 6, **settings: Any) -> dict[str, Any]:
    """``seeds`` runs on the smallest bundled dataset, as fast as the workflow goes: one
    iteration, no simulation, no report, one pooled kernel per run."""
    return {
        "name": "test",
        "datasets": ["iris"],
        "seeds": list(range(1, seeds + 1)),
        "iterations": [{"max_iterations": 1}],
        "settings": {"simulate": False, "report": False, "pool_size": 1, **settings},
    }


@contextlib.contextmanager
def local_cluster(workers: int = 2) -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  protocol="tcp", dashboard_address=":0",
                                  silence_logs=logging.CRITICAL) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def kernel_processes(pid: int) -> list[psutil.Process]:
    """The kernel processes (sandbox and ipykernel launcher) under worker process ``pid``."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue  # ended, not yet reaped by its parent: nothing of it runs
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "deepthinker_nb.kernel.launcher" in cmdline or child.name() == "bwrap":
            found.append(child)
    return found


def fail_kernel_starts(count: int) -> None:
    """Run in a worker (``client.run``): its next ``count`` kernel starts fail, as on a worker
    whose kernel engine is broken; then they start again."""
    from deepthinker_nb.errors import KernelStartError
    from deepthinker_nb.kernel.session import AsyncKernelSession

    original = AsyncKernelSession.__dict__.get("_real_start") or AsyncKernelSession.start
    left = [count]

    async def start(self: AsyncKernelSession) -> AsyncKernelSession:
        if left[0] > 0:
            left[0] -= 1
            raise KernelStartError("this worker cannot start kernels (test)")
        return await original(self)

    AsyncKernelSession._real_start = original  # type: ignore[attr-defined]
    AsyncKernelSession.start = start  # type: ignore[method-assign]


def restore_kernel_starts() -> None:
    from deepthinker_nb.kernel.session import AsyncKernelSession

    original = AsyncKernelSession.__dict__.get("_real_start")
    if original is not None:
        AsyncKernelSession.start = original  # type: ignore[method-assign]
