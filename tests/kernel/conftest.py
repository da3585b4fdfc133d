from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from deepthinker_nb import KernelSession


@pytest.fixture
def session():
    """A started local kernel with the scanner off: these tests prove the kernel, not the scanner."""
    with KernelSession("local", scan=False) as s:
        yield s


def launcher_processes() -> list[psutil.Process]:
    """Kernels started by our launcher, and anything carrying a kernel token, on this machine."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if "deepthinker_nb.kernel.launcher" in cmdline and proc.pid != os.getpid():
            found.append(proc)
            continue
        try:
            if "DEEPTHINKER_KERNEL_TOKEN" in (proc.environ() or {}):
                found.append(proc)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return [p for p in found if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    import time

    def running(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:  # gone between the listing and the look
            return False

    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if running(p)]
        time.sleep(0.1)
    return alive


class Processes:
    """Process inspection for tests that prove nothing is left behind."""

    launcher_processes = staticmethod(launcher_processes)
    wait_gone = staticmethod(wait_gone)


@pytest.fixture
def procs() -> type[Processes]:
    return Processes


@pytest.fixture
def tmp_workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    return work
