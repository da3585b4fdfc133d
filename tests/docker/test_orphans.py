"""No container outlives its owner: normal close, a SIGKILLed host process, many pool cycles."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepthinker_nb.config.docker import DockerConfig
from deepthinker_nb.kernel import KernelSession
from deepthinker_nb.kernel.docker.backend import DockerBackend
from deepthinker_nb.kernel.docker.orphans import LABEL_SOCKDIR, OWNER_FILE

pytestmark = pytest.mark.docker

HOST_SCRIPT = """
import sys, time
from deepthinker_nb.kernel import KernelSession
s = KernelSession(backend="docker", scan=False).start()
print("READY", flush=True)
if sys.argv[1] == "hang":
    time.sleep(600)
s.shutdown()
"""


def our_sockdirs(pid: int) -> list[Path]:
    found = []
    for path in Path("/tmp").glob("dtk-*"):
        try:
            if json.loads((path / OWNER_FILE).read_text())["pid"] == pid:
                found.append(path)
        except (OSError, ValueError, KeyError):
            continue
    return found


def still_there(our_containers) -> bool:
    """Whether any of ours remains; one removed between the engine's list and its inspect
    (the pool removes in the background) counts as still there, for one more look."""
    import docker.errors

    try:
        return bool(our_containers(os.getpid()))
    except docker.errors.NotFound:
        return True


def start_host(mode: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOST_SCRIPT, mode], stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    assert line.strip() == "READY", line
    return proc


def test_normal_close_removes_container_and_socket_dir(our_containers, tmp_path):
    session = KernelSession(backend="docker", workdir=tmp_path, scan=False).start()
    assert len(our_containers(os.getpid())) == 1
    assert len(our_sockdirs(os.getpid())) == 1
    session.shutdown()
    assert our_containers(os.getpid()) == []
    assert our_sockdirs(os.getpid()) == []


def test_killed_host_orphan_removed_by_next_start_and_by_gc(our_containers):
    victim = start_host("hang")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    orphans = our_containers(victim.pid)
    assert len(orphans) == 1
    sockdir = orphans[0].labels[LABEL_SOCKDIR]
    assert Path(sockdir).exists()

    # the next process that starts a docker kernel removes it
    nxt = start_host("close")
    assert nxt.wait(timeout=60) == 0
    assert our_containers(victim.pid) == []
    assert not Path(sockdir).exists()

    # `gc` (CLI / backend) does too
    victim = start_host("hang")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert len(our_containers(victim.pid)) == 1
    assert DockerBackend().gc() >= 1
    assert our_containers(victim.pid) == []
    assert our_sockdirs(victim.pid) == []


def test_twenty_pool_cycles_leave_nothing(our_containers):
    from deepthinker_nb.kernel.pool import KernelPool

    pool = KernelPool(size=2, backend="docker", config=DockerConfig(), scan=False)
    pool.start(wait=True)
    try:
        for i in range(20):
            session = pool.acquire(timeout=60)
            assert session.execute(f"print({i})").stdout.strip() == str(i)
            pool.release(session)
    finally:
        pool.close()
    deadline = time.monotonic() + 20
    while still_there(our_containers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert our_containers(os.getpid()) == []
    assert our_sockdirs(os.getpid()) == []
